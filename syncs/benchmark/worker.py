"""
One measured step of the benchmark, run as `python -m syncs.benchmark.worker SPEC_FILE`.

The spec is a JSON object:
- {"action": "setup", "sandbox_url": ...} creates the demo workspace and its
  Stripe → HubSpot sync on the benchmark database (not measured);
- {"action": "engine", "sync_id": ...} runs that sync once, measured;
- {"action": "baseline", "sandbox_url": ..., "limit": N or null} runs the
  hand-written script, measured.
The result goes as JSON to the spec's "result" path. The parent sets
DATABASE_URL to the benchmark's own database before starting this process.
"""

import cProfile
import json
import os
import sys
import time


def main(spec_path):
    with open(spec_path, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneprofile.settings")
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("DATABASE_URL is not set: the benchmark worker only runs on the benchmark's own database.")
    import django

    django.setup()
    from django.conf import settings

    # Measure what a production worker does. With DEBUG on (the development
    # default) Django formats every query into text and keeps the last 9,000
    # in memory, which a production worker never pays for.
    settings.DEBUG = False
    actions = {"setup": setup, "engine": run_engine, "baseline": run_baseline}
    action = actions.get(spec["action"])
    if action is None:
        raise SystemExit(f"Unknown benchmark action {spec['action']!r}: use one of {', '.join(actions)}.")
    # Profiled by CPU time, so that waiting for HTTP responses does not show.
    profiler = cProfile.Profile(time.process_time) if spec.get("profile") else None
    if profiler is not None:
        profiler.enable()
    result = action(spec)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    with open(spec["result"], "w", encoding="utf-8") as result_file:
        json.dump(result, result_file)


def setup(spec):
    from syncs.demo import reset_demo_workspace

    _workspace, syncs = reset_demo_workspace(spec["sandbox_url"])
    return {"sync_id": syncs[0].pk}


def run_engine(spec):
    from connections.providers import all_providers
    from syncs.benchmark.measure import measured
    from syncs.demo import run_once, summarize
    from syncs.models import Sync

    sync = Sync.objects.get(pk=spec["sync_id"])
    # A worker process imports the providers once, at its first run, and then
    # runs syncs for hours. That one-off import is not part of a run's cost.
    all_providers()
    with measured() as measurement:
        run = run_once(sync)
    summary = summarize(run)
    summary["api_calls_by_kind"] = dict(run.api_calls or {})
    return {"measurement": measurement.as_dict(), "run": summary}


def run_baseline(spec):
    from syncs.benchmark.baseline import BaselineScript
    from syncs.benchmark.measure import measured

    script = BaselineScript(spec["sandbox_url"], limit=spec.get("limit"))
    with measured(count_queries=False) as measurement:
        counts = script.run()
    return {"measurement": measurement.as_dict(), "run": counts}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m syncs.benchmark.worker SPEC_FILE")
    main(sys.argv[1])
