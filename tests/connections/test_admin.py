"""The staff admin of connections: search, filters, the re-authorisation action, and no credentials."""

import pytest
from django.urls import reverse

from connections.models import Connection
from tests.connections.conftest import create_connection

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:connections_connection_changelist")


def changelist_names(response):
    return sorted(connection.display_name for connection in response.context["cl"].result_list)


def test_changelist_lists_columns(staff_client, connection):
    response = staff_client.get(CHANGELIST)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Faketool EU" in page
    assert "Acme on Faketool (acct_1)" in page


def test_search_by_member_email(staff_client, connection, other_connection, member):
    response = staff_client.get(CHANGELIST, {"q": "member@acme.test"})

    assert changelist_names(response) == ["Faketool EU"]


def test_search_by_workspace_name(staff_client, connection, other_connection):
    response = staff_client.get(CHANGELIST, {"q": "Globex"})

    assert changelist_names(response) == ["Globex Faketool"]


def test_search_by_account_id(staff_client, connection, other_connection):
    response = staff_client.get(CHANGELIST, {"q": "acct_9"})

    assert changelist_names(response) == ["Globex Faketool"]


def test_filter_by_status(staff_client, workspace, connection):
    create_connection(workspace, display_name="Expired", status=Connection.Status.NEEDS_REAUTH)

    response = staff_client.get(CHANGELIST, {"status__exact": "needs_reauth"})

    assert changelist_names(response) == ["Expired"]


def test_filter_by_provider(staff_client, workspace, connection):
    create_connection(workspace, display_name="Other", provider="othertool")

    response = staff_client.get(CHANGELIST, {"provider": "othertool"})

    assert changelist_names(response) == ["Other"]


def test_action_marks_needs_reauth(staff_client, connection, other_connection):
    response = staff_client.post(
        CHANGELIST,
        {"action": "mark_needs_reauth", "_selected_action": [connection.pk]},
    )

    connection.refresh_from_db()
    other_connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert "Reconnect Faketool EU" in connection.last_error
    assert other_connection.status == Connection.Status.ACTIVE


def test_add_is_not_allowed(staff_client):
    response = staff_client.get(reverse("admin:connections_connection_add"))

    assert response.status_code == 403


def test_change_page_has_no_credential_fields(staff_client, oauth_connection):
    response = staff_client.get(reverse("admin:connections_connection_change", args=[oauth_connection.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "encrypted_credentials" not in page
    assert "token_expires_at" not in page
    assert oauth_connection.encrypted_credentials not in page


def test_change_page_saves_only_display_name(staff_client, connection):
    url = reverse("admin:connections_connection_change", args=[connection.pk])

    staff_client.post(url, {"display_name": "Renamed by staff", "status": "disabled", "account_id": "x"})

    connection.refresh_from_db()
    assert connection.display_name == "Renamed by staff"
    assert connection.status == Connection.Status.ACTIVE
    assert connection.account_id == "acct_1"


def test_non_staff_user_cannot_open_admin(owner_client, connection):
    response = owner_client.get(CHANGELIST)

    assert response.status_code == 302
    assert reverse("admin:login") in response.url
