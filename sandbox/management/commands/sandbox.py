"""Serve the sandbox (local Stripe and HubSpot stand-ins) in the foreground."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.server import SandboxServer, describe

class Command(BaseCommand):
    help = "Serve local stand-ins for the Stripe and HubSpot APIs, with sample data, until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8100, help="TCP port to listen on; 0 picks a free one (default 8100).")
        parser.add_argument("--no-rate-limits", action="store_true", help="Serve without the tools' rate limits.")
        parser.add_argument("--customers", type=int, default=500, help="Stripe customers to seed (default 500).")
        parser.add_argument("--contacts", type=int, default=None,
                            help="HubSpot contacts to seed (default 90%% of --customers).")
        parser.add_argument("--overlap", type=float, default=0.9,
                            help="Share of contacts whose email belongs to a Stripe customer, 0 to 1 (default 0.9).")
        parser.add_argument("--agree", type=float, default=0.5,
                            help="Share of matched contacts that already hold Stripe's values, 0 to 1 (default 0.5).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the sample data; the same seed gives the same data.")

    def handle(self, *args, **options):
        if not getattr(settings, "SANDBOX_ENABLED", False):
            raise CommandError(
                "The sandbox is disabled: SANDBOX_ENABLED is false in these settings. "
                "It serves fake tool APIs and must never run in production; set DEBUG=true and "
                "SANDBOX_ENABLED=true in a development environment to use it."
            )
        for name in ("customers", "contacts"):
            if options[name] is not None and options[name] < 0:
                raise CommandError(f"--{name} must be zero or more, got {options[name]}.")
        for name in ("overlap", "agree"):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name} must be between 0 and 1, got {options[name]}.")
        server = SandboxServer(
            host=options["host"],
            port=options["port"],
            rate_limits=not options["no_rate_limits"],
            seed=options["seed"],
            customers=options["customers"],
            contacts=options["contacts"],
            overlap=options["overlap"],
            agree=options["agree"],
        )
        try:
            server.bind()
        except OSError as error:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {error}. Pick another --port.") from error
        self.stdout.write(f"Sandbox serving on {server.url} (Ctrl-C to stop)")
        self.stdout.write(describe(server))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Sandbox stopped.")
