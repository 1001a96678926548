"""Benchmark the sync engine against the sandbox and a hand-written baseline script."""

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from syncs.benchmark import goals as goal_checks
from syncs.benchmark import report
from syncs.benchmark.sandbox_process import SandboxProcessError
from syncs.benchmark.scenarios import BenchConfig, Benchmark, BenchmarkError

DEFAULT_SIZES = [10_000, 100_000]
QUICK_SIZES = [1_000, 5_000]
QUICK_LIMITED_SIZE = 1_000


def parse_sizes(text):
    sizes = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part.isdigit() or int(part) < 1:
            raise CommandError(f"--sizes takes whole numbers of customers above 0, separated by commas; got {part!r} in {text!r}.")
        sizes.append(int(part))
    return sorted(set(sizes))


class Command(BaseCommand):
    help = (
        "Measure the Stripe → HubSpot sync against the sandbox over loopback HTTP, next to a hand-written "
        "script, on a temporary database; print a table and PASS/FAIL per goal and write the figures as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sizes", help="Numbers of Stripe customers to measure at, comma-separated (default 10000,100000).")
        parser.add_argument("--quick", action="store_true", help="Measure at 1,000 and 5,000 customers, with rate limits at 1,000.")
        parser.add_argument("--overlap", type=float, default=0.9, help="Share of HubSpot contacts carrying a Stripe customer's email, 0 to 1 (default 0.9).")
        parser.add_argument("--agree", type=float, default=0.1, help="Share of matched contacts already holding Stripe's values, 0 to 1 (default 0.1).")
        parser.add_argument("--invoice-months", type=int, default=3, help="Months of invoices seeded per subscription (default 3).")
        parser.add_argument("--limited-size", type=int, help="Customers in the run with rate limits enforced; 0 skips it (default 10000, 1000 with --quick).")
        parser.add_argument("--baseline-sample", type=int, default=10_000, help="Above this many customers the baseline runs on this many and is scaled up (default 10000).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the sandbox data (default 0).")
        parser.add_argument("--output", help="JSON file to write (default bench-results/bench-<UTC timestamp>.json).")
        parser.add_argument("--step-timeout", type=float, default=1800, help="Seconds one measured step may take before it counts as failed (default 1800).")
        parser.add_argument("--profile", action="store_true", help="Profile each measured step with cProfile; keeps the work directory with the .pstats files.")
        parser.add_argument("--keep-workdir", action="store_true", help="Keep the temporary directory with the database, specs and logs.")
        parser.add_argument("--check", action="store_true", help="Exit with status 1 when a goal is not met.")

    def handle(self, *args, **options):
        if not getattr(settings, "SANDBOX_ENABLED", False):
            raise CommandError("The benchmark needs the sandbox, which is off: set DEBUG=true and SANDBOX_ENABLED=true.")
        config = self.build_config(options)
        output = Path(options["output"]) if options["output"] else report.default_output_path(Path(settings.BASE_DIR))
        workdir = Path(tempfile.mkdtemp(prefix="oneprofile-bench-"))
        config.workdir = workdir
        config.database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        keep = options["keep_workdir"] or options["profile"]
        started_at = datetime.now(UTC)
        try:
            self.migrate(config)
            results = Benchmark(config, progress=self.stdout.write).run()
        except (BenchmarkError, SandboxProcessError) as exc:
            keep = True
            raise CommandError(f"The benchmark stopped: {exc} (work directory kept: {workdir})") from None
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        goals = goal_checks.evaluate(results, config.sizes, config.limited_size)
        data = report.document(config, results, goals, started_at, datetime.now(UTC))
        report.write_json(output, data)

        self.stdout.write("\n" + report.table(results))
        if any(result.scaled_from for result in results):
            self.stdout.write("* baseline run on a sample of customers, figures scaled to the whole size")
        self.stdout.write("\n" + report.goal_lines(goals))
        self.stdout.write(f"\nFigures written to {output}" + (f"; work directory: {workdir}" if keep else ""))
        if options["check"] and not data["all_goals_met"]:
            raise CommandError("Some benchmark goals were not met (see FAIL above).")

    def build_config(self, options):
        if options["quick"] and options["sizes"]:
            raise CommandError("--quick picks its own sizes (1,000 and 5,000); pass either --quick or --sizes.")
        sizes = DEFAULT_SIZES
        if options["quick"]:
            sizes = QUICK_SIZES
        elif options["sizes"]:
            sizes = parse_sizes(options["sizes"])
        for name in ("overlap", "agree"):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} must be between 0 and 1, got {options[name]}.")
        for name in ("invoice_months", "baseline_sample"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be 1 or more, got {options[name]}.")
        limited_size = options["limited_size"]
        if limited_size is None:
            limited_size = QUICK_LIMITED_SIZE if options["quick"] else 10_000
        if limited_size < 0:
            raise CommandError(f"--limited-size must be 0 (skip) or more, got {limited_size}.")
        if options["step_timeout"] <= 0:
            raise CommandError(f"--step-timeout must be a number of seconds above 0, got {options['step_timeout']}.")
        return BenchConfig(
            sizes=sizes,
            overlap=options["overlap"],
            agree=options["agree"],
            invoice_months=options["invoice_months"],
            limited_size=limited_size,
            baseline_sample=options["baseline_sample"],
            seed=options["seed"],
            step_timeout=options["step_timeout"],
            profile=options["profile"],
        )

    def migrate(self, config):
        """Create the benchmark's own database, so the developer's data is never touched."""
        self.stdout.write(f"Migrating the benchmark database {config.database_url} …")
        completed = subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "migrate", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": config.database_url},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise BenchmarkError(f"migrate on the benchmark database failed:\n{completed.stderr[-2000:]}")
