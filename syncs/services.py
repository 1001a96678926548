"""Starting runs: the one way pages, the API, the admin and the scheduler queue work."""

import logging

from django.db import transaction
from django_q.tasks import async_task

from syncs.models import RecordFailure, Run, Sync

logger = logging.getLogger(__name__)

EXECUTE_TASK = "syncs.tasks.execute_run_task"


def start_run(sync, trigger, failures=None, queue=True):
    """
    Queue a run of `sync` and return (run, created).

    While a scheduled or manual run is queued or running, asking again
    returns that run instead of a second one, so that any number of
    workers, clicks or missed schedule slots give one run. A retry run is
    queued behind it and starts when the sync is free. With `queue`
    false the caller executes the run itself, as the demo does.
    """
    with transaction.atomic():
        locked = Sync.objects.select_for_update().get(pk=sync.pk)
        pending = locked.runs.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
        if trigger != Run.Trigger.RETRY:
            existing = pending.exclude(trigger=Run.Trigger.RETRY).first()
            if existing is not None:
                return existing, False
        run = Run.objects.create(
            sync=locked,
            trigger=trigger,
            retry_failure_ids=[failure.pk for failure in failures or []],
        )
        if failures:
            RecordFailure.objects.filter(pk__in=run.retry_failure_ids).update(status=RecordFailure.Status.RETRYING)
    logger.info("Created %s run %s of sync %s", trigger, run.pk, sync.pk)
    if queue:
        enqueue(run)
    return run, True


def enqueue(run):
    async_task(EXECUTE_TASK, run.pk, task_name=f"run-{run.pk}", group=f"sync-{run.sync_id}")


def retry_failures(sync, failures):
    """Queue one retry run for the given failures of `sync`; returns the run, or None when none can retry."""
    failures = list(
        failures.filter(sync=sync, status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING])
    )
    if not failures:
        return None
    run, _ = start_run(sync, Run.Trigger.RETRY, failures)
    return run
