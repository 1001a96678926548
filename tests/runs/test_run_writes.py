from syncs.models import FieldChange, RecordFailure, RecordState, Run, SyncCursor
from syncs.runner import execute_run
from syncs.services import start_run


def seed(tools, count=5):
    for number in range(count):
        tools["billing"].add(f"b{number}", f"Person{number}@Example.com", plan="pro", seats=number + 1)
        tools["crm"].add(f"c{number}", f"person{number}@example.com", plan="starter", seats=number + 1)


def run_sync(sync, trigger=Run.Trigger.MANUAL):
    run, _ = start_run(sync, trigger)
    run.refresh_from_db()
    return run


def test_first_run_writes_only_changed_fields(sync, tools):
    seed(tools)

    run = run_sync(sync)

    assert run.status == Run.Status.SUCCEEDED
    assert run.read_count == 5
    assert run.matched_count == 5
    assert run.updated_count == 5
    assert set(FieldChange.objects.values_list("field", flat=True)) == {"plan"}
    assert tools["crm"].records["c0"]["values"]["plan"] == "pro"


def test_second_run_makes_no_writes(sync, tools):
    seed(tools)
    run_sync(sync)
    writes_before = tools["crm"].calls["write"]

    run = run_sync(sync)

    assert tools["crm"].calls["write"] == writes_before
    assert run.read_count == 0
    assert run.api_calls.get("write", 0) == 0


def test_one_changed_field_writes_exactly_that_field(sync, tools):
    seed(tools)
    run_sync(sync)
    tools["billing"].change("b3", seats=40)
    changes_before = FieldChange.objects.count()

    run = run_sync(sync)

    new_changes = list(FieldChange.objects.order_by("-pk")[: FieldChange.objects.count() - changes_before])
    assert run.read_count == 1
    assert run.updated_count == 1
    assert [(change.record_key, change.field, change.new_value) for change in new_changes] == [
        ("person3@example.com", "seats", "40")
    ]


def test_rejected_record_fails_alone(sync, tools):
    seed(tools, 3)
    tools["crm"].fail_writes["c1"] = ("rejected_value", "CRM rejected 'pro' for plan")

    run = run_sync(sync)

    failure = RecordFailure.objects.get()
    assert run.status == Run.Status.PARTIAL
    assert run.updated_count == 2
    assert run.failed_count == 1
    assert failure.record_key == "person1@example.com"
    assert failure.category == "rejected_value"
    assert failure.values == {"plan": "pro"}


def test_retry_resolves_failure_once_write_succeeds(sync, tools):
    seed(tools, 3)
    tools["crm"].fail_writes["c1"] = ("rejected_value", "CRM rejected 'pro' for plan")
    run_sync(sync)
    del tools["crm"].fail_writes["c1"]

    retry_run = RecordFailure.objects.get().retry()

    retry_run.refresh_from_db()
    assert retry_run.trigger == Run.Trigger.RETRY
    assert RecordFailure.objects.get().status == RecordFailure.Status.RESOLVED
    assert tools["crm"].records["c1"]["values"]["plan"] == "pro"


def test_record_without_email_fails_alone(sync, tools):
    seed(tools, 2)
    tools["billing"].add("b-none", "  ", plan="pro", seats=1)

    run = run_sync(sync)

    failure = RecordFailure.objects.get()
    assert run.updated_count == 2
    assert failure.category == "missing_email"
    assert failure.record_key == "a:b-none"


def test_duplicate_destination_is_not_guessed(sync, tools):
    seed(tools, 2)
    tools["crm"].add("c-dup", "PERSON0@example.com", plan="starter", seats=1)

    run = run_sync(sync)

    failure = RecordFailure.objects.get()
    assert failure.category == "duplicate"
    assert tools["crm"].records["c0"]["values"]["plan"] == "starter"
    assert tools["crm"].records["c-dup"]["values"]["plan"] == "starter"
    assert run.updated_count == 1


def test_record_state_remembers_written_values(sync, tools):
    seed(tools, 1)

    run_sync(sync)

    state = RecordState.objects.get()
    assert state.record_id_a == "b0"
    assert state.record_id_b == "c0"
    assert state.written == {"b": {"plan": "pro"}}


def test_cursor_advances_past_stored_batches(sync, tools):
    seed(tools, 4)

    run_sync(sync)

    assert SyncCursor.objects.get(sync=sync).value == str(tools["billing"].version)


def test_execute_run_twice_runs_once(sync, tools):
    seed(tools, 2)
    run = run_sync(sync)
    writes = tools["crm"].calls["write"]

    execute_run(run.pk)

    assert tools["crm"].calls["write"] == writes


def test_deleted_source_is_marked_and_not_written(sync, tools):
    seed(tools, 2)
    run_sync(sync)
    writes = tools["crm"].calls["write"]
    tools["billing"].version += 1
    tools["billing"].records["b0"].update(version=tools["billing"].version, deleted=True)

    run_sync(sync)

    state = RecordState.objects.get(record_id_a="b0")
    assert state.source_deleted is True
    assert tools["crm"].calls["write"] == writes
