"""The benchmark's output: a table on the terminal and one JSON file per run."""

import json
import os
import platform
import sys
from datetime import UTC, datetime

COLUMNS = (
    ("scenario", "{}"),
    ("size", "{:,}"),
    ("wall s", "{:.1f}"),
    ("records/s", "{:,.0f}"),
    ("read", "{:,}"),
    ("search", "{:,}"),
    ("write", "{:,}"),
    ("calls/changed", "{:.2f}"),
    ("429s", "{:,}"),
    ("peak MB", "{:.0f}"),
    ("queries/rec", "{:.3f}"),
    ("CPU µs/rec", "{:,.0f}"),
)


def machine():
    """Describe the machine the figures come from, as measured now."""
    memory_mb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    cpu_model = None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mb": memory_mb,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def row(result):
    figures = result.as_dict()
    kinds = figures["calls_by_kind"]
    values = (
        result.scenario + ("*" if result.scaled_from else ""),
        result.size,
        result.wall_seconds,
        figures["records_per_second"],
        kinds["read"],
        kinds["search"],
        kinds["write"],
        figures["calls_per_changed_record"],
        figures["rate_limited_total"],
        result.peak_memory_mb,
        figures["queries_per_record"] if result.scenario != "baseline" else None,
        figures["cpu_microseconds_per_record"],
    )
    if result.status != "ok":
        return [values[0], f"{result.size:,}", "error"] + [""] * (len(COLUMNS) - 3)
    return ["-" if value is None else template.format(value) for (_, template), value in zip(COLUMNS, values)]


def table(results):
    """Return the results as a plain-text table."""
    rows = [[name for name, _ in COLUMNS]] + [row(result) for result in results]
    widths = [max(len(cells[index]) for cells in rows) for index in range(len(COLUMNS))]
    lines = []
    for number, cells in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) if index == 0 else cell.rjust(width) for index, (cell, width) in enumerate(zip(cells, widths))))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def goal_lines(goals):
    return "\n".join(f"{'PASS' if goal.passed else 'FAIL'}  {goal.goal}: {goal.detail}" for goal in goals)


def document(config, results, goals, started_at, finished_at):
    """Return the JSON document of one benchmark run."""
    return {
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "seconds": round((finished_at - started_at).total_seconds(), 1),
        "machine": machine(),
        "config": {
            "sizes": config.sizes,
            "overlap": config.overlap,
            "agree": config.agree,
            "invoice_months": config.invoice_months,
            "change_share": config.change_share,
            "limited_size": config.limited_size,
            "baseline_sample": config.baseline_sample,
            "seed": config.seed,
        },
        "results": [result.as_dict() for result in results],
        "goals": [goal.as_dict() for goal in goals],
        "all_goals_met": all(goal.passed for goal in goals),
    }


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def default_output_path(base_dir):
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base_dir / "bench-results" / f"bench-{stamp}.json"
