"""`make demo`: the whole product on one machine, with simulated Norce and Fortnox."""

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

from integrations.demo import ensure_admin, seed_demo_integration
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.server import NorceSimulator

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Migrate, create an admin, start simulators, a q cluster and the web server, and trickle demo orders."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--norce-port", type=int, default=8701)
        parser.add_argument("--fortnox-port", type=int, default=8702)
        parser.add_argument("--interval", type=float, default=6.0, help="seconds between demo orders")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **options):
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
        fortnox.start()
        norce.start()
        integration = seed_demo_integration(
            norce_url=norce.url, fortnox_url=fortnox.url, fortnox_grant=fortnox.issue_tokens("fortnox-client")
        )
        commerce = integration.connectors.get(role="commerce")
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
        norce.configure_receiver(
            f"{site}/norce/{integration.pk}/orders", "norce", commerce.credentials["receiver_password"]
        )
        norce.configure_events(
            f"{site}/norce/{integration.pk}/events", {"X-Brygga-Secret": commerce.credentials["event_secret"]}
        )
        time.sleep(2)
        norce.start_trickle(options["interval"], options["seed"], 0.06, 0.04)
        self.stdout.write(self.style.SUCCESS("\nBrygga demo is running.\n"))
        self.stdout.write(
            f"  Admin       {site}/admin/\n"
            f"  Username    {login.username}\n"
            f"  Password    {login.password}\n"
            f"  API token   {login.token}   "
            f"(curl -H 'Authorization: Token {login.token}' {site}/api/v1/integrations/)\n"
            f"  API docs    {site}/api/docs/   (schema: {site}/api/schema/)\n"
            f"  Health      {site}/healthz\n"
            f"  Simulators  Norce {norce.url}  Fortnox {fortnox.url}  (faults: POST /_sim/faults)\n\n"
            f"A new webshop order arrives every {options['interval']:g} s. Ctrl-C stops everything.\n"
        )
        try:
            while all(child.poll() is None for child in children):
                time.sleep(1)
            self.stderr.write("A child process exited; stopping the demo.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            norce.stop_trickle()
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            norce.stop()
            fortnox.stop()
