from connections.providers.types import FailureCategory
from syncs.models import RecordFailure, RecordState, Run, Sync
from syncs.services import start_run


def run_sync(sync):
    run, _ = start_run(sync, Run.Trigger.MANUAL)
    run.refresh_from_db()
    return run


def linked_pair(sync, tools, deletion_policy):
    """Link billing b1 to crm c1 with one run, and set the sync's deletion policy."""
    tools["billing"].add("b1", "noah@example.com", plan="pro", seats=3)
    tools["crm"].add("c1", "noah@example.com", plan="starter", seats=3)
    sync.deletion_policy = deletion_policy
    sync.save(update_fields=["deletion_policy"])
    run_sync(sync)


def test_archived_source_archives_destination_once(sync, tools):
    tools["billing"].lists_archived = True
    linked_pair(sync, tools, Sync.DeletionPolicy.ARCHIVE)
    tools["billing"].archive("b1")

    first = run_sync(sync)
    second = run_sync(sync)

    assert tools["crm"].archived_ids == ["c1"]
    assert first.status == Run.Status.SUCCEEDED
    assert second.status == Run.Status.SUCCEEDED
    assert RecordState.objects.get(sync=sync, record_id_a="b1").source_deleted is True


def test_deleted_source_archives_destination_once(sync, tools):
    linked_pair(sync, tools, Sync.DeletionPolicy.ARCHIVE)
    tools["billing"].change("b1", plan="enterprise")
    tools["billing"].records["b1"]["deleted"] = True

    run_sync(sync)
    run_sync(sync)

    assert tools["crm"].archived_ids == ["c1"]
    assert tools["crm"].records["c1"]["values"]["plan"] == "pro"


def test_keep_policy_archives_nothing(sync, tools):
    tools["billing"].lists_archived = True
    linked_pair(sync, tools, Sync.DeletionPolicy.KEEP)
    tools["billing"].archive("b1")
    writes_before = tools["crm"].calls["write"]

    run_sync(sync)

    assert tools["crm"].archived_ids == []
    assert tools["crm"].calls["write"] == writes_before
    assert RecordState.objects.get(sync=sync, record_id_a="b1").source_deleted is True


def test_archived_record_never_linked_is_ignored(sync, tools):
    tools["billing"].lists_archived = True
    sync.deletion_policy = Sync.DeletionPolicy.ARCHIVE
    sync.save(update_fields=["deletion_policy"])
    tools["billing"].add("b9", "ghost@example.com", plan="pro", seats=1)
    tools["billing"].archive("b9")
    tools["crm"].add("c9", "ghost@example.com", plan="starter", seats=1)

    run = run_sync(sync)

    assert tools["crm"].archived_ids == []
    assert run.read_count == 0
    assert not RecordState.objects.filter(sync=sync).exists()


def test_archive_failure_is_recorded_and_retried(sync, tools):
    tools["billing"].lists_archived = True
    linked_pair(sync, tools, Sync.DeletionPolicy.ARCHIVE)
    tools["billing"].archive("b1")
    tools["crm"].fail_archives["c1"] = (FailureCategory.REJECTED_VALUE, "Record c1 is locked.")

    run = run_sync(sync)

    failure = RecordFailure.objects.get(sync=sync)
    assert run.status == Run.Status.PARTIAL
    assert failure.record_key == "noah@example.com"
    assert failure.category == FailureCategory.REJECTED_VALUE
    assert failure.message == "Record c1 is locked."
    assert failure.destination_record_id == "c1"
    assert RecordState.objects.get(sync=sync, record_id_a="b1").source_deleted is False

    del tools["crm"].fail_archives["c1"]
    run_sync(sync)

    failure.refresh_from_db()
    assert tools["crm"].archived_ids == ["c1"]
    assert failure.status == RecordFailure.Status.RESOLVED
    assert RecordState.objects.get(sync=sync, record_id_a="b1").source_deleted is True


def test_provider_without_archive_fails_the_record(sync, tools, monkeypatch):
    from connections.providers.base import Provider
    from tests.runs.memory_provider import MemoryProvider

    monkeypatch.setattr(MemoryProvider, "archive", Provider.archive)
    tools["billing"].lists_archived = True
    linked_pair(sync, tools, Sync.DeletionPolicy.ARCHIVE)
    tools["billing"].archive("b1")

    run_sync(sync)

    failure = RecordFailure.objects.get(sync=sync)
    assert failure.category == FailureCategory.REJECTED_VALUE
    assert failure.message == "Memory tool can't archive records; choose 'keep' as the sync's deletion policy."
