"""The OAuth flow: the authorize redirect, every rejected callback, and a completed connection or reconnection."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from connections import oauth
from connections.models import Connection
from tests.connections.conftest import create_connection
from tests.connections.fake_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    FaketoolProvider,
    OthertoolProvider,
    mock_me,
    mock_token,
    token_calls,
)

pytestmark = pytest.mark.django_db

REDIRECT_URI = "https://oneprofile.example/connections/oauth/faketool/callback/"


def start_url(workspace, provider="faketool"):
    return reverse("connections:oauth_start", args=[workspace.public_id, provider])


def callback_url(provider="faketool"):
    return reverse("connections:oauth_callback", args=[provider])


def start(client, workspace, provider="faketool"):
    """Start an authorization and return the query parameters of the authorize URL."""
    response = client.post(start_url(workspace, provider))
    assert response.status_code == 302
    return {key: values[0] for key, values in parse_qs(urlsplit(response.url).query).items()}


def assert_nothing_connected(response, status=400):
    assert response.status_code == status
    assert len(token_calls()) == 0
    assert len(token_calls(OthertoolProvider)) == 0
    assert Connection.objects.count() == 0


# Start


def test_start_redirects_to_authorize_url(owner_client, workspace):
    response = owner_client.post(start_url(workspace))

    assert response.url.startswith(FaketoolProvider.authorize_url + "?")


def test_start_sends_client_scopes_and_exact_redirect_uri(owner_client, workspace):
    params = start(owner_client, workspace)

    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"] == "contacts.read contacts.write"


def test_start_sends_s256_pkce_challenge(owner_client, workspace):
    params = start(owner_client, workspace)

    stored = owner_client.session[oauth.SESSION_KEY][params["state"]]
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == oauth.code_challenge(stored["code_verifier"])
    assert 43 <= len(stored["code_verifier"]) <= 128


def test_start_stores_state_in_session(owner_client, workspace):
    params = start(owner_client, workspace)

    stored = owner_client.session[oauth.SESSION_KEY][params["state"]]
    assert stored["provider"] == "faketool"
    assert stored["workspace"] == str(workspace.public_id)
    assert stored["reconnect"] == ""
    assert stored["expires_at"] > time.time() + 9 * 60


def test_start_gives_each_attempt_a_new_state(owner_client, workspace):
    first = start(owner_client, workspace)["state"]
    second = start(owner_client, workspace)["state"]

    assert first != second


def test_start_without_client_id_explains_settings(owner_client, workspace, settings):
    settings.OAUTH_CLIENTS = {**settings.OAUTH_CLIENTS, "faketool": {"client_id": "", "client_secret": ""}}

    response = owner_client.post(start_url(workspace), follow=True)

    assert response.redirect_chain[0][0] == reverse("connections:new", args=[workspace.public_id])
    assert (
        "OAuth is not configured for Faketool: set FAKETOOL_CLIENT_ID and FAKETOOL_CLIENT_SECRET"
        in response.content.decode()
    )


def test_start_at_plan_limit_stays_here(owner_client, workspace):
    for number in range(workspace.plan.max_connections):
        create_connection(workspace, display_name=f"Faketool {number}")

    response = owner_client.post(start_url(workspace))

    assert response.url == reverse("connections:new", args=[workspace.public_id])
    assert oauth.SESSION_KEY not in owner_client.session


def test_start_get_is_not_allowed(owner_client, workspace):
    response = owner_client.get(start_url(workspace))

    assert response.status_code == 405


def test_start_unknown_provider_is_404(owner_client, workspace):
    response = owner_client.post(start_url(workspace, "nosuchtool"))

    assert response.status_code == 404


# Rejected callbacks: each one calls no token endpoint and stores nothing


def test_callback_missing_state_rejected(owner_client, workspace):
    start(owner_client, workspace)
    mock_token()

    response = owner_client.get(callback_url(), {"code": "auth-code"})

    assert_nothing_connected(response)
    assert "has no state parameter" in response.content.decode()


def test_callback_wrong_state_rejected(owner_client, workspace):
    start(owner_client, workspace)
    mock_token()

    response = owner_client.get(callback_url(), {"code": "auth-code", "state": "forged-state"})

    assert_nothing_connected(response)
    assert "match any connection started in this browser session" in response.content.decode()


def test_callback_reused_state_rejected(owner_client, workspace):
    params = start(owner_client, workspace)
    mock_token()
    mock_me()
    first = owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})
    assert first.status_code == 302

    second = owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    assert second.status_code == 400
    assert len(token_calls()) == 1
    assert Connection.objects.count() == 1


def test_callback_expired_state_rejected(owner_client, workspace):
    params = start(owner_client, workspace)
    session = owner_client.session
    session[oauth.SESSION_KEY][params["state"]]["expires_at"] = time.time() - 1
    session.save()
    mock_token()

    response = owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    assert_nothing_connected(response)
    assert "This authorization expired" in response.content.decode()


def test_callback_state_from_other_session_rejected(owner_client, owner, workspace):
    params = start(owner_client, workspace)
    other_browser = Client()
    other_browser.force_login(owner)
    mock_token()

    response = other_browser.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    assert_nothing_connected(response)


def test_callback_on_other_provider_url_rejected(owner_client, workspace):
    params = start(owner_client, workspace, "faketool")
    mock_token()
    mock_token(provider=OthertoolProvider)

    response = owner_client.get(callback_url("othertool"), {"code": "auth-code", "state": params["state"]})

    assert_nothing_connected(response)
    assert "started for faketool but came back on the callback URL of othertool" in response.content.decode()


def test_callback_wrong_provider_consumes_state(owner_client, workspace):
    params = start(owner_client, workspace, "faketool")
    owner_client.get(callback_url("othertool"), {"code": "auth-code", "state": params["state"]})
    mock_token()

    response = owner_client.get(callback_url("faketool"), {"code": "auth-code", "state": params["state"]})

    assert_nothing_connected(response)


def test_callback_access_denied_rejected(owner_client, workspace):
    params = start(owner_client, workspace)
    mock_token()

    response = owner_client.get(callback_url(), {"error": "access_denied", "state": params["state"]})

    assert_nothing_connected(response)
    assert "Authorization was declined in Faketool" in response.content.decode()


def test_callback_other_tool_error_is_named(owner_client, workspace):
    params = start(owner_client, workspace)
    mock_token()

    response = owner_client.get(
        callback_url(),
        {"error": "invalid_scope", "error_description": "Scope not allowed", "state": params["state"]},
    )

    assert_nothing_connected(response)
    assert "the error &#x27;invalid_scope&#x27;: Scope not allowed" in response.content.decode()


def test_callback_missing_code_rejected(owner_client, workspace):
    params = start(owner_client, workspace)
    mock_token()

    response = owner_client.get(callback_url(), {"state": params["state"]})

    assert_nothing_connected(response)
    assert "sent no authorization code" in response.content.decode()


def test_callback_anonymous_redirects_to_login(client):
    mock_token()

    response = client.get(callback_url(), {"code": "auth-code", "state": "any"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert len(token_calls()) == 0


def test_callback_after_demotion_rejected(owner_client, owner, member, workspace):
    # The owner starts, then is demoted to member before the tool calls back.
    params = start(owner_client, workspace)
    Membership.objects.filter(workspace=workspace, user=member).update(role=Membership.Role.OWNER)
    Membership.objects.filter(workspace=workspace, user=owner).update(role=Membership.Role.MEMBER)
    mock_token()

    response = owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    assert_nothing_connected(response, status=403)


def test_callback_unknown_provider_is_404(owner_client):
    response = owner_client.get(callback_url("nosuchtool"), {"code": "auth-code", "state": "any"})

    assert response.status_code == 404


# Completed authorization


def complete(client, workspace, provider="faketool", **query):
    params = start(client, workspace, provider)
    return client.get(callback_url(provider), {"code": "auth-code", "state": params["state"], **query})


def test_callback_creates_connection(owner_client, workspace, owner):
    mock_token(access_token="access-1", refresh_token="refresh-1", expires_in=1800)
    mock_me(account_id="acct_77", name="Acme EU")

    response = complete(owner_client, workspace)

    connection = Connection.objects.get()
    assert response.status_code == 302
    assert response.url == connection.get_absolute_url()
    assert connection.workspace == workspace
    assert connection.auth_method == Connection.AuthMethod.OAUTH
    assert connection.account_id == "acct_77"
    assert connection.display_name == "Acme EU"
    assert connection.created_by == owner
    assert connection.get_credentials() == {"access_token": "access-1", "refresh_token": "refresh-1"}
    assert connection.token_expires_at is not None


def test_callback_sends_code_verifier_and_client(owner_client, workspace):
    mock_token()
    mock_me()
    params = start(owner_client, workspace)
    verifier = owner_client.session[oauth.SESSION_KEY][params["state"]]["code_verifier"]

    owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    sent = parse_qs(token_calls()[0].request.body)
    assert sent["code"] == ["auth-code"]
    assert sent["code_verifier"] == [verifier]
    assert sent["redirect_uri"] == [REDIRECT_URI]
    assert sent["client_id"] == [CLIENT_ID]
    assert sent["client_secret"] == [CLIENT_SECRET]


def test_callback_keeps_token_extras_as_options(owner_client, workspace):
    mock_token(body={"access_token": "a", "refresh_token": "r", "expires_in": 60, "region": "eu"})
    mock_me()

    complete(owner_client, workspace)

    assert Connection.objects.get().options == {"region": "eu"}


def test_callback_token_error_saves_nothing(owner_client, workspace):
    mock_token(status=400, body={"error": "invalid_grant"})

    response = complete(owner_client, workspace)

    assert response.status_code == 502
    assert "Faketool did not complete the authorization" in response.content.decode()
    assert Connection.objects.count() == 0


def test_callback_verify_error_saves_nothing(owner_client, workspace):
    mock_token()
    mock_me(status=403, body={"error": "insufficient_scope"})

    response = complete(owner_client, workspace)

    assert response.status_code == 502
    assert Connection.objects.count() == 0


def test_callback_at_plan_limit_saves_nothing(owner_client, workspace):
    params = start(owner_client, workspace)
    for number in range(workspace.plan.max_connections):
        create_connection(workspace, display_name=f"Faketool {number}")
    mock_token()

    response = owner_client.get(callback_url(), {"code": "auth-code", "state": params["state"]})

    assert response.status_code == 403
    assert len(token_calls()) == 0
    assert Connection.objects.count() == workspace.plan.max_connections


# Reconnecting


def reconnect(client, connection, **query):
    url = reverse("connections:reconnect", args=[connection.workspace.public_id, connection.public_id])
    response = client.post(url)
    params = {key: values[0] for key, values in parse_qs(urlsplit(response.url).query).items()}
    return client.get(callback_url(), {"code": "auth-code", "state": params["state"], **query})


def test_reconnect_same_account_keeps_connection_id(owner_client, oauth_connection):
    oauth_connection.mark_needs_reauth("refresh token revoked")
    mock_token(access_token="access-2", refresh_token="refresh-2")
    mock_me(account_id="acct_1")

    response = reconnect(owner_client, oauth_connection)

    stored = Connection.objects.get()
    assert response.url == oauth_connection.get_absolute_url()
    assert stored.pk == oauth_connection.pk
    assert stored.status == Connection.Status.ACTIVE
    assert stored.last_error == ""
    assert stored.get_credentials() == {"access_token": "access-2", "refresh_token": "refresh-2"}


def test_reconnect_other_account_changes_nothing(owner_client, oauth_connection):
    mock_token(access_token="access-2", refresh_token="refresh-2")
    mock_me(account_id="acct_other", name="Other Co")

    response = reconnect(owner_client, oauth_connection)

    stored = Connection.objects.get()
    assert response.status_code == 409
    assert "Other Co (id acct_other)" in response.content.decode()
    assert stored.account_id == "acct_1"
    assert stored.get_credentials()["access_token"] == "stored-access-0001"


def test_reconnect_stores_target_in_state(owner_client, oauth_connection):
    url = reverse("connections:reconnect", args=[oauth_connection.workspace.public_id, oauth_connection.public_id])

    response = owner_client.post(url)

    state = parse_qs(urlsplit(response.url).query)["state"][0]
    assert owner_client.session[oauth.SESSION_KEY][state]["reconnect"] == str(oauth_connection.public_id)


def test_reconnect_at_plan_limit_still_works(owner_client, workspace, oauth_connection):
    for number in range(workspace.plan.max_connections - 1):
        create_connection(workspace, display_name=f"Faketool {number}")
    mock_token()
    mock_me(account_id="acct_1")

    response = reconnect(owner_client, oauth_connection)

    assert response.status_code == 302
    assert len(responses.calls) == 2
