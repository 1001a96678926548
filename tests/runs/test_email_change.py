"""C04: a source record whose email changed must update the record it is linked to, not create a second one."""

from syncs.models import RecordState, Sync
from tests.runs.test_run_writes import run_sync


def test_changed_email_updates_linked_record(sync, tools):
    sync.policy = Sync.Policy.CREATE
    sync.save(update_fields=["policy"])
    tools["billing"].add("b0", "carol@old.example.com", plan="pro", seats=1)
    tools["crm"].add("c0", "carol@old.example.com", plan="starter", seats=1)
    run_sync(sync)
    assert RecordState.objects.get(record_id_a="b0").record_id_b == "c0"

    tools["billing"].records["b0"]["email"] = "carol@new.example.com"
    tools["billing"].change("b0", plan="enterprise")
    run_sync(sync)

    assert sorted(tools["crm"].records) == ["c0"]
    assert tools["crm"].records["c0"]["values"]["plan"] == "enterprise"
