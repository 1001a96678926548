"""Connecting to Zendesk: the subdomain, OAuth with rotating refresh tokens, API tokens and the account identity."""

import base64

import pytest
import responses
from responses import matchers

from connections.models import Connection
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory
from connections.providers.zendesk import ZendeskProvider

from .zendesk_support import (
    API,
    API_TOKEN_CREDENTIALS,
    TOKEN_URL,
    calls_to,
    load,
    make_connection,
    make_oauth_connection,
    make_provider,
    sent_json,
)

SANDBOX = "http://127.0.0.1:8000/sandbox/zendesk"


# Subdomain ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("evil.com", "can't contain dots"),
        ("a.b", "can't contain dots"),
        ("x:80", "port"),
        ("https://x", "without https://"),
        ("acme/api", "without https://"),
        ("", "missing"),
        ("   ", "missing"),
        (None, "missing"),
        ("-acme", "not starting or ending with a hyphen"),
        ("ac_me", "lowercase letters, digits and hyphens"),
        ("a" * 64, "1 to 63"),
        ("acme.zendesk.com", "that is 'acme'"),
    ],
)
def test_subdomain_rejected_with_reason(value, words):
    with pytest.raises(ValueError, match=words):
        ZendeskProvider.clean_subdomain(value)


def test_subdomain_trimmed_and_lowercased():
    assert ZendeskProvider.clean_subdomain("  Acme-EU2 ") == "acme-eu2"


def test_subdomain_of_63_characters_accepted():
    assert ZendeskProvider.clean_subdomain("a" * 63) == "a" * 63


def test_base_url_built_from_subdomain():
    assert ZendeskProvider.base_url_for({"subdomain": "acme"}) == "https://acme.zendesk.com"


def test_base_url_prefers_stored_base_url():
    assert ZendeskProvider.base_url_for({"subdomain": "acme"}, SANDBOX + "/") == SANDBOX


def test_connect_options_ask_for_subdomain():
    assert ZendeskProvider.connect_options[0]["name"] == "subdomain"


def test_invalid_subdomain_sends_no_request(workspace):
    provider = make_provider(make_connection(workspace, options={"subdomain": "evil.com/"}))

    with pytest.raises(ProviderError, match="Reconnect Zendesk") as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 0


# API token -----------------------------------------------------------------


def test_api_token_sent_as_basic_auth(workspace):
    provider = make_provider(make_connection(workspace))
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", json=load("users_me"))

    provider.verify()

    expected = base64.b64encode(b"avery@acme.test/token:zd-api-token-0001-invented").decode()
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_clean_api_token_returns_credentials():
    credentials = ZendeskProvider.clean_api_token(" avery@acme.test ", " zd-api-token-0001-invented\n")

    assert credentials == API_TOKEN_CREDENTIALS


def test_clean_api_token_rejects_missing_email():
    with pytest.raises(ProviderError, match="agent email"):
        ZendeskProvider.clean_api_token("", "zd-api-token")


def test_clean_api_token_rejects_missing_token():
    with pytest.raises(ProviderError, match="API token is missing"):
        ZendeskProvider.clean_api_token("avery@acme.test", "  ")


# Identity ----------------------------------------------------------------


def test_verify_names_account_by_subdomain(workspace):
    provider = make_provider(make_connection(workspace))
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", json=load("users_me"))

    identity = provider.verify()

    assert identity.account_id == "acme"
    assert identity.account_name == "acme.zendesk.com"


def test_verify_uses_sandbox_base_url(workspace):
    provider = make_provider(make_connection(workspace, base_url=SANDBOX))
    responses.add(responses.GET, f"{SANDBOX}/api/v2/users/me.json", json=load("users_me"))

    identity = provider.verify()

    assert identity.account_id == "acme"
    assert len(responses.calls) == 1


def test_verify_rejects_anonymous_answer(workspace):
    provider = make_provider(make_connection(workspace))
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", json=load("users_me_anonymous"))

    with pytest.raises(ProviderError, match="anonymous user") as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION


def test_connection_verify_stores_account(workspace):
    connection = make_connection(workspace)
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", json=load("users_me"))

    connection.verify()

    connection.refresh_from_db()
    assert connection.account_id == "acme"
    assert connection.account_name == "acme.zendesk.com"


# OAuth -----------------------------------------------------------------------


def test_oauth_config_on_account_host():
    config = ZendeskProvider.oauth_config("https://acme.zendesk.com")

    assert config.authorize_url == "https://acme.zendesk.com/oauth/authorizations/new"
    assert config.token_url == "https://acme.zendesk.com/oauth/tokens"
    assert config.scopes == ("read", "write")
    assert config.pkce is True


def test_oauth_config_without_base_url_raises():
    with pytest.raises(ValueError, match="base_url_for"):
        ZendeskProvider.oauth_config("")


def test_exchange_code_sends_json_with_verifier():
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))

    tokens = ZendeskProvider.exchange_code(
        code="zd-code-1",
        redirect_uri="https://app.test/connections/oauth/zendesk/callback",
        client_id="oneprofile",
        client_secret="zd-client-secret",
        code_verifier="verifier-0001",
        base_url=API,
    )

    assert tokens.access_token == "zd-at-rotated-0002"
    assert tokens.refresh_token == "zd-rt-rotated-0002"
    assert tokens.expires_in == 172800
    body = sent_json(responses.calls[0])
    assert body["grant_type"] == "authorization_code"
    assert body["code_verifier"] == "verifier-0001"
    assert body["scope"] == "read write"


def test_refresh_with_revoked_token_requires_reauthorisation():
    responses.add(responses.POST, TOKEN_URL, status=400, json=load("oauth_invalid_grant"))

    with pytest.raises(ReauthorizationRequired, match="grant is invalid"):
        ZendeskProvider.refresh_tokens(refresh_token="zd-rt-revoked", client_id="c", client_secret="s", base_url=API)


def test_401_refreshes_then_retries_once_with_new_token(workspace, settings):
    settings.OAUTH_CLIENTS = {**settings.OAUTH_CLIENTS, "zendesk": {"client_id": "oneprofile", "client_secret": "zd-secret"}}
    connection = make_oauth_connection(workspace)
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", status=401, json=load("error_invalid_token"))
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", json=load("users_me"))
    responses.add(
        responses.POST,
        TOKEN_URL,
        json=load("oauth_token"),
        match=[matchers.json_params_matcher({"grant_type": "refresh_token", "refresh_token": "zd-rt-0001", "client_id": "oneprofile", "client_secret": "zd-secret"})],
    )

    identity = provider.verify()

    assert identity.account_id == "acme"
    me_calls = calls_to("/api/v2/users/me.json")
    assert len(me_calls) == 2
    assert me_calls[0].request.headers["Authorization"] == "Bearer zd-at-expired-0001"
    assert me_calls[1].request.headers["Authorization"] == "Bearer zd-at-rotated-0002"
    assert len(calls_to("/oauth/tokens")) == 1


def test_rotated_refresh_token_is_stored(workspace):
    connection = make_oauth_connection(workspace)
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))

    connection.refresh_access_token(force=True)

    connection.refresh_from_db()
    assert connection.get_credentials() == {"access_token": "zd-at-rotated-0002", "refresh_token": "zd-rt-rotated-0002"}
    assert connection.token_expires_at is not None


def test_revoked_refresh_marks_connection_for_reauth(workspace):
    connection = make_oauth_connection(workspace)
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/api/v2/users/me.json", status=401, json=load("error_invalid_token"))
    responses.add(responses.POST, TOKEN_URL, status=400, json=load("oauth_invalid_grant"))

    with pytest.raises(ReauthorizationRequired):
        provider.verify()

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert len(calls_to("/oauth/tokens")) == 1


def test_needs_reauth_connection_sends_nothing(workspace):
    connection = make_oauth_connection(workspace)
    connection.status = Connection.Status.NEEDS_REAUTH
    connection.save()
    provider = make_provider(connection)

    with pytest.raises(ReauthorizationRequired):
        provider.verify()

    assert len(responses.calls) == 0


def test_refresh_without_account_host_sends_nothing():
    with pytest.raises(ProviderError, match="address is unknown"):
        ZendeskProvider.refresh_tokens(refresh_token="zd-rt-0001", client_id="c", client_secret="s", base_url="")

    assert len(responses.calls) == 0
