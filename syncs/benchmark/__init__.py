"""
The benchmark behind `manage.py bench`: the sync engine against the sandbox over loopback HTTP.

The sandbox runs in its own process (sandbox_process.py). Each measured
step runs in its own child process (worker.py), so that its peak memory and
CPU time are its own. The engine's database is a temporary SQLite file that
the command migrates first. scenarios.py runs the steps, baseline.py is
the hand-written script the engine is compared with, goals.py judges the
figures and report.py prints and stores them.
"""
