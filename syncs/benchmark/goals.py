"""
The goals the benchmark checks, each judged from figures of the same run.

A goal whose figures are missing (a scenario that failed or was not run)
is reported as FAIL with the reason, never as a pass.
"""

import math
from dataclasses import dataclass

# A second run with nothing changed reads the field lists and the change
# feed, a handful of requests whatever the size. It also reads a few
# requests per record in its change window, because the Stripe provider
# re-reads the last 5 minutes of events and seeding leaves recent events.
NO_CHANGE_FIXED_READS = 10
NO_CHANGE_READS_PER_RECORD = 4
# Runs reading fewer records are left out of the queries-per-record goal: a
# run's fixed cost of a few dozen queries would dominate them.
QUERIES_GOAL_MIN_RECORDS = 1000
HUBSPOT_WRITE_BATCH = 100
MIN_CALLS_ADVANTAGE = 50
MIN_INITIAL_SPEEDUP = 10
MAX_RATE_LIMITED_SHARE = 0.01
MIN_LIMIT_THROUGHPUT_SHARE = 0.9
MAX_PEAK_MEMORY_MB = 250
MAX_MEMORY_GROWTH = 2
MAX_QUERIES_PER_RECORD = 0.1
MIN_RECORDS_PER_CPU_SECOND = 5000


@dataclass
class GoalResult:
    goal: str
    passed: bool
    detail: str

    def as_dict(self):
        return {"goal": self.goal, "passed": self.passed, "detail": self.detail}


def find(results, scenario, size):
    for result in results:
        if result.scenario == scenario and result.size == size and result.status == "ok":
            return result
    return None


def missing(goal, scenario, size):
    return GoalResult(goal, False, f"no figures: the {scenario} scenario at {size:,} did not finish")


def evaluate(results, sizes, limited_size):
    """Return a GoalResult per goal and size."""
    goals = []
    for size in sizes:
        goals.append(no_change_goal(results, size))
        goals.extend(one_percent_goals(results, size))
        goals.append(initial_speed_goal(results, size))
        goals.append(queries_goal(results, size))
        goals.append(cpu_goal(results, size))
    if limited_size:
        goals.extend(limited_goals(results, limited_size))
    goals.extend(memory_goals(results, sizes))
    return goals


def no_change_goal(results, size):
    goal = (
        f"no-change run at {size:,}: 0 writes, reads ≤ {NO_CHANGE_FIXED_READS} + "
        f"{NO_CHANGE_READS_PER_RECORD} per record changed since the cursor"
    )
    run = find(results, "no_change", size)
    if run is None:
        return missing(goal, "no_change", size)
    writes = run.total_calls("write")
    reads = run.total_calls("read") + run.total_calls("search")
    allowed = NO_CHANGE_FIXED_READS + NO_CHANGE_READS_PER_RECORD * run.records
    return GoalResult(
        goal,
        writes == 0 and reads <= allowed,
        f"{writes} writes, {reads} reads for {run.records} records in the change window (allowed {allowed})",
    )


def one_percent_goals(results, size):
    run = find(results, "one_percent", size)
    baseline = find(results, "baseline", size)
    write_goal = f"1% run at {size:,}: HubSpot writes ≤ ceil(changed / {HUBSPOT_WRITE_BATCH})"
    calls_goal = f"1% run at {size:,}: ≥ {MIN_CALLS_ADVANTAGE}× fewer calls than the baseline"
    if run is None:
        return [missing(write_goal, "one_percent", size), missing(calls_goal, "one_percent", size)]
    allowed = math.ceil(run.changed_records / HUBSPOT_WRITE_BATCH)
    writes = run.total_calls("write", "hubspot")
    goals = [GoalResult(write_goal, writes <= allowed, f"{writes} writes for {run.changed_records} changed, allowed {allowed}")]
    if baseline is None:
        goals.append(missing(calls_goal, "baseline", size))
        return goals
    advantage = baseline.total_calls() / max(run.total_calls(), 1)
    goals.append(
        GoalResult(
            calls_goal,
            advantage >= MIN_CALLS_ADVANTAGE,
            f"{run.total_calls():,} calls against {baseline.total_calls():,}: {advantage:.1f}×"
            + (f" (baseline scaled from {baseline.scaled_from:,} customers)" if baseline.scaled_from else ""),
        )
    )
    return goals


def initial_speed_goal(results, size):
    goal = f"initial sync at {size:,}: ≥ {MIN_INITIAL_SPEEDUP}× faster than the baseline"
    run = find(results, "initial", size)
    baseline = find(results, "baseline", size)
    if run is None:
        return missing(goal, "initial", size)
    if baseline is None:
        return missing(goal, "baseline", size)
    speedup = baseline.wall_seconds / run.wall_seconds
    return GoalResult(
        goal,
        speedup >= MIN_INITIAL_SPEEDUP,
        f"{run.wall_seconds:.1f} s against {baseline.wall_seconds:.1f} s: {speedup:.1f}×"
        + (f" (baseline scaled from {baseline.scaled_from:,} customers)" if baseline.scaled_from else ""),
    )


def limited_goals(results, size):
    share_goal = f"rate limits at {size:,}: ≤ {MAX_RATE_LIMITED_SHARE:.0%} of requests answered 429"
    speed_goal = f"rate limits at {size:,}: throughput ≥ {MIN_LIMIT_THROUGHPUT_SHARE:.0%} of what the limits allow"
    run = find(results, "limited", size)
    if run is None:
        return [missing(share_goal, "limited", size), missing(speed_goal, "limited", size)]
    figures = run.derived()
    share = figures["rate_limited_share"] or 0.0
    throughput = figures["limit_throughput_share"] or 0.0
    return [
        GoalResult(share_goal, share <= MAX_RATE_LIMITED_SHARE, f"{figures['rate_limited_total']} of {figures['calls_total']} ({share:.2%})"),
        GoalResult(
            speed_goal,
            throughput >= MIN_LIMIT_THROUGHPUT_SHARE,
            f"{figures['limit_bound_seconds']:.1f} s allowed by the limits, {run.wall_seconds:.1f} s taken ({throughput:.0%})",
        ),
    ]


def engine_runs(results, size):
    return [r for r in results if r.size == size and r.scenario in ("initial", "no_change", "one_percent") and r.status == "ok"]


def memory_goals(results, sizes):
    largest, smallest = max(sizes), min(sizes)
    absolute_goal = f"peak memory at {largest:,} < {MAX_PEAK_MEMORY_MB} MB"
    peaks = {size: max((r.peak_memory_mb for r in engine_runs(results, size)), default=None) for size in sizes}
    if peaks[largest] is None:
        return [missing(absolute_goal, "initial", largest)]
    goals = [GoalResult(absolute_goal, peaks[largest] < MAX_PEAK_MEMORY_MB, f"{peaks[largest]:.0f} MB")]
    if largest != smallest:
        growth_goal = f"peak memory at {largest:,} < {MAX_MEMORY_GROWTH}× the peak at {smallest:,}"
        if peaks[smallest] is None:
            goals.append(missing(growth_goal, "initial", smallest))
        else:
            goals.append(
                GoalResult(
                    growth_goal,
                    peaks[largest] < MAX_MEMORY_GROWTH * peaks[smallest],
                    f"{peaks[largest]:.0f} MB against {peaks[smallest]:.0f} MB",
                )
            )
    return goals


def queries_goal(results, size):
    goal = f"database queries per record at {size:,} ≤ {MAX_QUERIES_PER_RECORD}"
    runs = [r for r in engine_runs(results, size) if r.records >= QUERIES_GOAL_MIN_RECORDS]
    if not runs:
        return GoalResult(goal, False, f"no engine run at {size:,} read {QUERIES_GOAL_MIN_RECORDS:,} records or more")
    worst = max(runs, key=lambda r: r.queries / r.records)
    value = worst.queries / worst.records
    return GoalResult(goal, value <= MAX_QUERIES_PER_RECORD, f"worst {value:.3f} ({worst.scenario}: {worst.queries} queries, {worst.records} records)")


def cpu_goal(results, size):
    goal = f"engine CPU at {size:,}: ≥ {MIN_RECORDS_PER_CPU_SECOND:,} records per CPU second"
    run = find(results, "initial", size)
    if run is None:
        return missing(goal, "initial", size)
    rate = run.records / run.cpu_seconds if run.cpu_seconds else float("inf")
    return GoalResult(
        goal,
        rate >= MIN_RECORDS_PER_CPU_SECOND,
        f"{rate:,.0f} records per CPU second ({run.cpu_seconds:.2f} s CPU for {run.records:,} records, initial run)",
    )
