"""The connections REST API: scoping, reading, renaming, verifying, disconnecting and connecting with a key."""

import pytest
import responses
from rest_framework.test import APIClient

from connections.models import Connection
from tests.connections.conftest import create_connection
from tests.connections.fake_provider import mock_me

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/connections/"
API_KEY = "fk_live_9d8c7b6a5f"


def detail_url(connection):
    return f"{LIST_URL}{connection.public_id}/"


# Every endpoint: (method, path suffix after the connection, needs a connection)
ENDPOINTS = [
    ("get", "", False),
    ("post", "", False),
    ("post", "oauth/start/", False),
    ("get", "", True),
    ("patch", "", True),
    ("delete", "", True),
    ("post", "verify/", True),
]


def endpoint_url(connection, suffix, needs_connection):
    if needs_connection:
        return detail_url(connection) + suffix
    return LIST_URL + suffix


@pytest.mark.parametrize("method, suffix, needs_connection", ENDPOINTS)
def test_endpoint_without_key_is_401(connection, method, suffix, needs_connection):
    response = getattr(APIClient(), method)(endpoint_url(connection, suffix, needs_connection), {}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("method, suffix, needs_connection", [e for e in ENDPOINTS if e[2]])
def test_endpoint_other_workspace_key_is_404(outsider_api_client, connection, method, suffix, needs_connection):
    response = getattr(outsider_api_client, method)(
        endpoint_url(connection, suffix, needs_connection), {"display_name": "Taken"}, format="json"
    )

    connection.refresh_from_db()
    assert response.status_code == 404
    assert connection.display_name == "Faketool EU"
    assert len(responses.calls) == 0


def test_list_returns_only_workspace_connections(api_client, connection, other_connection):
    response = api_client.get(LIST_URL)

    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [str(connection.public_id)]


def test_retrieve_has_no_credentials(api_client, oauth_connection):
    response = api_client.get(detail_url(oauth_connection))

    body = response.json()
    assert set(body) == {
        "id",
        "provider",
        "provider_label",
        "display_name",
        "account_id",
        "account_name",
        "auth_method",
        "status",
        "last_error",
        "last_verified_at",
        "created_at",
        "updated_at",
    }


def test_unknown_id_is_404_naming_it(api_client, workspace):
    response = api_client.get(f"{LIST_URL}not-a-uuid/")

    assert response.status_code == 404
    assert "No connection with id 'not-a-uuid'" in response.json()["detail"]


def test_patch_renames(api_client, connection):
    response = api_client.patch(detail_url(connection), {"display_name": "Billing"}, format="json")

    connection.refresh_from_db()
    assert response.status_code == 200
    assert connection.display_name == "Billing"


def test_patch_other_field_is_rejected(api_client, connection):
    response = api_client.patch(detail_url(connection), {"status": "active", "account_id": "x"}, format="json")

    connection.refresh_from_db()
    assert response.status_code == 400
    assert "'status' is read-only" in response.json()["status"][0]
    assert connection.account_id == "acct_1"


def test_patch_credentials_field_is_rejected(api_client, connection):
    response = api_client.patch(detail_url(connection), {"encrypted_credentials": "x"}, format="json")

    connection.refresh_from_db()
    assert response.status_code == 400
    assert connection.get_credentials() == {"api_key": "stored-key-0001"}


def test_put_is_not_allowed(api_client, connection):
    response = api_client.put(detail_url(connection), {"display_name": "Billing"}, format="json")

    assert response.status_code == 405


def test_delete_disconnects(api_client, connection):
    response = api_client.delete(detail_url(connection))

    assert response.status_code == 204
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_verify_success_returns_connection(api_client, connection):
    mock_me(account_id="acct_1", name="Acme Renamed")

    response = api_client.post(detail_url(connection) + "verify/")

    body = response.json()
    assert response.status_code == 200
    assert body["verified"] is True
    assert body["connection"]["account_name"] == "Acme Renamed"


def test_verify_failure_reports_reason(api_client, connection):
    mock_me(status=401, body={"error": "invalid_api_key"})

    response = api_client.post(detail_url(connection) + "verify/")

    body = response.json()
    connection.refresh_from_db()
    assert body["verified"] is False
    assert body["detail"] == "Faketool answered HTTP 401 (invalid_api_key)"
    assert body["connection"]["status"] == "needs_reauth"
    assert connection.status == Connection.Status.NEEDS_REAUTH


def test_create_with_accepted_key(api_client, workspace):
    mock_me(account_id="acct_5", name="Acme API")

    response = api_client.post(
        LIST_URL, {"provider": "faketool", "api_key": API_KEY, "display_name": "From API"}, format="json"
    )

    connection = Connection.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == str(connection.public_id)
    assert connection.workspace == workspace
    assert connection.display_name == "From API"
    assert connection.account_id == "acct_5"
    assert connection.get_credentials() == {"api_key": API_KEY}


def test_create_never_returns_key(api_client, workspace):
    mock_me()

    response = api_client.post(LIST_URL, {"provider": "faketool", "api_key": API_KEY}, format="json")

    assert API_KEY not in response.content.decode()
    assert "api_key" not in response.json()


def test_create_rejected_key_saves_nothing(api_client, workspace):
    mock_me(status=401, body={"error": "invalid_api_key"})

    response = api_client.post(LIST_URL, {"provider": "faketool", "api_key": API_KEY}, format="json")

    assert response.status_code == 400
    assert response.json()["api_key"] == [
        "Faketool rejected this key: Faketool answered HTTP 401 (invalid_api_key). Nothing was saved."
    ]
    assert Connection.objects.count() == 0


def test_create_unreachable_tool_is_502(api_client, workspace):
    mock_me(status=503, body={"error": "unavailable"})

    response = api_client.post(LIST_URL, {"provider": "faketool", "api_key": API_KEY}, format="json")

    assert response.status_code == 502
    assert Connection.objects.count() == 0


def test_create_unknown_provider_lists_known(api_client, workspace):
    response = api_client.post(LIST_URL, {"provider": "nosuchtool", "api_key": API_KEY}, format="json")

    assert response.status_code == 400
    assert "Unknown provider 'nosuchtool'. Known providers:" in response.json()["provider"][0]
    assert "faketool" in response.json()["provider"][0]


def test_create_oauth_only_provider_explains_page(api_client, workspace):
    response = api_client.post(LIST_URL, {"provider": "othertool", "api_key": API_KEY}, format="json")

    assert response.status_code == 400
    assert "Othertool connects only with OAuth" in response.json()["provider"][0]
    assert len(responses.calls) == 0


def test_create_at_plan_limit_is_403(api_client, workspace):
    for number in range(workspace.plan.max_connections):
        create_connection(workspace, display_name=f"Faketool {number}")

    response = api_client.post(LIST_URL, {"provider": "faketool", "api_key": API_KEY}, format="json")

    assert response.status_code == 403
    assert f"allows {workspace.plan.max_connections} connections" in response.json()["detail"]
    assert Connection.objects.count() == workspace.plan.max_connections
    assert len(responses.calls) == 0


def test_create_rejects_workspace_field(api_client, workspace, other_workspace):
    response = api_client.post(
        LIST_URL,
        {"provider": "faketool", "api_key": API_KEY, "workspace": other_workspace.pk},
        format="json",
    )

    assert response.status_code == 400
    assert "'workspace' is not a field" in response.json()["workspace"][0]
    assert Connection.objects.count() == 0


def test_oauth_start_explains_browser_flow(api_client, workspace):
    response = api_client.post(LIST_URL + "oauth/start/", {"provider": "faketool"}, format="json")

    assert response.status_code == 400
    assert "Connections page" in response.json()["detail"]
    assert len(responses.calls) == 0


def test_delete_used_connection_is_409(api_client, connection):
    syncs_models = pytest.importorskip("syncs.models")
    syncs_models.Sync.objects.create(
        workspace=connection.workspace,
        name="Faketool to Faketool",
        connection_a=connection,
        object_a="contact",
        connection_b=connection,
        object_b="contact",
    )

    response = api_client.delete(detail_url(connection))

    assert response.status_code == 409
    assert "use it: Faketool to Faketool" in response.json()["detail"]
    assert Connection.objects.filter(pk=connection.pk).exists()
