"""HubSpot OAuth, private-app tokens, account verification and token refresh."""

from urllib.parse import parse_qs

import pytest
import responses

from connections.models import Connection
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.hubspot import HubSpotProvider
from connections.providers.types import FailureCategory
from tests.providers.hubspot_support import (
    API,
    CLIENT,
    calls_to,
    create_connection,
    create_oauth_connection,
    load,
    make_provider,
)

TOKEN_URL = f"{API}/oauth/v1/token"


@pytest.fixture
def hubspot_client(settings):
    settings.OAUTH_CLIENTS = {**settings.OAUTH_CLIENTS, "hubspot": CLIENT}


def test_oauth_config_uses_pkce_and_scopes():
    config = HubSpotProvider.oauth_config()

    assert config.authorize_url == "https://app.hubspot.com/oauth/authorize"
    assert config.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert config.pkce is True
    assert "crm.objects.contacts.write" in config.scopes
    assert "crm.schemas.companies.read" in config.scopes
    assert "oauth" in config.scopes


def test_oauth_config_follows_sandbox_base_url():
    config = HubSpotProvider.oauth_config("http://127.0.0.1:8001/hubspot/")

    assert config.authorize_url == "http://127.0.0.1:8001/hubspot/oauth/authorize"
    assert config.token_url == "http://127.0.0.1:8001/hubspot/oauth/v1/token"


def test_exchange_code_sends_verifier_and_returns_tokens():
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))

    tokens = HubSpotProvider.exchange_code(
        code="code-0001",
        redirect_uri="https://oneprofile.example/connections/oauth/callback",
        code_verifier="verifier-0001",
        **CLIENT,
    )

    form = parse_qs(responses.calls[0].request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["code-0001"]
    assert form["code_verifier"] == ["verifier-0001"]
    assert form["redirect_uri"] == ["https://oneprofile.example/connections/oauth/callback"]
    assert tokens.access_token == "at-2-invented"
    assert tokens.refresh_token == "rt-0001-invented"
    assert tokens.expires_in == 1800


def test_refresh_tokens_sends_form_encoded_refresh_grant():
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))

    tokens = HubSpotProvider.refresh_tokens(refresh_token="rt-0001-invented", **CLIENT)

    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body) == {
        "grant_type": ["refresh_token"],
        "client_id": ["client-id-0001"],
        "client_secret": ["client-secret-0001"],
        "refresh_token": ["rt-0001-invented"],
    }
    assert tokens.access_token == "at-2-invented"


@pytest.mark.parametrize(
    "body",
    [
        load("oauth_bad_refresh_token"),
        {"error": "invalid_grant", "error_description": "refresh token is revoked"},
    ],
)
def test_refresh_tokens_revoked_requires_reauthorization(body):
    responses.add(responses.POST, TOKEN_URL, status=400, json=body)

    with pytest.raises(ReauthorizationRequired) as raised:
        HubSpotProvider.refresh_tokens(refresh_token="rt-0001-invented", **CLIENT)

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert "reconnect HubSpot" in raised.value.message


def test_refresh_tokens_bad_client_is_not_reauthorization():
    responses.add(responses.POST, TOKEN_URL, status=400, json={"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"})

    with pytest.raises(ProviderError) as raised:
        HubSpotProvider.refresh_tokens(refresh_token="rt-0001-invented", **CLIENT)

    assert not isinstance(raised.value, ReauthorizationRequired)
    assert "client id" in raised.value.message


def test_verify_returns_portal_identity(workspace):
    responses.add(responses.GET, f"{API}/account-info/v3/details", json=load("account_details"))
    provider = make_provider(create_connection(workspace))

    identity = provider.verify()

    assert identity.account_id == "62515"
    assert identity.account_name == "HubSpot portal 62515"


def test_private_app_token_sent_as_bearer(workspace):
    responses.add(responses.GET, f"{API}/account-info/v3/details", json=load("account_details"))
    provider = make_provider(create_connection(workspace))

    provider.verify()

    assert responses.calls[0].request.headers["Authorization"] == "Bearer pat-na1-00000000-test"


def test_expired_token_refreshed_once_and_request_repeated(workspace, hubspot_client):
    connection = create_oauth_connection(workspace)
    responses.add(responses.GET, f"{API}/account-info/v3/details", status=401, json=load("error_expired_token"))
    responses.add(responses.GET, f"{API}/account-info/v3/details", json=load("account_details"))
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))
    provider = make_provider(connection)

    identity = provider.verify()

    detail_calls = calls_to("/account-info/v3/details")
    assert identity.account_id == "62515"
    assert len(calls_to("/oauth/v1/token")) == 1
    assert len(detail_calls) == 2
    assert detail_calls[0].request.headers["Authorization"] == "Bearer at-1-invented"
    assert detail_calls[1].request.headers["Authorization"] == "Bearer at-2-invented"
    connection.refresh_from_db()
    assert connection.get_credentials()["access_token"] == "at-2-invented"


def test_token_about_to_expire_refreshed_before_request(workspace, hubspot_client):
    connection = create_oauth_connection(workspace, expires_in=60)
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token"))
    responses.add(responses.GET, f"{API}/account-info/v3/details", json=load("account_details"))
    provider = make_provider(connection)

    provider.verify()

    assert responses.calls[0].request.url == TOKEN_URL
    assert responses.calls[1].request.headers["Authorization"] == "Bearer at-2-invented"


def test_revoked_refresh_token_marks_connection_and_stops(workspace, hubspot_client):
    connection = create_oauth_connection(workspace)
    responses.add(responses.GET, f"{API}/account-info/v3/details", status=401, json=load("error_expired_token"))
    responses.add(responses.POST, TOKEN_URL, status=400, json=load("oauth_bad_refresh_token"))
    provider = make_provider(connection)

    with pytest.raises(ReauthorizationRequired):
        provider.verify()
    with pytest.raises(ReauthorizationRequired):
        provider.read_changes("contact", ["firstname"]).__next__()

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert len(calls_to("/oauth/v1/token")) == 1
    assert len(calls_to("/account-info/v3/details")) == 1
    assert len(responses.calls) == 2


def test_missing_scope_named_in_error(workspace):
    responses.add(responses.GET, f"{API}/crm/v3/properties/contacts", status=403, json=load("error_missing_scopes"))
    provider = make_provider(create_connection(workspace))

    with pytest.raises(ProviderError) as raised:
        provider.list_fields("contact")

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert "crm.objects.contacts.write" in raised.value.message
    assert "3f7d2a6e-96c5-4b89-a3f9-5f2b1d1c0b77" in raised.value.message
