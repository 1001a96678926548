"""Connecting and reconnecting a tool with an API key on the pages."""

import pytest
import responses
from django.urls import reverse

from connections.models import Connection
from tests.connections.conftest import create_connection
from tests.connections.fake_provider import FaketoolProvider, mock_me

pytestmark = pytest.mark.django_db

API_KEY = "fk_live_4f9a1c2e7b"


def api_key_url(workspace, provider="faketool"):
    return reverse("connections:connect_api_key", args=[workspace.public_id, provider])


def test_form_shows_provider_label_and_help(owner_client, workspace):
    response = owner_client.get(api_key_url(workspace))

    page = response.content.decode()
    assert "Secret key" in page
    assert FaketoolProvider.api_key_help in page


def test_accepted_key_creates_connection(owner_client, workspace, owner):
    mock_me(account_id="acct_42", name="Acme Ltd")

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY, "display_name": ""})

    connection = Connection.objects.get()
    assert response.status_code == 302
    assert response.url == connection.get_absolute_url()
    assert connection.workspace == workspace
    assert connection.account_id == "acct_42"
    assert connection.display_name == "Acme Ltd"
    assert connection.created_by == owner
    assert connection.get_credentials() == {"api_key": API_KEY}


def test_accepted_key_is_sent_to_tool(owner_client, workspace):
    mock_me()

    owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_display_name_from_form_is_kept(owner_client, workspace):
    mock_me()

    owner_client.post(api_key_url(workspace), {"api_key": API_KEY, "display_name": "Billing"})

    assert Connection.objects.get().display_name == "Billing"


def test_rejected_key_saves_nothing(owner_client, workspace):
    mock_me(status=401, body={"error": "invalid_api_key"})

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert response.status_code == 400
    assert Connection.objects.count() == 0


def test_rejected_key_shows_tool_reason(owner_client, workspace):
    mock_me(status=401, body={"error": "invalid_api_key"})

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert "Faketool rejected this key: Faketool answered HTTP 401 (invalid_api_key)" in response.content.decode()


def test_rejected_key_is_not_echoed(owner_client, workspace):
    mock_me(status=401, body={"error": f"invalid_api_key {API_KEY}"})

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert API_KEY not in response.content.decode()


def test_unreachable_tool_saves_nothing(owner_client, workspace):
    mock_me(status=503, body={"error": "unavailable"})

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert response.status_code == 400
    assert "Could not check the key with Faketool" in response.content.decode()
    assert Connection.objects.count() == 0


def test_empty_key_is_rejected_without_calling_tool(owner_client, workspace):
    response = owner_client.post(api_key_url(workspace), {"api_key": "  "})

    assert response.status_code == 400
    assert "Paste the Secret key from Faketool" in response.content.decode()
    assert len(responses.calls) == 0


def test_plan_limit_saves_nothing_and_calls_nothing(owner_client, workspace):
    for number in range(workspace.plan.max_connections):
        create_connection(workspace, display_name=f"Faketool {number}")

    response = owner_client.post(api_key_url(workspace), {"api_key": API_KEY})

    assert response.status_code == 403
    assert f"allows {workspace.plan.max_connections} connections" in response.content.decode()
    assert Connection.objects.count() == workspace.plan.max_connections
    assert len(responses.calls) == 0


def test_oauth_only_provider_has_no_key_form(owner_client, workspace):
    response = owner_client.get(api_key_url(workspace, "othertool"))

    assert response.status_code == 404


def test_unknown_provider_is_404(owner_client, workspace):
    response = owner_client.get(api_key_url(workspace, "nosuchtool"))

    assert response.status_code == 404


# Reconnecting with a new key


def reconnect_url(connection):
    return reverse("connections:reconnect", args=[connection.workspace.public_id, connection.public_id])


def test_reconnect_same_account_replaces_key(owner_client, connection):
    connection.status = Connection.Status.NEEDS_REAUTH
    connection.save()
    mock_me(account_id="acct_1")

    response = owner_client.post(reconnect_url(connection), {"api_key": "fk_live_new_key_2"})

    connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.get_credentials() == {"api_key": "fk_live_new_key_2"}
    assert connection.status == Connection.Status.ACTIVE


def test_reconnect_other_account_changes_nothing(owner_client, connection):
    mock_me(account_id="acct_other", name="Someone Else")

    response = owner_client.post(reconnect_url(connection), {"api_key": "fk_live_new_key_2"})

    connection.refresh_from_db()
    assert response.status_code == 409
    assert "Someone Else (id acct_other)" in response.content.decode()
    assert connection.get_credentials() == {"api_key": "stored-key-0001"}
    assert connection.account_id == "acct_1"


def test_reconnect_rejected_key_changes_nothing(owner_client, connection):
    mock_me(status=401)

    response = owner_client.post(reconnect_url(connection), {"api_key": "fk_live_new_key_2"})

    connection.refresh_from_db()
    assert response.status_code == 400
    assert connection.get_credentials() == {"api_key": "stored-key-0001"}
