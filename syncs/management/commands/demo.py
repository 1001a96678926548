"""Show Oneprofile doing its main job against the sandbox, with nothing to sign up for."""

import json
import logging
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from connections.providers.types import FAILURE_LABELS, FailureCategory
from sandbox.server import SandboxServer
from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from syncs.demo import DEMO_EMAIL, DEMO_PASSWORD, reset_demo_workspace, run_once, summarize


class Command(BaseCommand):
    help = (
        "Start the sandbox, set up the demo workspace with sandbox connections and "
        "syncs, run each sync once and serve the site with a worker cluster."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Address and port of the site.")
        parser.add_argument("--sandbox-port", type=int, default=8100, help="Port of the sandbox; 0 picks a free one.")
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run each sync twice without serving, print the outcomes and exit.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object per run.")

    def handle(self, *args, addrport, sandbox_port, once, json, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The demo needs the sandbox, which is off: set DEBUG=true and SANDBOX_ENABLED=true.")
        self.as_json = json
        # One log line per API call would bury the summary.
        for name in ("connections.http", "syncs.runner", "syncs.services", "django-q", "sandbox"):
            logging.getLogger(name).setLevel(logging.WARNING)
        sandbox = SandboxServer(port=sandbox_port)
        try:
            sandbox.start()
        except OSError as exc:
            raise CommandError(
                f"The sandbox could not listen on port {sandbox_port}: {exc.strerror}. "
                f"Stop whatever uses it, or pass --sandbox-port 0."
            ) from None
        self.point_new_connections_at(sandbox.url)
        try:
            workspace, syncs = reset_demo_workspace(sandbox.url)
            failed = self.run_syncs(syncs, times=2 if once else 1)
            if once:
                if failed:
                    raise CommandError(failed)
                if not json:
                    self.stdout.write(
                        "\nEach second run read only what changed since the first and wrote nothing."
                        "\nRun `make demo` to open the site and see the failures with their reasons."
                    )
                return
            self.serve(workspace, addrport, sandbox.url)
        finally:
            sandbox.stop()

    def point_new_connections_at(self, sandbox_url):
        """Make connections created on the pages during the demo reach the sandbox, OAuth included."""
        for provider in ("stripe", "hubspot", "zendesk", "mailchimp"):
            settings.PROVIDER_BASE_URLS[provider] = settings.PROVIDER_BASE_URLS.get(provider) or f"{sandbox_url}/{provider}"
            client = settings.OAUTH_CLIENTS.setdefault(provider, {})
            if not client.get("client_id"):
                client.update(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET)

    def run_syncs(self, syncs, times):
        """Run each sync `times` times and print each outcome; returns an error text, or "" when all went well."""
        problems = []
        for sync in syncs:
            for attempt in range(1, times + 1):
                summary = summarize(run_once(sync))
                self.report(summary, attempt)
                if summary["status"] == "failed":
                    problems.append(f"{sync.name}: {summary['error']}")
                if attempt > 1 and summary["api_calls"]["write"]:
                    problems.append(
                        f"{sync.name}: the second run made {summary['api_calls']['write']} write calls instead of 0"
                    )
        return "; ".join(problems)

    def report(self, summary, attempt):
        summary = {"attempt": attempt, **summary}
        if self.as_json:
            self.stdout.write(json.dumps(summary))
            return
        failures = ", ".join(
            f"{count} {FAILURE_LABELS[FailureCategory(category)].lower()}"
            for category, count in summary["failures_by_category"].items()
        )
        self.stdout.write(
            f"{summary['sync']}, run {attempt}: {summary['status']} in {summary['seconds']} s\n"
            f"  read {summary['read']}, matched {summary['matched']}, updated {summary['updated']}, "
            f"unchanged {summary['unchanged']}, not found in the destination {summary['unmatched']}, "
            f"failed {summary['failed']}"
            + (f" ({failures})" if failures else "")
            + f"\n  API calls: {summary['api_calls']['read']} reads, {summary['api_calls']['write']} writes"
        )

    def serve(self, workspace, addrport, sandbox_url):
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        # OAuth redirect URIs and email links must point at this server.
        settings.SITE_URL = f"http://{host}"
        self.stdout.write(
            self.style.SUCCESS("\nOneprofile demo is ready.")
            + f"\n  Open:      http://{host}{workspace.get_absolute_url()}"
            + f"\n  Email:     {DEMO_EMAIL}"
            + f"\n  Password:  {DEMO_PASSWORD}"
            + f"\n  Sandbox:   {sandbox_url} (stand-ins for Stripe, HubSpot, Zendesk and Mailchimp)"
            + "\n  Next: open Syncs, then the sync's failures to see why some records were not written,"
            + "\n  fix the plan value map in the sync editor and retry them.\n"
        )
        environment = {
            **os.environ,
            "STRIPE_BASE_URL": f"{sandbox_url}/stripe",
            "HUBSPOT_BASE_URL": f"{sandbox_url}/hubspot",
            "ZENDESK_BASE_URL": f"{sandbox_url}/zendesk",
            "MAILCHIMP_BASE_URL": f"{sandbox_url}/mailchimp",
            "SITE_URL": settings.SITE_URL,
        }
        # The cluster gets its own process group, so that stopping the demo
        # stops the cluster's worker processes too.
        workers = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=environment,
            start_new_session=True,
        )
        # SIGTERM (from kill or a process manager) ends the demo like Ctrl-C,
        # so the cluster below is stopped instead of left running.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            stop_process_group(workers)


def stop_process_group(process, grace_seconds=10):
    """Ask a process group to stop, and kill it when it is still running after `grace_seconds`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
