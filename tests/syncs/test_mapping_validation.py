"""save_sync(): the checks shared by the sync editor and the API, and that a rejected sync stores nothing."""

import pytest

from accounts.models import Plan
from connections.models import Connection
from syncs.models import Direction, FieldMapping, RecordState, Sync, SyncCursor
from syncs.validation import MappingData, SyncData, SyncInvalid, save_sync
from tests.syncs import billing, crm, fake_accounts, foreign_connection, make_connection, mapping_rows, sync  # noqa: F401


def sync_data(billing, crm, mappings=None, **overrides):
    values = {
        "name": "Billing to CRM",
        "connection_a": billing,
        "object_a": "customer",
        "connection_b": crm,
        "object_b": "contact",
        "mappings": mappings if mappings is not None else [MappingData("name", "name")],
    }
    values.update(overrides)
    return SyncData(**values)


def rejected(workspace, data, sync=None):
    with pytest.raises(SyncInvalid) as caught:
        save_sync(workspace, data, sync=sync)
    return caught.value.problems


def messages(problems):
    return [problem.message for problem in problems]


def test_valid_sync_is_created_with_mappings(workspace, billing, crm, owner):
    data = sync_data(billing, crm, [MappingData("name", "name"), MappingData("plan", "tier", transform={"value_map": {"pro": "gold"}})])

    sync = save_sync(workspace, data, user=owner)

    assert sync.workspace == workspace
    assert sync.created_by == owner
    assert mapping_rows(sync) == [
        ("a_to_b", "name", "name", {}),
        ("a_to_b", "plan", "tier", {"value_map": {"pro": "gold"}}),
    ]


def test_mapping_stores_field_snapshots(workspace, billing, crm):
    sync = save_sync(workspace, sync_data(billing, crm, [MappingData("plan", "tier")]))

    mapping = sync.mappings.get()
    assert mapping.source_spec["type"] == "enumeration"
    assert mapping.source_spec["options"] == {"pro": "Pro", "starter": "Starter"}
    assert mapping.destination_spec["name"] == "tier"


def test_connection_public_ids_are_accepted(workspace, billing, crm):
    sync = save_sync(workspace, sync_data(billing, crm, connection_a=str(billing.public_id), connection_b=str(crm.public_id)))

    assert sync.connection_a == billing


def test_unknown_source_field_names_field_and_choices(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, [MappingData("nickname", "name")]))

    assert problems[0].index == 0
    assert problems[0].mapping_field == "source_field"
    assert "has no field 'nickname'" in problems[0].message
    assert "email, mrr, name, plan" in problems[0].message
    assert Sync.objects.count() == 0


def test_unknown_destination_field_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, [MappingData("name", "full_name")]))

    assert problems[0].mapping_field == "destination_field"
    assert "Faketool contacts (Crm) has no field 'full_name'" in problems[0].message


def test_field_written_by_two_mappings_is_rejected(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("name", "name"), MappingData("email", "name")])

    problems = rejected(workspace, data)

    assert problems[0].index == 1
    assert "which mapping 1 already writes" in problems[0].message
    assert FieldMapping.objects.count() == 0


def test_two_way_pair_on_one_field_is_rejected(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("name", "name"), MappingData("name", "name", Direction.B_TO_A)])

    problems = rejected(workspace, data)

    assert len(problems) == 1
    assert "each side would be the source of truth" in problems[0].message


def test_two_directions_on_different_fields_are_accepted(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("name", "name"), MappingData("tier", "plan", Direction.B_TO_A, {"value_map": {"gold": "pro"}})])

    sync = save_sync(workspace, data)

    assert sync.mappings.count() == 2


def test_read_only_destination_is_rejected(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("created", "mrr", Direction.B_TO_A)])

    problems = rejected(workspace, data)

    assert problems[0].mapping_field == "destination_field"
    assert "MRR (mrr) is read-only" in problems[0].message


def test_value_map_to_missing_option_is_rejected(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("plan", "tier", transform={"value_map": {"pro": "platinum"}})])

    problems = rejected(workspace, data)

    assert problems[0].mapping_field == "transform"
    assert "'platinum'" in problems[0].message
    assert "allowed values are gold, silver" in problems[0].message


def test_invalid_transform_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, [MappingData("name", "name", transform={"scale": "lots"})]))

    assert "scale must be a number" in problems[0].message


def test_interval_below_plan_minimum_is_rejected(workspace, billing, crm):
    minimum = workspace.plan.min_interval_minutes

    problems = rejected(workspace, sync_data(billing, crm, interval_minutes=minimum - 1))

    assert problems[0].field == "interval_minutes"
    assert f"choose {minimum} minutes or more" in problems[0].message


def test_interval_below_one_minute_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, interval_minutes=0))

    assert "at least 1 minute" in problems[0].message


def test_interval_that_is_not_a_number_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, interval_minutes="soon"))

    assert "'soon' is not a whole number" in problems[0].message


def test_connection_of_other_workspace_is_unknown(workspace, billing, foreign_connection):
    problems = rejected(workspace, sync_data(billing, foreign_connection))

    assert problems[0].field == "connection_b"
    assert f"No connection with id '{foreign_connection.public_id}' exists in this workspace" in problems[0].message
    assert "Globex" not in problems[0].message


def test_connection_needing_reauthorisation_is_rejected(workspace, billing):
    stale = make_connection(workspace, "stale", status=Connection.Status.NEEDS_REAUTH)

    problems = rejected(workspace, sync_data(billing, stale))

    assert "needs re-authorisation" in problems[0].message


def test_unknown_object_lists_objects(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, object_b="deal"))

    assert problems[0].field == "object_b"
    assert "Faketool has no object 'deal'. Choose one of: customer, contact." == problems[0].message


def test_identical_sides_are_rejected(workspace, billing):
    problems = rejected(workspace, sync_data(billing, billing, object_b="customer"))

    assert "Both sides are Faketool customers of Billing" in problems[0].message


def test_same_connection_with_other_object_is_accepted(workspace, billing):
    sync = save_sync(workspace, sync_data(billing, billing))

    assert sync.object_b == "contact"


def test_sync_without_mappings_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, []))

    assert "Add at least one field mapping" in problems[0].message


def test_plan_sync_limit_applies_on_create(workspace, billing, crm):
    Plan.objects.filter(pk=workspace.plan_id).update(max_syncs=1)
    workspace.refresh_from_db()
    save_sync(workspace, sync_data(billing, crm))

    problems = rejected(workspace, sync_data(billing, crm, name="Second"))

    assert "allows 1 syncs per workspace" in problems[0].message
    assert Sync.objects.count() == 1


def test_every_problem_is_reported_at_once(workspace, billing, crm):
    data = sync_data(billing, crm, [MappingData("nickname", "name"), MappingData("plan", "tier", transform={"value_map": {"pro": "x"}})], name="", interval_minutes=0)

    problems = rejected(workspace, data)

    assert {problem.field for problem in problems} == {"name", "interval_minutes", "mappings"}
    assert {problem.index for problem in problems if problem.field == "mappings"} == {0, 1}


def test_rejected_edit_keeps_old_mappings(workspace, sync, billing, crm):
    before = mapping_rows(sync)

    rejected(workspace, sync_data(billing, crm, [MappingData("name", "nickname")], name="Renamed"), sync=sync)

    sync.refresh_from_db()
    assert mapping_rows(sync) == before
    assert sync.name == "Billing to CRM"


def test_edit_replaces_all_mappings(workspace, sync, billing, crm):
    save_sync(workspace, sync_data(billing, crm, [MappingData("email", "phone")]), sync=sync)

    assert mapping_rows(sync) == [("a_to_b", "email", "phone", {})]


def test_changed_mappings_reset_that_direction_cursor(workspace, sync, billing, crm):
    SyncCursor.objects.create(sync=sync, direction=Direction.A_TO_B, value="7")

    save_sync(workspace, sync_data(billing, crm, [MappingData("email", "phone")]), sync=sync)

    assert not SyncCursor.objects.filter(sync=sync).exists()


def test_unchanged_mappings_keep_cursor(workspace, sync, billing, crm):
    SyncCursor.objects.create(sync=sync, direction=Direction.A_TO_B, value="7")
    mappings = [MappingData("name", "name"), MappingData("plan", "tier", transform={"value_map": {"pro": "gold", "starter": "silver"}})]

    save_sync(workspace, sync_data(billing, crm, mappings, name="Renamed"), sync=sync)

    assert SyncCursor.objects.get(sync=sync).value == "7"


def test_changed_side_forgets_record_links(workspace, sync, billing):
    RecordState.objects.create(sync=sync, record_key="ana@example.com", record_id_a="cus_1", record_id_b="c_1")
    SyncCursor.objects.create(sync=sync, direction=Direction.A_TO_B, value="7")
    other_crm = make_connection(workspace, "other-crm")

    save_sync(workspace, sync_data(billing, other_crm, [MappingData("name", "name"), MappingData("plan", "tier", transform={"value_map": {"pro": "gold", "starter": "silver"}})]), sync=sync)

    assert not RecordState.objects.filter(sync=sync).exists()
    assert not SyncCursor.objects.filter(sync=sync).exists()


def test_interval_over_a_week_is_rejected(workspace, billing, crm):
    problems = rejected(workspace, sync_data(billing, crm, interval_minutes=1_000_000_000_000))

    assert problems[0].field == "interval_minutes"
    assert "at most 10080 minutes" in problems[0].message
    assert Sync.objects.count() == 0
