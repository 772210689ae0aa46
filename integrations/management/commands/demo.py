"""`make demo`: the whole product on one machine, with simulated Norce, Fortnox and Visma.net.

Two demo merchants: Demo Sportshop (its webshop on a Norce simulator, Fortnox) and Demo Friluft
(its webshop on a second Norce simulator, Visma.net, whose simulated warehouse ships and
invoices its orders)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from integrations.demo import ensure_admin, seed_demo_integration, seed_vismanet_demo_integration
from integrations.models import Integration
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.server import NorceSimulator
from simulators.vismanet.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from simulators.vismanet.server import DEFAULT_TENANT_ID, VismaNetSimulator
from simulators.vismanet.warehouse import Warehouse

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Migrate, create an admin, start simulators, a q cluster and the web server, and trickle demo orders."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--norce-port", type=int, default=8701)
        parser.add_argument("--fortnox-port", type=int, default=8702)
        parser.add_argument("--norce-vismanet-port", type=int, default=8703, help="the Visma.net merchant's Norce")
        parser.add_argument("--vismanet-port", type=int, default=8704)
        parser.add_argument(
            "--warehouse-delay", type=float, default=20.0, help="seconds before Visma.net's warehouse ships an order"
        )
        parser.add_argument("--interval", type=float, default=6.0, help="seconds between demo orders")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **options):
        # Stopped by a service manager (SIGTERM) as by Ctrl-C: the children are stopped too.
        signal.signal(signal.SIGTERM, _interrupt)
        call_command("migrate", verbosity=0)
        # The web server serves static files as in production: collected, compressed, content-hashed.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env={**os.environ, "STATIC_MANIFEST": "true"},
            check=True,
        )
        login = ensure_admin()
        fortnox = FortnoxSimulator("127.0.0.1", options["fortnox_port"])
        fortnox.seed_demo()
        norce = NorceSimulator("127.0.0.1", options["norce_port"], seed=options["seed"])
        # The Visma.net merchant's webshop numbers its orders apart from the first one's.
        norce_visma = NorceSimulator(
            "127.0.0.1", options["norce_vismanet_port"], seed=options["seed"] + 1, first_order_ref=400001
        )
        vismanet = VismaNetSimulator("127.0.0.1", options["vismanet_port"])
        vismanet.seed_demo()
        simulators = [fortnox, norce, norce_visma, vismanet]
        for simulator in simulators:
            simulator.start()
        integration = seed_demo_integration(
            norce_url=norce.url, fortnox_url=fortnox.url, fortnox_grant=fortnox.issue_tokens("fortnox-client")
        )
        visma_integration = seed_vismanet_demo_integration(
            norce_url=norce_visma.url,
            vismanet_url=vismanet.url,
            tenant_id=DEFAULT_TENANT_ID,
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
        )
        site = f"http://127.0.0.1:{options['port']}"
        env = {**os.environ, "SITE_URL": site, "PYTHONUNBUFFERED": "1", "STATIC_MANIFEST": "true"}
        priority = settings.BRYGGA["PRIORITY_CLUSTER"]
        children = [
            subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True),
            # The priority queue's own cluster: the sweeper, schedule rules and fail-safe polls.
            *(
                [
                    subprocess.Popen(
                        [sys.executable, "manage.py", "qcluster"],
                        cwd=ROOT,
                        env={**env, "Q_CLUSTER_NAME": priority},
                        start_new_session=True,
                    )
                ]
                if priority
                else []
            ),
            subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{options['port']}", "--noreload"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
            ),
        ]
        for shop, wired in ((norce, integration), (norce_visma, visma_integration)):
            wire_norce(shop, wired, site)
        erp = visma_integration.connectors.get(role="erp")
        vismanet.configure_webhooks(
            f"{site}/vismanet/{visma_integration.pk}/notifications", secret=erp.credentials["webhook_secret"]
        )
        warehouse = Warehouse(
            vismanet, ship_after=options["warehouse_delay"], invoice_after=options["warehouse_delay"]
        ).start()
        time.sleep(2)
        norce.start_trickle(options["interval"], options["seed"], 0.06, 0.04)
        # The second shop is quieter, and every order it takes is good.
        norce_visma.start_trickle(options["interval"] * 2, options["seed"] + 1)
        self.stdout.write(self.style.SUCCESS("\nBrygga demo is running.\n"))
        self.stdout.write(
            f"  Admin       {site}/admin/\n"
            f"  Username    {login.username}\n"
            f"  Password    {login.password}\n"
            f"  API token   {login.token}   "
            f"(curl -H 'Authorization: Token {login.token}' {site}/api/v1/integrations/)\n"
            f"  API docs    {site}/api/docs/   (schema: {site}/api/schema/)\n"
            f"  Health      {site}/healthz\n"
            f"  Sportshop   Norce {norce.url}  ↔  Fortnox {fortnox.url}\n"
            f"  Friluft     Norce {norce_visma.url}  ↔  Visma.net {vismanet.url}\n"
            f"  Simulators  faults: POST <simulator>/_sim/faults\n\n"
            f"Demo Sportshop takes a webshop order every {options['interval']:g} s, Demo Friluft every "
            f"{options['interval'] * 2:g} s; Friluft's Visma.net warehouse ships and invoices each order after "
            f"{options['warehouse_delay']:g} s. Ctrl-C stops everything.\n"
        )
        try:
            while all(child.poll() is None for child in children):
                time.sleep(1)
            self.stderr.write("A child process exited; stopping the demo.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            norce.stop_trickle()
            norce_visma.stop_trickle()
            warehouse.stop()
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            for simulator in simulators:
                simulator.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def wire_norce(norce: NorceSimulator, integration: Integration, site: str) -> None:
    """Point a Norce simulator's order push and events at the integration's endpoints."""
    commerce = integration.connectors.get(role="commerce")
    norce.configure_receiver(
        f"{site}/norce/{integration.pk}/orders", "norce", commerce.credentials["receiver_password"]
    )
    norce.configure_events(
        f"{site}/norce/{integration.pk}/events", {"X-Brygga-Secret": commerce.credentials["event_secret"]}
    )
