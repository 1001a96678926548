"""
Measurements taken inside a child process: wall time, CPU time, peak memory, database queries.

Each measured step runs in a process of its own, so the peak resident set
size (VmHWM in /proc/self/status) is that step's own. Its CPU time excludes
the sandbox, which serves from another process, and HTTP waits, which are
off-CPU.
"""

import resource
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class Measurement:
    """Figures of one measured step."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    memory_before_mb: float = 0.0
    queries: int = 0
    extra: dict = field(default_factory=dict)

    def as_dict(self):
        return asdict(self)


def peak_memory_mb():
    """Return this process's peak resident set size in MB (VmHWM, or ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class QueryCounter:
    """A database execute wrapper that counts the queries sent through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def measured(count_queries=True):
    """Measure the block: yields a Measurement that is complete when the block ends."""
    measurement = Measurement(memory_before_mb=peak_memory_mb())
    counter = QueryCounter()
    wrapper = None
    if count_queries:
        from django.db import connection

        wrapper = connection.execute_wrapper(counter)
        wrapper.__enter__()
    started_wall = time.perf_counter()
    started_cpu = time.process_time()
    try:
        yield measurement
    finally:
        measurement.cpu_seconds = time.process_time() - started_cpu
        measurement.wall_seconds = time.perf_counter() - started_wall
        if wrapper is not None:
            wrapper.__exit__(None, None, None)
        measurement.queries = counter.count
        measurement.peak_memory_mb = peak_memory_mb()
