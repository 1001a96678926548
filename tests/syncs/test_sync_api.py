"""/api/v1/syncs/: CRUD with nested mappings, run, pause, resume and preview."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Plan
from syncs.models import FieldMapping, Run, Sync
from tests.syncs import billing, crm, fake_accounts, foreign_connection, foreign_sync, mapping_rows, seeded, sync  # noqa: F401

LIST_URL = reverse("api:sync-list")


def detail_url(sync, action=None):
    if action:
        return reverse(f"api:sync-{action}", args=[sync.public_id])
    return reverse("api:sync-detail", args=[sync.public_id])


def body(billing, crm, mappings=None, **overrides):
    data = {
        "name": "Billing to CRM",
        "connection_a": str(billing.public_id),
        "object_a": "customer",
        "connection_b": str(crm.public_id),
        "object_b": "contact",
        "interval_minutes": 30,
        "mappings": mappings
        if mappings is not None
        else [
            {"source_field": "name", "destination_field": "name"},
            {"source_field": "plan", "destination_field": "tier", "transform": {"value_map": {"pro": "gold"}}},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def counts():
    return lambda: (Sync.objects.count(), FieldMapping.objects.count())


# Personas


ENDPOINTS = [
    ("get", None),
    ("patch", None),
    ("delete", None),
    ("post", "run"),
    ("post", "pause"),
    ("post", "resume"),
    ("get", "preview"),
]


@pytest.mark.parametrize("method, action", ENDPOINTS)
def test_anonymous_gets_401(method, action, sync):
    response = getattr(APIClient(), method)(detail_url(sync, action))

    assert response.status_code == 401


def test_anonymous_list_gets_401(db):
    assert APIClient().get(LIST_URL).status_code == 401


@pytest.mark.parametrize("method, action", ENDPOINTS)
def test_outsider_key_gets_404(method, action, outsider_api_client, sync):
    response = getattr(outsider_api_client, method)(detail_url(sync, action), {}, format="json")

    assert response.status_code == 404
    assert Sync.objects.get(pk=sync.pk).name == "Billing to CRM"


def test_list_returns_only_workspace_syncs(api_client, sync, foreign_sync):
    response = api_client.get(LIST_URL)

    assert [row["id"] for row in response.json()["results"]] == [str(sync.public_id)]


def test_detail_shows_sides_mappings_and_last_run(api_client, sync):
    run = Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, status=Run.Status.SUCCEEDED, updated_count=4)

    data = api_client.get(detail_url(sync)).json()

    assert data["connection_a"] == str(sync.connection_a.public_id)
    assert data["mappings"][1]["transform"] == {"value_map": {"pro": "gold", "starter": "silver"}}
    assert data["last_run"]["id"] == str(run.public_id)
    assert data["last_run"]["updated_count"] == 4


def test_unknown_sync_id_gets_404(api_client):
    assert api_client.get("/api/v1/syncs/not-a-uuid/").status_code == 404


# Create and update


def test_create_stores_sync_and_mappings(api_client, workspace, billing, crm, owner):
    response = api_client.post(LIST_URL, body(billing, crm), format="json")

    sync = Sync.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == str(sync.public_id)
    assert sync.workspace == workspace
    assert sync.created_by == owner
    assert mapping_rows(sync) == [("a_to_b", "name", "name", {}), ("a_to_b", "plan", "tier", {"value_map": {"pro": "gold"}})]


def test_create_returns_field_snapshots(api_client, billing, crm):
    data = api_client.post(LIST_URL, body(billing, crm), format="json").json()

    assert data["mappings"][1]["destination_spec"]["options"] == {"gold": "Gold", "silver": "Silver"}


def test_create_rejects_unknown_field(api_client, billing, crm, counts):
    response = api_client.post(LIST_URL, body(billing, crm, [{"source_field": "nickname", "destination_field": "name"}]), format="json")

    assert response.status_code == 400
    assert "has no field 'nickname'" in response.json()["mappings"][0]["source_field"][0]
    assert counts() == (0, 0)


def test_create_rejects_field_written_twice(api_client, billing, crm, counts):
    mappings = [{"source_field": "name", "destination_field": "name"}, {"source_field": "email", "destination_field": "name"}]

    response = api_client.post(LIST_URL, body(billing, crm, mappings), format="json")

    errors = response.json()["mappings"]
    assert errors[0] == {}
    assert "which mapping 1 already writes" in errors[1]["destination_field"][0]
    assert counts() == (0, 0)


def test_create_rejects_value_map_to_missing_option(api_client, billing, crm, counts):
    mappings = [{"source_field": "plan", "destination_field": "tier", "transform": {"value_map": {"pro": "platinum"}}}]

    response = api_client.post(LIST_URL, body(billing, crm, mappings), format="json")

    message = response.json()["mappings"][0]["transform"][0]
    assert "'platinum'" in message
    assert "allowed values are gold, silver" in message
    assert counts() == (0, 0)


def test_create_rejects_interval_below_plan_minimum(api_client, workspace, billing, crm, counts):
    Plan.objects.filter(pk=workspace.plan_id).update(min_interval_minutes=60)

    response = api_client.post(LIST_URL, body(billing, crm, interval_minutes=15), format="json")

    assert response.status_code == 400
    assert "choose 60 minutes or more" in response.json()["interval_minutes"][0]
    assert counts() == (0, 0)


def test_create_rejects_connection_of_other_workspace(api_client, billing, foreign_connection, counts):
    response = api_client.post(LIST_URL, body(billing, foreign_connection), format="json")

    message = response.json()["connection_b"][0]
    assert response.status_code == 400
    assert message.startswith(f"No connection with id '{foreign_connection.public_id}' exists in this workspace")
    assert "Globex" not in message
    assert counts() == (0, 0)


def test_create_rejects_unknown_body_field(api_client, billing, crm, counts):
    response = api_client.post(LIST_URL, body(billing, crm, status="paused"), format="json")

    assert response.status_code == 400
    assert "'status' is read-only" in response.json()["status"][0]
    assert counts() == (0, 0)


def test_create_without_mappings_is_rejected(api_client, billing, crm, counts):
    data = body(billing, crm)
    del data["mappings"]

    response = api_client.post(LIST_URL, data, format="json")

    assert "Add at least one field mapping" in response.json()["mappings"][0]
    assert counts() == (0, 0)


def test_put_replaces_all_mappings(api_client, sync, billing, crm):
    response = api_client.put(detail_url(sync), body(billing, crm, [{"source_field": "email", "destination_field": "phone"}]), format="json")

    assert response.status_code == 200
    assert mapping_rows(sync) == [("a_to_b", "email", "phone", {})]


def test_patch_without_mappings_keeps_them(api_client, sync):
    before = mapping_rows(sync)

    response = api_client.patch(detail_url(sync), {"name": "Renamed", "interval_minutes": 60}, format="json")

    sync.refresh_from_db()
    assert response.status_code == 200
    assert sync.name == "Renamed"
    assert sync.interval_minutes == 60
    assert mapping_rows(sync) == before


def test_rejected_patch_keeps_old_mappings(api_client, sync):
    before = mapping_rows(sync)

    response = api_client.patch(
        detail_url(sync), {"name": "Renamed", "mappings": [{"source_field": "name", "destination_field": "nickname"}]}, format="json"
    )

    sync.refresh_from_db()
    assert response.status_code == 400
    assert mapping_rows(sync) == before
    assert sync.name == "Billing to CRM"


def test_patch_to_connection_of_other_workspace_is_rejected(api_client, sync, foreign_connection):
    response = api_client.patch(detail_url(sync), {"connection_b": str(foreign_connection.public_id)}, format="json")

    sync.refresh_from_db()
    assert response.status_code == 400
    assert sync.connection_b.workspace == sync.workspace


def test_delete_removes_sync(api_client, sync):
    response = api_client.delete(detail_url(sync))

    assert response.status_code == 204
    assert not Sync.objects.filter(pk=sync.pk).exists()


# Actions


def test_run_answers_202_with_finished_run(api_client, sync, seeded):
    response = api_client.post(detail_url(sync, "run"))

    data = response.json()
    assert response.status_code == 202
    assert data["id"] == str(sync.runs.get().public_id)
    assert data["status"] == "succeeded"
    assert data["updated_count"] == 2
    assert data["api_calls"]["write"] == 1


def test_run_returns_run_already_queued(api_client, sync):
    queued = Run.objects.create(sync=sync, trigger=Run.Trigger.SCHEDULE)

    response = api_client.post(detail_url(sync, "run"))

    assert response.json()["id"] == str(queued.public_id)
    assert sync.runs.count() == 1


def test_pause_and_resume(api_client, sync):
    assert api_client.post(detail_url(sync, "pause")).json()["status"] == "paused"
    assert api_client.post(detail_url(sync, "resume")).json()["status"] == "active"


def test_preview_returns_changes(api_client, sync, seeded):
    response = api_client.get(detail_url(sync, "preview"))

    data = response.json()
    row = next(row for row in data["rows"] if row["record_key"] == "ana@example.com")
    assert response.status_code == 200
    assert data["read"] == 2
    assert row["action"] == "update"
    assert {"field": "tier", "before": "silver", "after": "gold"} in row["changes"]


def test_preview_of_blocked_connection_answers_409(api_client, sync, crm):
    crm.mark_needs_reauth("expired")

    response = api_client.get(detail_url(sync, "preview"))

    assert response.status_code == 409
    assert "Faketool no longer accepts" in response.json()["detail"]
