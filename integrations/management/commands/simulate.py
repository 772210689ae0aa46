"""Run the Norce and Fortnox simulators standalone (for trying Brygga against them)."""

from __future__ import annotations

import threading

from django.core.management.base import BaseCommand

from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.server import NorceSimulator


class Command(BaseCommand):
    help = "Run the Norce and Fortnox API simulators until Ctrl-C. Faults: POST /_sim/faults on either."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--norce-port", type=int, default=8701)
        parser.add_argument("--fortnox-port", type=int, default=8702)
        parser.add_argument("--receiver", help="order receiver URL Norce pushes orders to")
        parser.add_argument("--receiver-user", default="norce")
        parser.add_argument("--receiver-password", default="")
        parser.add_argument("--events", help="URL for OrderReceivedEvent webhooks")
        parser.add_argument("--event-secret", default="")
        parser.add_argument("--trickle", type=float, default=0, help="place an order every N seconds")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options):
        fortnox = FortnoxSimulator(options["host"], options["fortnox_port"])
        fortnox.seed_demo()
        norce = NorceSimulator(options["host"], options["norce_port"], seed=options["seed"])
        fortnox.start()
        norce.start()
        if options["receiver"]:
            norce.configure_receiver(options["receiver"], options["receiver_user"], options["receiver_password"])
        if options["events"]:
            norce.configure_events(options["events"], {"X-Brygga-Secret": options["event_secret"]})
        if options["trickle"]:
            norce.start_trickle(options["trickle"], options["seed"], 0.05, 0.03)
        self.stdout.write(f"Norce simulator   {norce.url}\nFortnox simulator {fortnox.url}\nCtrl-C stops.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            norce.stop_trickle()
            norce.stop()
            fortnox.stop()
