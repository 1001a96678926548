"""The connection pages: who may see and do what, listing, detail, rename, verify, disconnect."""

import pytest
from django.urls import reverse

from connections.models import Connection
from tests.connections.conftest import create_connection
from tests.connections.fake_provider import mock_me

pytestmark = pytest.mark.django_db


def workspace_url(name, workspace, *args):
    return reverse(f"connections:{name}", args=[workspace.public_id, *args])


def connection_url(name, connection):
    return reverse(f"connections:{name}", args=[connection.workspace.public_id, connection.public_id])


# Pages every member may use: (URL name, method, takes a connection)
MEMBER_PAGES = [
    ("list", "get", False),
    ("detail", "get", True),
]
# Pages only owners and admins may use.
MANAGER_PAGES = [
    ("new", "get", False),
    ("rename", "get", True),
    ("rename", "post", True),
    ("reconnect", "get", True),
    ("disconnect", "get", True),
    ("disconnect", "post", True),
]


def page_url(name, connection, takes_connection):
    if takes_connection:
        return connection_url(name, connection)
    return workspace_url(name, connection.workspace)


@pytest.mark.parametrize("name, method, takes_connection", MEMBER_PAGES + MANAGER_PAGES)
def test_page_outsider_gets_404(outsider_client, connection, name, method, takes_connection):
    response = getattr(outsider_client, method)(page_url(name, connection, takes_connection))

    assert response.status_code == 404


@pytest.mark.parametrize("name, method, takes_connection", MEMBER_PAGES + MANAGER_PAGES)
def test_page_anonymous_redirects_to_login(client, connection, name, method, takes_connection):
    url = page_url(name, connection, takes_connection)

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name, method, takes_connection", MANAGER_PAGES)
def test_manager_page_member_gets_403(member_client, connection, name, method, takes_connection):
    response = getattr(member_client, method)(page_url(name, connection, takes_connection))

    assert response.status_code == 403
    assert Connection.objects.filter(pk=connection.pk, display_name="Faketool EU").exists()


@pytest.mark.parametrize("name, method, takes_connection", MEMBER_PAGES)
def test_member_page_member_gets_200(member_client, connection, name, method, takes_connection):
    response = getattr(member_client, method)(page_url(name, connection, takes_connection))

    assert response.status_code == 200


def test_connection_of_other_workspace_is_404_for_owner(owner_client, workspace, other_connection):
    url = reverse("connections:detail", args=[workspace.public_id, other_connection.public_id])

    response = owner_client.get(url)

    assert response.status_code == 404


def test_connector_pages_manager_only(member_client, workspace):
    api_key_url = workspace_url("connect_api_key", workspace, "faketool")
    oauth_url = workspace_url("oauth_start", workspace, "faketool")

    assert member_client.get(api_key_url).status_code == 403
    assert member_client.post(api_key_url, {"api_key": "k-123456"}).status_code == 403
    assert member_client.post(oauth_url).status_code == 403
    assert Connection.objects.count() == 0


def test_connector_pages_anonymous_redirects_to_login(client, workspace):
    api_key_response = client.get(workspace_url("connect_api_key", workspace, "faketool"))
    oauth_response = client.post(workspace_url("oauth_start", workspace, "faketool"))

    assert api_key_response.url.startswith(reverse("accounts:login"))
    assert oauth_response.url.startswith(reverse("accounts:login"))


def test_connector_pages_outsider_gets_404(outsider_client, workspace):
    assert outsider_client.get(workspace_url("connect_api_key", workspace, "faketool")).status_code == 404
    assert outsider_client.post(workspace_url("oauth_start", workspace, "faketool")).status_code == 404


def test_list_shows_status_account_and_last_error(owner_client, workspace):
    create_connection(
        workspace,
        display_name="Broken Faketool",
        status=Connection.Status.NEEDS_REAUTH,
        last_error="Faketool no longer accepts this connection's authorisation.",
    )

    response = owner_client.get(workspace_url("list", workspace))

    page = response.content.decode()
    assert "Broken Faketool" in page
    assert "Needs re-authorisation" in page
    assert "Faketool no longer accepts this connection" in page
    assert "Acme on Faketool" in page
    assert "acct_1" in page


def test_list_shows_manager_buttons_only_to_managers(owner_client, member_client, connection):
    rename_url = connection_url("rename", connection)
    verify_url = connection_url("verify", connection)

    owner_page = owner_client.get(workspace_url("list", connection.workspace)).content.decode()
    member_page = member_client.get(workspace_url("list", connection.workspace)).content.decode()

    assert rename_url in owner_page
    assert rename_url not in member_page
    assert verify_url in member_page


def test_list_hides_other_workspace_connections(owner_client, workspace, other_connection):
    response = owner_client.get(workspace_url("list", workspace))

    assert "Globex Faketool" not in response.content.decode()


def test_new_page_lists_providers_and_methods(owner_client, workspace):
    response = owner_client.get(workspace_url("new", workspace))

    page = response.content.decode()
    assert workspace_url("oauth_start", workspace, "faketool") in page
    assert workspace_url("connect_api_key", workspace, "faketool") in page
    assert workspace_url("oauth_start", workspace, "othertool") in page
    assert workspace_url("connect_api_key", workspace, "othertool") not in page


def test_new_page_explains_missing_oauth_client(owner_client, workspace, settings):
    settings.OAUTH_CLIENTS = {**settings.OAUTH_CLIENTS, "othertool": {"client_id": "", "client_secret": ""}}

    response = owner_client.get(workspace_url("new", workspace))

    page = response.content.decode()
    assert "OAuth is not configured for Othertool: set OTHERTOOL_CLIENT_ID and OTHERTOOL_CLIENT_SECRET" in page
    assert workspace_url("oauth_start", workspace, "othertool") not in page


def test_new_page_shows_plan_limit(owner_client, workspace):
    for number in range(workspace.plan.max_connections):
        create_connection(workspace, display_name=f"Faketool {number}")

    response = owner_client.get(workspace_url("new", workspace))

    assert f"allows {workspace.plan.max_connections} connections" in response.content.decode()


def test_rename_changes_display_name(owner_client, connection):
    response = owner_client.post(connection_url("rename", connection), {"display_name": "  Faketool US  "})

    connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.display_name == "Faketool US"


def test_rename_blank_name_is_rejected(owner_client, connection):
    response = owner_client.post(connection_url("rename", connection), {"display_name": "   "})

    connection.refresh_from_db()
    assert response.status_code == 400
    assert "Enter a name for the connection" in response.content.decode()
    assert connection.display_name == "Faketool EU"


def test_verify_by_member_updates_account(member_client, connection):
    mock_me(account_id="acct_1", name="Acme Renamed")

    response = member_client.post(connection_url("verify", connection))

    connection.refresh_from_db()
    assert response.status_code == 302
    assert connection.account_name == "Acme Renamed"
    assert connection.last_verified_at is not None


def test_verify_rejected_marks_needs_reauth(owner_client, connection):
    mock_me(status=401)

    response = owner_client.post(connection_url("verify", connection), follow=True)

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert "Verification of Faketool EU failed" in response.content.decode()


def test_verify_tool_error_stores_last_error(owner_client, connection):
    mock_me(status=500, body={"error": "server_error"})

    owner_client.post(connection_url("verify", connection))

    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert connection.last_error == "Faketool answered HTTP 500 (server_error)"


def test_verify_from_list_returns_to_list(owner_client, connection):
    mock_me()

    response = owner_client.post(connection_url("verify", connection), {"next": "list"})

    assert response.url == workspace_url("list", connection.workspace)


def test_verify_by_outsider_is_404_and_calls_nothing(outsider_client, connection):
    response = outsider_client.post(connection_url("verify", connection))

    assert response.status_code == 404


def test_verify_anonymous_redirects_to_login(client, connection):
    response = client.post(connection_url("verify", connection))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_verify_get_is_not_allowed(owner_client, connection):
    response = owner_client.get(connection_url("verify", connection))

    assert response.status_code == 405


def test_disconnect_get_shows_confirmation(owner_client, connection):
    response = owner_client.get(connection_url("disconnect", connection))

    assert response.status_code == 200
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_disconnect_post_deletes_connection(owner_client, connection):
    response = owner_client.post(connection_url("disconnect", connection))

    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_disconnect_by_outsider_keeps_connection(outsider_client, connection):
    outsider_client.post(connection_url("disconnect", connection))

    assert Connection.objects.filter(pk=connection.pk).exists()


def create_sync_using(connection):
    syncs_models = pytest.importorskip("syncs.models")
    return syncs_models.Sync.objects.create(
        workspace=connection.workspace,
        name="Faketool to Faketool",
        connection_a=connection,
        object_a="contact",
        connection_b=connection,
        object_b="contact",
    )


def test_disconnect_used_connection_names_syncs(owner_client, connection):
    create_sync_using(connection)

    response = owner_client.post(connection_url("disconnect", connection), follow=True)

    assert "use it: Faketool to Faketool. Delete those syncs first" in response.content.decode()
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_disconnect_page_lists_blocking_syncs(owner_client, connection):
    create_sync_using(connection)

    response = owner_client.get(connection_url("disconnect", connection))

    assert "Delete them first: Faketool to Faketool" in response.content.decode()
