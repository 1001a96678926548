"""django-q2 entry points. Each takes ids and reads the rest from the database."""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from syncs.models import Run, Sync
from syncs.runner import execute_run
from syncs.services import enqueue, start_run

logger = logging.getLogger(__name__)

# A queued run that no worker took for this long is queued again.
QUEUED_GRACE = timedelta(minutes=2)


def run_scheduled_sync(sync_id):
    """Start the scheduled run of a sync, unless it is paused, blocked, disabled or already running."""
    sync = Sync.objects.filter(pk=sync_id).first()
    if sync is None or not sync.enabled or sync.status != Sync.Status.ACTIVE:
        return None
    run, _ = start_run(sync, Run.Trigger.SCHEDULE)
    sync.schedule_next()
    return run.pk


def execute_run_task(run_id):
    if not Run.objects.filter(pk=run_id).exists():
        # The sync, and its runs, were deleted while the task waited.
        logger.warning("Run %s no longer exists; its queued task is skipped", run_id)
        return None
    return execute_run(run_id).status


def recover_stale_runs():
    """Queue again the runs whose worker died (lease expired) and the queued runs no worker took."""
    now = timezone.now()
    free_lease = Q(sync__lease_expires_at__isnull=True) | Q(sync__lease_expires_at__lt=now)
    stale = Run.objects.filter(free_lease, status=Run.Status.RUNNING)
    waiting = Run.objects.filter(free_lease, status=Run.Status.QUEUED, created_at__lt=now - QUEUED_GRACE)
    recovered = 0
    for run in list(stale) + list(waiting):
        logger.warning("Resuming run %s of sync %s (status %s) left without a worker", run.pk, run.sync_id, run.status)
        enqueue(run)
        recovered += 1
    return recovered


def send_failure_digests():
    from syncs.alerts import send_failure_digests as send

    return send()
