"""
django-q2 schedules derived from syncs.

Each active, enabled sync has exactly one django-q2 Schedule row, named
"sync:<id>", written from the sync whenever it is saved, so those rows are
never edited by hand. The cluster runs with catch_up off, so slots missed while no
worker was up collapse into one run. Two housekeeping schedules recover runs
left behind by dead workers and send the failure digests.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

logger = logging.getLogger(__name__)

SYNC_TASK = "syncs.tasks.run_scheduled_sync"
HOUSEKEEPING = {
    "oneprofile:recover-stale-runs": ("syncs.tasks.recover_stale_runs", 1),
    "oneprofile:failure-digests": ("syncs.tasks.send_failure_digests", 15),
}


def schedule_name(sync):
    return f"sync:{sync.pk}"


def remove_schedule(sync):
    Schedule.objects.filter(name=schedule_name(sync)).delete()


def update_schedule(sync):
    """Create, change or delete the sync's django-q2 Schedule so that it matches the sync."""
    name = schedule_name(sync)
    if not (sync.enabled and sync.status == sync.Status.ACTIVE):
        remove_schedule(sync)
        return None
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(name=name).first()
        if schedule is None:
            schedule = Schedule(name=name, func=SYNC_TASK, next_run=sync.next_run_at or timezone.now())
        schedule.func = SYNC_TASK
        schedule.args = repr((sync.pk,))
        schedule.schedule_type = Schedule.MINUTES
        # Validation caps intervals at a week; the cap here keeps a row
        # saved some other way from breaking django-q2's whole scheduler.
        schedule.minutes = min(sync.interval_minutes, sync.MAX_INTERVAL_MINUTES)
        schedule.repeats = -1
        schedule.save()
        # Pages and the API show the sync's next run; keep it equal to the schedule's.
        type(sync).objects.filter(pk=sync.pk).update(next_run_at=schedule.next_run)
        sync.next_run_at = schedule.next_run
    return schedule


def ensure_housekeeping_schedules():
    """Create the housekeeping schedules if they are missing; safe to call at every start."""
    for name, (func, minutes) in HOUSEKEEPING.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
