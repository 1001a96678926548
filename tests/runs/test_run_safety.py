import gc
import threading

import pytest
from django.db import connections
from django.utils import timezone

from connections.models import Connection
from syncs import runner, services
from syncs.models import Direction, FieldMapping, RecordFailure, Run, Sync
from syncs.runner import execute_run
from syncs.services import start_run
from syncs.tasks import recover_stale_runs, run_scheduled_sync
from tests.runs.memory_provider import KilledWorker, MemoryProvider


def seed(tools, count):
    for number in range(count):
        tools["billing"].add(f"b{number}", f"p{number}@example.com", plan="pro", seats=number)
        tools["crm"].add(f"c{number}", f"p{number}@example.com", plan="starter", seats=number)


def test_killed_run_resumes_without_losing_or_repeating(sync, tools, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_RECORDS", 3)
    seed(tools, 9)
    # Each batch of 3 records makes two write calls of 2 and 1 records; the
    # worker dies during the second batch's writes.
    tools["crm"].crash_after_writes = 3
    with pytest.raises(KilledWorker):
        start_run(sync, Run.Trigger.MANUAL)
    run = Run.objects.get()
    assert run.status == Run.Status.RUNNING
    Sync.objects.filter(pk=sync.pk).update(lease_expires_at=timezone.now())

    tools["crm"].crash_after_writes = None
    recover_stale_runs()

    run.refresh_from_db()
    plans = {record["values"]["plan"] for record in tools["crm"].records.values()}
    assert run.status == Run.Status.SUCCEEDED
    assert plans == {"pro"}
    assert len(tools["crm"].written_ids) == len(set(tools["crm"].written_ids)) == 9


def test_run_held_by_another_worker_is_left_alone(sync, tools):
    seed(tools, 2)
    run = Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL)
    assert sync.claim("other-worker", lease_seconds=600)

    execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED
    assert tools["crm"].written_ids == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_starting_one_sync_make_one_run(sync, monkeypatch):
    monkeypatch.setattr(services, "enqueue", lambda run: None)
    barrier = threading.Barrier(2)
    results = []

    def start():
        try:
            barrier.wait()
            results.append(start_run(sync, Run.Trigger.SCHEDULE))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Run.objects.filter(sync=sync).count() == 1
    assert sorted(created for _run, created in results) == [False, True]


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_one_sync_get_one_lease(sync):
    barrier = threading.Barrier(2)
    claimed = []

    def claim(owner):
        try:
            barrier.wait()
            claimed.append(Sync.objects.get(pk=sync.pk).claim(owner, lease_seconds=600))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == [False, True]


def test_connection_needing_reauth_blocks_sync_with_one_error(sync, tools):
    seed(tools, 3)
    Connection.objects.filter(pk=sync.connection_b_id).update(
        status=Connection.Status.NEEDS_REAUTH, last_error="Memory tool no longer accepts this connection."
    )

    run, _ = start_run(sync, Run.Trigger.MANUAL)

    run.refresh_from_db()
    sync.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == "Memory tool no longer accepts this connection."
    assert run.error_category == "authorisation"
    assert sync.status == Sync.Status.BLOCKED
    assert RecordFailure.objects.count() == 0


def test_blocked_sync_skips_scheduled_runs(sync, tools):
    sync.block("Reconnect the CRM.")

    run_scheduled_sync(sync.pk)

    assert Run.objects.count() == 0


def test_transient_failure_retries_on_next_run(sync, tools):
    seed(tools, 2)
    tools["crm"].fail_writes["c1"] = ("rate_limited", "Rate limited by the CRM")
    start_run(sync, Run.Trigger.MANUAL)
    failure = RecordFailure.objects.get()
    assert failure.next_retry_at is not None
    del tools["crm"].fail_writes["c1"]
    RecordFailure.objects.filter(pk=failure.pk).update(next_retry_at=timezone.now())

    start_run(sync, Run.Trigger.SCHEDULE)

    failure.refresh_from_db()
    assert failure.status == RecordFailure.Status.RESOLVED
    assert tools["crm"].records["c1"]["values"]["plan"] == "pro"


def test_rejected_value_waits_for_a_member(sync, tools):
    seed(tools, 1)
    tools["crm"].fail_writes["c0"] = ("rejected_value", "Rejected")

    start_run(sync, Run.Trigger.MANUAL)

    assert RecordFailure.objects.get().next_retry_at is None


def test_two_way_sync_does_not_echo(sync, tools):
    FieldMapping.objects.create(sync=sync, direction=Direction.B_TO_A, source_field="tier", destination_field="tier")
    seed(tools, 2)
    tools["crm"].change("c0", tier="pro")
    start_run(sync, Run.Trigger.MANUAL)
    writes = len(tools["billing"].written_ids) + len(tools["crm"].written_ids)

    run, _ = start_run(sync, Run.Trigger.MANUAL)

    run.refresh_from_db()
    assert len(tools["billing"].written_ids) + len(tools["crm"].written_ids) == writes
    assert run.updated_count == 0


def test_create_policy_creates_missing_records(sync, tools):
    Sync.objects.filter(pk=sync.pk).update(policy=Sync.Policy.CREATE)
    sync.refresh_from_db()
    tools["billing"].add("b-new", "new@example.com", plan="pro", seats=3)

    run, _ = start_run(sync, Run.Trigger.MANUAL)

    run.refresh_from_db()
    created = [record for record in tools["crm"].records.values() if record["email"] == "new@example.com"]
    assert run.created_count == 1
    assert created[0]["values"] == {"plan": "pro", "seats": 3}


def test_shared_email_across_batches_is_not_overwritten(sync, tools, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_RECORDS", 3)
    seed(tools, 3)
    tools["billing"].add("b-twin", "p0@example.com", plan="starter", seats=99)

    start_run(sync, Run.Trigger.MANUAL)

    failure = RecordFailure.objects.get()
    assert tools["crm"].records["c0"]["values"]["seats"] == 0
    assert failure.category == "duplicate"
    assert failure.source_record_id == "b-twin"
    assert "b0" in failure.message


def test_run_tunes_the_garbage_collector_and_restores_it(sync, tools, monkeypatch):
    seed(tools, 3)
    seen = []
    write = MemoryProvider.write

    def write_and_look(*args, **kwargs):
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        return write(*args, **kwargs)

    monkeypatch.setattr(MemoryProvider, "write", write_and_look)
    threshold = gc.get_threshold()

    start_run(sync, Run.Trigger.MANUAL)

    assert seen and set(seen) == {(runner.RUN_COLLECTION_THRESHOLD, True)}
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0


def test_killed_run_restores_the_garbage_collector(sync, tools):
    seed(tools, 3)
    tools["crm"].crash_after_writes = 0
    threshold = gc.get_threshold()

    with pytest.raises(KilledWorker):
        start_run(sync, Run.Trigger.MANUAL)

    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0
