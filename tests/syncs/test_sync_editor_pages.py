"""The two-step sync editor: picking sides, mapping fields, and rejecting bad mappings without storing anything."""

import pytest
from django.urls import reverse

from accounts.models import Plan
from syncs.forms import side_value
from syncs.models import FieldMapping, Sync
from tests.syncs import billing, crm, fake_accounts, foreign_connection, mapping_rows, sync  # noqa: F401


def new_url(workspace):
    return reverse("syncs:new", args=[workspace.public_id])


def edit_url(sync):
    return reverse("syncs:edit", args=[sync.workspace.public_id, sync.public_id])


def mapping_post(billing, crm, rows, **overrides):
    """Return step 2 POST data: settings plus one formset row per (field_a, direction, field_b, value_map)."""
    data = {
        "step": "mappings",
        "side_a": side_value(billing, "customer"),
        "side_b": side_value(crm, "contact"),
        "name": "Billing to CRM",
        "interval_minutes": "30",
        "policy": "update_only",
        "enabled": "on",
        "mappings-TOTAL_FORMS": str(len(rows)),
        "mappings-INITIAL_FORMS": "0",
    }
    for index, (field_a, direction, field_b, value_map) in enumerate(rows):
        data.update(
            {
                f"mappings-{index}-field_a": field_a,
                f"mappings-{index}-direction": direction,
                f"mappings-{index}-field_b": field_b,
                f"mappings-{index}-value_map": value_map,
            }
        )
    data.update(overrides)
    return data


@pytest.fixture
def counts():
    return lambda: (Sync.objects.count(), FieldMapping.objects.count())


# Step 1


def test_step_one_lists_workspace_objects(owner_client, workspace, billing, crm, foreign_connection):
    content = owner_client.get(new_url(workspace)).content.decode()

    assert "Billing: Faketool customers" in content
    assert "Crm: Faketool contacts" in content
    assert "Globex billing" not in content


def test_step_one_leads_to_field_pickers(owner_client, workspace, billing, crm):
    response = owner_client.post(
        new_url(workspace),
        {"step": "sides", "name": "Billing to CRM", "side_a": side_value(billing, "customer"), "side_b": side_value(crm, "contact")},
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Step 2 of 2" in content
    assert "Plan (plan) · enumeration" in content
    assert "MRR (mrr) · number · derived, read-only" in content
    assert "<code>gold</code>: Gold" in content


def test_step_one_rejects_same_object_twice(owner_client, workspace, billing):
    side = side_value(billing, "customer")

    response = owner_client.post(new_url(workspace), {"step": "sides", "name": "Loop", "side_a": side, "side_b": side})

    assert response.status_code == 400
    assert "Both sides are Faketool customers of Billing" in response.content.decode()


def test_step_one_rejects_connection_of_other_workspace(owner_client, workspace, billing, foreign_connection):
    response = owner_client.post(
        new_url(workspace),
        {"step": "sides", "name": "Sneaky", "side_a": side_value(billing, "customer"), "side_b": side_value(foreign_connection, "contact")},
    )

    assert response.status_code == 400
    assert "is not one of the available choices" in response.content.decode()


# Step 2


def test_owner_creates_sync(owner_client, workspace, billing, crm, owner):
    response = owner_client.post(
        new_url(workspace),
        mapping_post(billing, crm, [("name", "a_to_b", "name", ""), ("plan", "a_to_b", "tier", "pro = gold\nstarter = silver")]),
    )

    sync = Sync.objects.get()
    assert response.status_code == 302
    assert response["Location"] == sync.get_absolute_url()
    assert sync.interval_minutes == 30
    assert sync.created_by == owner
    assert mapping_rows(sync) == [
        ("a_to_b", "name", "name", {}),
        ("a_to_b", "plan", "tier", {"value_map": {"pro": "gold", "starter": "silver"}}),
    ]


def test_b_to_a_row_sources_side_b(owner_client, workspace, billing, crm):
    owner_client.post(new_url(workspace), mapping_post(billing, crm, [("plan", "b_to_a", "tier", "gold = pro")]))

    assert mapping_rows(Sync.objects.get()) == [("b_to_a", "tier", "plan", {"value_map": {"gold": "pro"}})]


def test_blank_and_removed_rows_are_skipped(owner_client, workspace, billing, crm):
    data = mapping_post(billing, crm, [("name", "a_to_b", "name", ""), ("", "a_to_b", "", ""), ("email", "a_to_b", "phone", "")])
    data["mappings-2-DELETE"] = "on"

    owner_client.post(new_url(workspace), data)

    assert mapping_rows(Sync.objects.get()) == [("a_to_b", "name", "name", {})]


def test_add_row_adds_blank_row_without_saving(owner_client, workspace, billing, crm, counts):
    data = mapping_post(billing, crm, [("name", "a_to_b", "name", "")], add_row="1")

    response = owner_client.post(new_url(workspace), data)

    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert counts() == (0, 0)


def test_forged_row_count_is_capped(owner_client, workspace, billing, crm, counts):
    from syncs.forms import MAX_MAPPING_ROWS

    data = mapping_post(billing, crm, [("name", "a_to_b", "name", "")], add_row="1")
    data["mappings-TOTAL_FORMS"] = "100000000"

    response = owner_client.post(new_url(workspace), data)

    assert response.status_code == 200
    assert len(response.context["formset"].forms) == MAX_MAPPING_ROWS
    assert counts() == (0, 0)


def test_row_with_one_field_is_rejected(owner_client, workspace, billing, crm, counts):
    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, [("name", "a_to_b", "", "")]))

    assert response.status_code == 400
    assert "Choose a field on both sides" in response.content.decode()
    assert counts() == (0, 0)


def test_unknown_field_is_rejected(owner_client, workspace, billing, crm, counts):
    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, [("nickname", "a_to_b", "name", "")]))

    assert response.status_code == 400
    assert "nickname is not one of the available choices" in response.content.decode()
    assert counts() == (0, 0)


def test_field_written_by_two_rows_is_rejected(owner_client, workspace, billing, crm, counts):
    rows = [("name", "a_to_b", "name", ""), ("email", "a_to_b", "name", "")]

    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, rows))

    assert response.status_code == 400
    assert "Mapping 2 writes &#x27;name&#x27;, which mapping 1 already writes" in response.content.decode()
    assert counts() == (0, 0)


def test_value_map_to_missing_option_is_rejected(owner_client, workspace, billing, crm, counts):
    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, [("plan", "a_to_b", "tier", "pro = platinum")]))

    content = response.content.decode()
    assert response.status_code == 400
    assert "&#x27;platinum&#x27;, which is not an option of Tier (tier): allowed values are gold, silver" in content
    assert counts() == (0, 0)


def test_value_map_line_without_equals_is_rejected(owner_client, workspace, billing, crm, counts):
    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, [("plan", "a_to_b", "tier", "pro gold")]))

    assert "Line 1 (&#x27;pro gold&#x27;) has no &#x27;=&#x27;" in response.content.decode()
    assert counts() == (0, 0)


def test_interval_below_plan_minimum_is_rejected(owner_client, workspace, billing, crm, counts):
    Plan.objects.filter(pk=workspace.plan_id).update(min_interval_minutes=60)

    response = owner_client.post(new_url(workspace), mapping_post(billing, crm, [("name", "a_to_b", "name", "")]))

    assert response.status_code == 400
    assert "choose 60 minutes or more" in response.content.decode()
    assert counts() == (0, 0)


def test_tampered_side_of_other_workspace_is_rejected(owner_client, workspace, billing, foreign_connection, counts):
    data = mapping_post(billing, foreign_connection, [("name", "a_to_b", "name", "")])

    response = owner_client.post(new_url(workspace), data)

    content = response.content.decode()
    assert response.status_code == 400
    assert f"No connection with id &#x27;{foreign_connection.public_id}&#x27; exists in this workspace" in content
    assert counts() == (0, 0)


def test_member_cannot_create_sync(member_client, workspace, billing, crm, counts):
    response = member_client.post(new_url(workspace), mapping_post(billing, crm, [("name", "a_to_b", "name", "")]))

    assert response.status_code == 403
    assert counts() == (0, 0)


# Editing


def test_edit_page_prefills_mappings(owner_client, sync):
    response = owner_client.get(edit_url(sync))

    rows = response.context["formset"].initial
    assert rows[1]["value_map"] == "pro = gold\nstarter = silver"
    assert rows[1]["field_b"] == "tier"


def test_edit_page_shows_destination_options(owner_client, sync):
    content = owner_client.get(edit_url(sync)).content.decode()

    assert "Destination options: gold (Gold), silver (Silver)" in content


def test_owner_edits_mappings(owner_client, sync, billing, crm):
    owner_client.post(edit_url(sync), mapping_post(billing, crm, [("email", "a_to_b", "phone", "")], name="Renamed"))

    sync.refresh_from_db()
    assert sync.name == "Renamed"
    assert mapping_rows(sync) == [("a_to_b", "email", "phone", {})]


def test_rejected_edit_keeps_old_mappings(owner_client, sync, billing, crm):
    before = mapping_rows(sync)

    response = owner_client.post(edit_url(sync), mapping_post(billing, crm, [("plan", "a_to_b", "tier", "pro = platinum")], name="Renamed"))

    sync.refresh_from_db()
    assert response.status_code == 400
    assert mapping_rows(sync) == before
    assert sync.name == "Billing to CRM"


def test_member_cannot_edit_sync(member_client, sync, billing, crm):
    before = mapping_rows(sync)

    response = member_client.post(edit_url(sync), mapping_post(billing, crm, [("email", "a_to_b", "phone", "")]))

    assert response.status_code == 403
    assert mapping_rows(sync) == before


def test_editor_saves_deletion_policy(owner_client, workspace, billing, crm):
    owner_client.post(
        new_url(workspace), mapping_post(billing, crm, [("name", "a_to_b", "name", "")], deletion_policy="archive")
    )

    assert Sync.objects.get().deletion_policy == "archive"


def test_editor_rejects_unknown_deletion_policy(owner_client, workspace, billing, crm, counts):
    response = owner_client.post(
        new_url(workspace), mapping_post(billing, crm, [("name", "a_to_b", "name", "")], deletion_policy="purge")
    )

    assert response.status_code == 400
    assert counts() == (0, 0)
