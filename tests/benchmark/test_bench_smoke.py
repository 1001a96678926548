"""
Smoke test of `manage.py bench` at a tiny size: it runs and writes valid JSON with every metric.

Not a timed test: the figures at this size do not judge the goals.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

SCENARIOS = {"baseline", "initial", "no_change", "one_percent", "limited"}
METRICS = {
    "wall_seconds",
    "records_per_second",
    "calls_by_kind",
    "calls_per_changed_record",
    "rate_limited_total",
    "rate_limited_share",
    "peak_memory_mb",
    "queries_per_record",
    "cpu_microseconds_per_record",
    "records_per_cpu_second",
    "limit_throughput_share",
}


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory):
    """Run the benchmark once at 200 customers and return (terminal output, JSON document)."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    output = StringIO()
    call_command("bench", sizes="200", limited_size=200, invoice_months=1, output=str(path), stdout=output)
    return output.getvalue(), json.loads(path.read_text())


@pytest.mark.live_http
def test_bench_runs_every_scenario(bench_output):
    _, document = bench_output
    scenarios = {result["scenario"] for result in document["results"]}
    assert scenarios == SCENARIOS


@pytest.mark.live_http
def test_bench_scenarios_all_finish(bench_output):
    _, document = bench_output
    failed = {result["scenario"]: result["error"] for result in document["results"] if result["status"] != "ok"}
    assert failed == {}


@pytest.mark.live_http
def test_bench_json_has_every_metric(bench_output):
    _, document = bench_output
    for result in document["results"]:
        assert METRICS <= set(result), result["scenario"]


@pytest.mark.live_http
def test_bench_counts_calls_by_kind(bench_output):
    _, document = bench_output
    initial = next(result for result in document["results"] if result["scenario"] == "initial")
    assert initial["calls_by_kind"]["read"] > 0
    assert initial["calls_by_kind"]["write"] > 0
    assert initial["queries"] > 0
    assert initial["peak_memory_mb"] > 0


@pytest.mark.live_http
def test_bench_second_run_writes_nothing(bench_output):
    _, document = bench_output
    second = next(result for result in document["results"] if result["scenario"] == "no_change")
    assert second["calls_by_kind"]["write"] == 0


@pytest.mark.live_http
def test_bench_records_machine_and_goals(bench_output):
    _, document = bench_output
    assert document["machine"]["cpus"] >= 1
    assert document["machine"]["python"].startswith("3.")
    assert {goal["passed"] for goal in document["goals"]} <= {True, False}
    assert len(document["goals"]) == 9


@pytest.mark.live_http
def test_bench_prints_table_and_verdicts(bench_output):
    terminal, _ = bench_output
    assert "queries/rec" in terminal
    assert "PASS" in terminal or "FAIL" in terminal


def test_bench_rejects_bad_sizes():
    with pytest.raises(CommandError, match="--sizes takes whole numbers"):
        call_command("bench", sizes="10k")


def test_bench_rejects_quick_with_sizes():
    with pytest.raises(CommandError, match="pass either --quick or --sizes"):
        call_command("bench", sizes="100", quick=True)


def test_bench_rejects_overlap_out_of_range():
    with pytest.raises(CommandError, match="--overlap must be between 0 and 1, got 1.5"):
        call_command("bench", overlap=1.5)
