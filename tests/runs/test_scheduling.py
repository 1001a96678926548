from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from syncs.models import Run, Sync
from syncs.scheduling import schedule_name
from syncs.services import start_run
from syncs.tasks import run_scheduled_sync


def test_sync_schedule_follows_its_interval(sync):
    sync.interval_minutes = 30
    sync.save()

    schedule = Schedule.objects.get(name=schedule_name(sync))
    assert schedule.func == "syncs.tasks.run_scheduled_sync"
    assert schedule.minutes == 30
    assert schedule.args == f"({sync.pk},)"


def test_paused_sync_has_no_schedule(sync):
    sync.pause()

    assert not Schedule.objects.filter(name=schedule_name(sync)).exists()


def test_resumed_sync_gets_schedule_back(sync):
    sync.pause()

    sync.resume()

    assert Schedule.objects.filter(name=schedule_name(sync)).exists()


def test_deleted_sync_removes_schedule(sync):
    name = schedule_name(sync)

    sync.delete()

    assert not Schedule.objects.filter(name=name).exists()


def test_housekeeping_schedules_exist_after_migrate(db):
    names = set(Schedule.objects.values_list("name", flat=True))

    assert {"oneprofile:recover-stale-runs", "oneprofile:failure-digests"} <= names


def test_missed_slots_coalesce_into_one_run(sync, monkeypatch):
    from syncs import services

    monkeypatch.setattr(services, "enqueue", lambda run: None)
    Sync.objects.filter(pk=sync.pk).update(next_run_at=timezone.now() - timedelta(hours=3))

    for _slot in range(12):
        run_scheduled_sync(sync.pk)

    assert Run.objects.filter(sync=sync).count() == 1


def test_manual_run_while_scheduled_run_waits_returns_it(sync, monkeypatch):
    from syncs import services

    monkeypatch.setattr(services, "enqueue", lambda run: None)
    scheduled, _ = start_run(sync, Run.Trigger.SCHEDULE)

    manual, created = start_run(sync, Run.Trigger.MANUAL)

    assert manual == scheduled
    assert created is False


def test_next_run_follows_schedule_after_scheduled_run(sync, monkeypatch):
    from syncs import services

    monkeypatch.setattr(services, "enqueue", lambda run: None)
    later = timezone.now() + timedelta(minutes=15)
    Schedule.objects.filter(name=schedule_name(sync)).update(next_run=later)

    run_scheduled_sync(sync.pk)

    sync.refresh_from_db()
    assert sync.next_run_at == later


def test_queued_task_of_deleted_run_is_skipped(sync):
    from syncs.tasks import execute_run_task

    assert execute_run_task(987654) is None
