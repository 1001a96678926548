"""Connecting to Mailchimp: API keys and their data centre, OAuth and its metadata, account identity."""

import base64

import pytest
import responses
from responses import matchers

from connections.models import Connection
from connections.providers.base import TokenSet
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.mailchimp import MailchimpProvider
from connections.providers.types import FailureCategory

from .mailchimp_support import (
    ACCESS_TOKEN,
    API,
    API_KEY,
    LOGIN,
    load,
    make_connection,
    make_provider,
)

SANDBOX = "http://127.0.0.1:8000/sandbox/mailchimp"


# API keys and data centres --------------------------------------------------


def test_api_key_data_centre_is_its_suffix():
    assert MailchimpProvider.options_for_api_key(API_KEY) == {"dc": "us6"}
    assert MailchimpProvider.options_for_api_key("  0123456789abcdef0123456789abcdef-us21 ") == {"dc": "us21"}


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("", "missing"),
        ("0123456789abcdef0123456789abcdef", "no data centre suffix"),
        ("0123456789abcdef0123456789abcdef-", "not a data centre"),
        ("0123456789abcdef0123456789abcdef-evil.example/x", "not a data centre"),
        ("-us6", "no data centre suffix"),
    ],
)
def test_api_key_without_valid_suffix_rejected(key, words):
    with pytest.raises(ProviderError, match=words) as raised:
        MailchimpProvider.options_for_api_key(key)

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert "0123456789abcdef" not in raised.value.message


def test_clean_api_key_strips_whitespace():
    assert MailchimpProvider.clean_api_key(f"  {API_KEY}\n") == API_KEY


def test_verify_uses_key_data_centre_and_basic_auth(workspace):
    provider = make_provider(make_connection(workspace))
    responses.add(responses.GET, f"{API}/3.0/", json=load("root.json"))

    identity = provider.verify()

    assert identity.account_id == "8d3a3db4d97663a9074efcc16"
    assert identity.account_name == "Acme Analytics"
    header = responses.calls[0].request.headers["Authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header.removeprefix("Basic ")).decode().endswith(f":{API_KEY}")


def test_verify_with_bad_key_sends_nothing(workspace):
    provider = make_provider(make_connection(workspace, credentials={"api_key": "0123456789abcdef"}))

    with pytest.raises(ProviderError, match="no data centre suffix"):
        provider.verify()

    assert len(responses.calls) == 0


def test_stored_data_centre_option_wins(workspace):
    provider = make_provider(make_connection(workspace, options={"dc": "us21"}))
    responses.add(responses.GET, "https://us21.api.mailchimp.com/3.0/", json=load("root.json"))

    provider.verify()

    assert responses.calls[0].request.url.startswith("https://us21.api.mailchimp.com/3.0/")


def test_connection_base_url_replaces_data_centre_host(workspace):
    provider = make_provider(make_connection(workspace, base_url=SANDBOX))
    responses.add(responses.GET, f"{SANDBOX}/3.0/", json=load("root.json"))

    provider.verify()

    assert responses.calls[0].request.url.startswith(f"{SANDBOX}/3.0/")


# OAuth --------------------------------------------------------------------


def test_oauth_config_uses_login_host():
    config = MailchimpProvider.oauth_config()

    assert config.authorize_url == f"{LOGIN}/oauth2/authorize"
    assert config.token_url == f"{LOGIN}/oauth2/token"
    assert config.scopes == ()


def test_oauth_config_derives_sandbox_urls():
    config = MailchimpProvider.oauth_config(SANDBOX + "/")

    assert config.authorize_url == f"{SANDBOX}/oauth2/authorize"
    assert config.token_url == f"{SANDBOX}/oauth2/token"
    assert MailchimpProvider.metadata_url(SANDBOX) == f"{SANDBOX}/oauth2/metadata"


def test_exchange_code_fetches_data_centre():
    responses.add(
        responses.POST,
        f"{LOGIN}/oauth2/token",
        json=load("oauth_token.json"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "authorization_code",
                    "client_id": "123456789012",
                    "client_secret": "inv3nted-client-secret",
                    "redirect_uri": "https://app.test/cb",
                    "code": "inv3nted-code",
                }
            )
        ],
    )
    responses.add(
        responses.GET,
        f"{LOGIN}/oauth2/metadata",
        json=load("oauth_metadata.json"),
        match=[matchers.header_matcher({"Authorization": f"OAuth {ACCESS_TOKEN}"})],
    )

    tokens = MailchimpProvider.exchange_code(
        code="inv3nted-code",
        redirect_uri="https://app.test/cb",
        client_id="123456789012",
        client_secret="inv3nted-client-secret",
    )

    assert tokens.access_token == ACCESS_TOKEN
    assert tokens.refresh_token is None
    assert tokens.expires_in is None
    assert tokens.extra == {"dc": "us6"}


def test_account_options_after_oauth_reads_api_endpoint():
    metadata = load("oauth_metadata.json")
    del metadata["dc"]
    responses.add(responses.GET, f"{SANDBOX}/oauth2/metadata", json=metadata)
    token_set = TokenSet(access_token=ACCESS_TOKEN)

    options = MailchimpProvider.account_options_after_oauth(token_set, SANDBOX)

    assert options == {"dc": "us6"}


def test_exchange_code_with_bad_code_requires_reauthorisation():
    responses.add(responses.POST, f"{LOGIN}/oauth2/token", status=400, json=load("oauth_invalid_grant.json"))

    with pytest.raises(ReauthorizationRequired, match="Invalid authorization code"):
        MailchimpProvider.exchange_code(code="x", redirect_uri="https://app.test/cb", client_id="1", client_secret="s")


def test_refresh_is_impossible():
    with pytest.raises(ReauthorizationRequired, match="can't be refreshed"):
        MailchimpProvider.refresh_tokens(refresh_token="", client_id="1", client_secret="s")


def test_oauth_requests_send_bearer_token(workspace):
    connection = make_connection(
        workspace,
        credentials={"access_token": ACCESS_TOKEN},
        auth_method=Connection.AuthMethod.OAUTH,
        options={"dc": "us6"},
    )
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/3.0/", json=load("root.json"))

    provider.verify()

    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_oauth_without_data_centre_requests_metadata_once(workspace):
    connection = make_connection(
        workspace, credentials={"access_token": ACCESS_TOKEN}, auth_method=Connection.AuthMethod.OAUTH
    )
    provider = make_provider(connection)
    responses.add(responses.GET, f"{LOGIN}/oauth2/metadata", json=load("oauth_metadata.json"))
    responses.add(responses.GET, f"{API}/3.0/", json=load("root.json"))

    provider.verify()
    provider.verify()

    metadata_calls = [call for call in responses.calls if call.request.url.startswith(LOGIN)]
    assert len(metadata_calls) == 1
    connection.refresh_from_db()
    assert connection.options == {"dc": "us6"}


def test_oauth_401_marks_connection_for_reauthorisation(workspace):
    connection = make_connection(
        workspace,
        credentials={"access_token": ACCESS_TOKEN},
        auth_method=Connection.AuthMethod.OAUTH,
        options={"dc": "us6"},
    )
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/3.0/", status=401, json=load("error_api_key_invalid.json"))

    with pytest.raises(ReauthorizationRequired):
        provider.verify()

    assert len(responses.calls) == 1
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert "Reconnect Acme Mailchimp" in connection.last_error


def test_api_key_401_marks_connection_for_reauthorisation(workspace):
    connection = make_connection(workspace)
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/3.0/", status=401, json=load("error_api_key_invalid.json"))

    with pytest.raises(ReauthorizationRequired):
        provider.verify()

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH


def test_401_while_connecting_reports_mailchimp_detail(workspace):
    connection = Connection(workspace=workspace, provider="mailchimp", auth_method=Connection.AuthMethod.API_KEY)
    connection.set_credentials({"api_key": API_KEY})
    provider = make_provider(connection)
    provider.http.refresh = None
    responses.add(responses.GET, f"{API}/3.0/", status=401, json=load("error_api_key_invalid.json"))

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert "wrong datacenter" in raised.value.message
    assert not isinstance(raised.value, ReauthorizationRequired)
