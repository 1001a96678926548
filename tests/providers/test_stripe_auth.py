"""Connecting to Stripe: API keys, Connect OAuth, account identity and error classification."""

import pytest
import requests
import responses
from responses import matchers

from connections.models import Connection
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.stripe import StripeProvider
from connections.providers.types import FailureCategory

from .stripe_support import API, FIXTURES, TOKEN_URL, load, make_connection, make_provider, request_form

SANDBOX = "http://127.0.0.1:8000/sandbox/stripe"


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def answer(status, fixture=None, body="", content_type="application/json"):
    """Return a requests.Response as Stripe would send it, for classify_error."""
    response = requests.Response()
    response.status_code = status
    response._content = (FIXTURES / fixture).read_bytes() if fixture else body.encode()
    response.headers["Content-Type"] = content_type
    return response


# API keys ---------------------------------------------------------------


def test_publishable_key_rejected_without_call(workspace):
    provider = make_provider(make_connection(workspace, credentials={"api_key": "pk_test_Inv3ntedPublishable"}))

    with pytest.raises(ProviderError, match="publishable key") as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 0


def test_unknown_key_prefix_rejected_with_hint():
    with pytest.raises(ProviderError, match="start with sk_ or rk_") as raised:
        StripeProvider.clean_api_key("whsec_Inv3ntedSigningSecret")

    assert "Inv3nted" not in raised.value.message


def test_restricted_and_secret_keys_accepted():
    assert StripeProvider.clean_api_key("  rk_live_Inv3nted01 ") == "rk_live_Inv3nted01"
    assert StripeProvider.clean_api_key("sk_test_Inv3nted02") == "sk_test_Inv3nted02"


def test_api_key_help_names_permissions():
    for permission in ("Customers", "Subscriptions", "Invoices", "Products", "Prices", "Events"):
        assert permission in StripeProvider.api_key_help


def test_verify_returns_account_identity(provider):
    responses.add(responses.GET, f"{API}/v1/account", json=load("account.json"))

    identity = provider.verify()

    assert identity.account_id == "acct_1AcmeAnalytics"
    assert identity.account_name == "Acme Analytics"


def test_verify_401_is_authorisation_error(provider):
    responses.add(responses.GET, f"{API}/v1/account", status=401, json=load("error_invalid_api_key.json"))

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 1


# OAuth (Stripe Connect) ---------------------------------------------------


def test_oauth_config_uses_connect_host_for_real_api():
    config = StripeProvider.oauth_config()

    assert config.authorize_url == "https://connect.stripe.com/oauth/authorize"
    assert config.token_url == "https://connect.stripe.com/oauth/token"
    assert config.scopes == ("read_write",)


def test_oauth_config_derives_sandbox_urls():
    config = StripeProvider.oauth_config(SANDBOX + "/")

    assert config.authorize_url == f"{SANDBOX}/connect/oauth/authorize"
    assert config.token_url == f"{SANDBOX}/connect/oauth/token"


def test_exchange_code_returns_token_set():
    responses.add(responses.POST, TOKEN_URL, json=load("oauth_token.json"))

    tokens = StripeProvider.exchange_code(
        code="ac_Inv3ntedCode", redirect_uri="https://app.test/cb", client_id="ca_Inv3nted", client_secret="sk_test_Platform"
    )

    assert tokens.access_token == "sk_test_RefreshedAccessToken01"
    assert tokens.refresh_token == "rt_RotatedRefreshToken01"
    assert tokens.extra["stripe_user_id"] == "acct_1AcmeAnalytics"
    assert "stripe_publishable_key" not in tokens.extra
    assert request_form(responses.calls[0]) == {
        "grant_type": ["authorization_code"],
        "code": ["ac_Inv3ntedCode"],
        "client_secret": ["sk_test_Platform"],
    }


def test_refresh_with_revoked_token_requires_reauthorisation():
    responses.add(responses.POST, TOKEN_URL, status=400, json=load("oauth_invalid_grant.json"))

    with pytest.raises(ReauthorizationRequired, match="Refresh token does not exist"):
        StripeProvider.refresh_tokens(refresh_token="rt_RevokedToken01", client_id="ca_X", client_secret="sk_test_P")


def test_401_refreshes_token_then_retries_once(workspace):
    connection = make_connection(
        workspace,
        credentials={"access_token": "sk_test_ExpiredAccess01", "refresh_token": "rt_Inv3ntedRefresh01"},
        auth_method=Connection.AuthMethod.OAUTH,
    )
    provider = make_provider(connection)
    responses.add(responses.GET, f"{API}/v1/account", status=401, json=load("error_invalid_api_key.json"))
    responses.add(responses.GET, f"{API}/v1/account", json=load("account.json"))
    responses.add(
        responses.POST,
        TOKEN_URL,
        json=load("oauth_token.json"),
        match=[matchers.urlencoded_params_matcher({"grant_type": "refresh_token", "refresh_token": "rt_Inv3ntedRefresh01", "client_secret": ""}, allow_blank=True)],
    )

    identity = provider.verify()

    assert identity.account_id == "acct_1AcmeAnalytics"
    account_calls = [call for call in responses.calls if call.request.url.startswith(f"{API}/v1/account")]
    assert len(account_calls) == 2
    assert account_calls[1].request.headers["Authorization"] == "Bearer sk_test_RefreshedAccessToken01"
    connection.refresh_from_db()
    assert connection.get_credentials()["refresh_token"] == "rt_RotatedRefreshToken01"


# Error classification ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fixture", "category", "words"),
    [
        (401, "error_invalid_api_key.json", FailureCategory.AUTHORISATION, "rejected the connection's key"),
        (403, "error_permission.json", FailureCategory.AUTHORISATION, "lacks the rak_customer_write permission"),
        (404, "error_no_such_customer.json", FailureCategory.NOT_FOUND, "No such customer: 'cus_Gone99'"),
        (400, "error_invalid_metadata.json", FailureCategory.REJECTED_VALUE, "Stripe rejected metadata[plan_tier]"),
        (409, "error_idempotency.json", FailureCategory.TOOL_ERROR, "conflicting request"),
        (429, "error_rate_limit.json", FailureCategory.RATE_LIMITED, "rate limit"),
        (429, "error_lock_timeout.json", FailureCategory.RATE_LIMITED, "lock timeout"),
        (500, "error_api.json", FailureCategory.TOOL_ERROR, "internal error (HTTP 500)"),
    ],
)
def test_classify_error_reads_stripe_body(provider, status, fixture, category, words):
    error = provider.classify_error(answer(status, fixture))

    assert error.category == category
    assert words in error.message
    assert error.status == status


def test_classify_error_redacts_keys_in_message(provider):
    body = '{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_Inv3ntedFull01"}}'

    error = provider.classify_error(answer(401, body=body))

    assert "sk_test_Inv3ntedFull01" not in error.message
    assert "sk_test_Inv3ntedFull01" not in error.response


def test_classify_error_survives_html_body(provider):
    error = provider.classify_error(answer(502, body="<html>Bad Gateway</html>", content_type="text/html"))

    assert error.category == FailureCategory.TOOL_ERROR
    assert error.message == "Stripe had an internal error (HTTP 502)."
    assert error.response == "<html>Bad Gateway</html>"


def test_classify_error_survives_plain_text_429(provider):
    error = provider.classify_error(answer(429, body="Too Many Requests", content_type="text/plain"))

    assert error.category == FailureCategory.RATE_LIMITED
    assert error.is_transient
