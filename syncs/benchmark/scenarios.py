"""
The benchmark's scenarios, run against sandboxes in their own processes.

Per size:
- baseline: the hand-written script (baseline.py) on freshly seeded data,
  over every customer, or over the first `baseline_sample` customers with
  its figures scaled to the whole size;
- initial: the engine's first run of the Stripe → HubSpot sync of five
  fields, on the same freshly seeded data (most values differ);
- no_change: a second run with nothing changed anywhere;
- one_percent: a run after the subscription status of 1% of the customers
  changed in Stripe (the sandbox records the events Stripe would emit).
Once, at `limited_size`: limited, the initial run again on fresh data with
the sandbox enforcing HubSpot's and Stripe's published rate limits.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from syncs.benchmark.sandbox_process import SandboxProcess

logger = logging.getLogger(__name__)

# Published limits the sandbox enforces: HubSpot 100 requests per rolling
# 10 s per token (Free and Starter), Stripe 25 requests per second in test mode.
PUBLISHED_LIMITS_PER_SECOND = {"hubspot": 100 / 10, "stripe": 25.0}
TOOLS = ("stripe", "hubspot")
KINDS = ("read", "search", "write")


class BenchmarkError(RuntimeError):
    """A step of the benchmark could not run; the message names the step and the reason."""


@dataclass
class BenchConfig:
    """Settings of one benchmark run; the defaults are `manage.py bench`'s."""

    sizes: list
    overlap: float = 0.9
    agree: float = 0.1
    invoice_months: int = 3
    change_share: float = 0.01
    limited_size: int = 10_000
    baseline_sample: int = 10_000
    seed: int = 0
    step_timeout: float = 1800.0
    workdir: Path = None
    # The migrated SQLite database that each size's steps start from a copy of.
    database_url: str = ""
    profile: bool = False


@dataclass
class ScenarioResult:
    """The figures of one scenario at one size, as stored in the JSON file."""

    scenario: str
    size: int
    status: str = "ok"
    error: str = ""
    records: int = 0
    changed_records: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    queries: int = 0
    calls: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)
    rate_limited: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    scaled_from: int = 0

    def as_dict(self):
        data = dict(vars(self))
        data.update(self.derived())
        return data

    def total_calls(self, kind=None, tool=None):
        return sum(
            count
            for name, count in self.calls.items()
            if (tool is None or name.split()[0] == tool) and (kind is None or name.split()[1] == kind)
        )

    def derived(self):
        total = self.total_calls()
        limited = sum(self.rate_limited.values())
        return {
            "records_per_second": ratio(self.records, self.wall_seconds),
            "calls_total": total,
            "calls_by_kind": {kind: self.total_calls(kind) for kind in KINDS},
            "calls_per_changed_record": ratio(total, self.changed_records),
            "rate_limited_total": limited,
            "rate_limited_share": ratio(limited, total),
            "queries_per_record": ratio(self.queries, self.records),
            "cpu_microseconds_per_record": ratio(self.cpu_seconds * 1_000_000, self.records),
            "records_per_cpu_second": ratio(self.records, self.cpu_seconds),
            "limit_bound_seconds": limit_bound_seconds(self.calls),
            "limit_throughput_share": ratio(limit_bound_seconds(self.calls), self.wall_seconds),
        }


def ratio(numerator, denominator):
    if not denominator:
        return None
    return numerator / denominator


def limit_bound_seconds(calls):
    """
    Return the least time the published limits allow for these calls, one request at a time.

    Each tool's calls take at least calls / limit seconds, and a client that
    sends one request at a time (as the engine does) adds the tools up.
    NOTE: this ignores the burst a rolling window allows at the start (HubSpot
    lets the first 100 requests through at once), so it is an estimate.
    """
    return sum(
        sum(count for name, count in calls.items() if name.split()[0] == tool) / rate
        for tool, rate in PUBLISHED_LIMITS_PER_SECOND.items()
    )


class Benchmark:
    """Run every scenario of a BenchConfig and collect ScenarioResults."""

    def __init__(self, config, progress=None):
        self.config = config
        self.progress = progress or (lambda message: None)
        self.results = []
        self.step_number = 0
        self.database_url = config.database_url

    def run(self):
        for size in self.config.sizes:
            self.run_baseline(size)
            self.run_engine(size)
        if self.config.limited_size:
            self.run_limited(self.config.limited_size)
        return self.results

    # Sandboxes and workers ----------------------------------------------

    def sandbox(self, size, rate_limits=False):
        return SandboxProcess(
            rate_limits=rate_limits,
            seed=self.config.seed,
            customers=size,
            contacts=round(size * 0.9),
            overlap=self.config.overlap,
            agree=self.config.agree,
            invoice_months=self.config.invoice_months,
        )

    def start_sandbox(self, size, rate_limits=False):
        started = time.perf_counter()
        self.progress(f"Seeding a sandbox with {size:,} customers{' and rate limits' if rate_limits else ''} …")
        sandbox = self.sandbox(size, rate_limits).start()
        self.progress(f"  ready in {time.perf_counter() - started:.1f} s at {sandbox.url}")
        return sandbox

    def run_worker(self, spec, label):
        """Run one step in a child process and return its JSON result; raises BenchmarkError."""
        self.step_number += 1
        workdir = Path(self.config.workdir)
        stem = f"{self.step_number:02d}-{label}"
        spec = {**spec, "result": str(workdir / f"{stem}.result.json")}
        if self.config.profile and spec["action"] != "setup":
            spec["profile"] = str(workdir / f"{stem}.pstats")
        spec_path = workdir / f"{stem}.spec.json"
        spec_path.write_text(json.dumps(spec))
        log_path = workdir / f"{stem}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "oneprofile.settings",
        }
        with open(log_path, "w", encoding="utf-8") as log:
            try:
                completed = subprocess.run(
                    [sys.executable, "-m", "syncs.benchmark.worker", str(spec_path)],
                    cwd=settings.BASE_DIR,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=self.config.step_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise BenchmarkError(
                    f"{label} did not finish within {self.config.step_timeout:.0f} s (see {log_path}); "
                    "raise --step-timeout or pick smaller --sizes."
                ) from None
        if completed.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise BenchmarkError(f"{label} failed with exit code {completed.returncode}; end of {log_path}:\n{tail}")
        return json.loads(Path(spec["result"]).read_text())

    def measure(self, sandbox, result, spec, label):
        """Run a measured step with fresh counters and fill `result` with its figures."""
        sandbox.call("reset_counters")
        try:
            output = self.run_worker(spec, label)
        except BenchmarkError as exc:
            result.status = "error"
            result.error = str(exc)
            logger.error("Benchmark step %s failed: %s", label, exc)
            self.results.append(result)
            return None
        counters = sandbox.call("counters")
        measurement = output["measurement"]
        result.wall_seconds = measurement["wall_seconds"]
        result.cpu_seconds = measurement["cpu_seconds"]
        result.peak_memory_mb = measurement["peak_memory_mb"]
        result.queries = measurement["queries"]
        result.calls = {name: count for name, count in counters["kinds"].items() if name.split()[1] in KINDS}
        result.endpoints = counters["endpoints"]
        result.rate_limited = counters["rate_limited"]
        result.run = output["run"]
        self.results.append(result)
        self.progress(
            f"  {result.scenario} at {result.size:,}: {result.wall_seconds:.1f} s, "
            f"{result.total_calls()} calls, {sum(result.rate_limited.values())} answered 429"
        )
        return output

    # Scenarios ------------------------------------------------------------

    def run_baseline(self, size):
        limit = size if size <= self.config.baseline_sample else self.config.baseline_sample
        with self.start_sandbox(size) as sandbox:
            result = ScenarioResult("baseline", size)
            output = self.measure(sandbox, result, {"action": "baseline", "sandbox_url": sandbox.url, "limit": limit}, f"baseline-{size}")
        if output is None:
            return
        result.records = result.run["customers"]
        result.changed_records = result.run["updated"]
        if result.records < size:
            scale_result(result, size / result.records)

    def fresh_database(self, label):
        """
        Start the next steps on a copy of the migrated database.

        Each size starts from a fresh database, as from a fresh sandbox, so
        that no size inherits another's rows, free pages or write-ahead log.
        """
        template = Path(self.config.database_url.removeprefix("sqlite:///"))
        copy = template.with_name(f"{template.stem}-{label}{template.suffix}")
        shutil.copyfile(template, copy)
        self.database_url = f"sqlite:///{copy}"

    def run_engine(self, size):
        self.fresh_database(str(size))
        with self.start_sandbox(size) as sandbox:
            sync_id = self.run_worker({"action": "setup", "sandbox_url": sandbox.url}, f"setup-{size}")["sync_id"]
            spec = {"action": "engine", "sync_id": sync_id}
            initial = self.engine_step(sandbox, "initial", size, spec)
            if initial is None:
                return
            self.engine_step(sandbox, "no_change", size, spec)
            changed = sandbox.call("change_subscription_status", share=self.config.change_share)
            self.progress(f"  changed the subscription status of {len(changed):,} customers")
            self.engine_step(sandbox, "one_percent", size, spec, changed=len(changed))

    def run_limited(self, size):
        self.fresh_database(f"limited-{size}")
        with self.start_sandbox(size, rate_limits=True) as sandbox:
            sync_id = self.run_worker({"action": "setup", "sandbox_url": sandbox.url}, f"setup-limited-{size}")["sync_id"]
            self.engine_step(sandbox, "limited", size, {"action": "engine", "sync_id": sync_id})

    def engine_step(self, sandbox, scenario, size, spec, changed=None):
        result = ScenarioResult(scenario, size)
        output = self.measure(sandbox, result, spec, f"{scenario}-{size}")
        if output is None:
            return None
        run = output["run"]
        result.records = run["read"]
        result.changed_records = changed if changed is not None else run["updated"] + run["created"]
        if run["status"] == "failed":
            result.status = "error"
            result.error = f"The run failed: {run['error']}"
        return result


def scale_result(result, factor):
    """Scale a sampled baseline to the whole size: time, calls and counts grow linearly with customers."""
    result.scaled_from = result.records
    result.records = round(result.records * factor)
    result.changed_records = round(result.changed_records * factor)
    result.wall_seconds *= factor
    result.cpu_seconds *= factor
    result.calls = {name: round(count * factor) for name, count in result.calls.items()}
    result.endpoints = {name: round(count * factor) for name, count in result.endpoints.items()}
    result.rate_limited = {name: round(count * factor) for name, count in result.rate_limited.items()}
