"""
Faketool and Othertool: made-up tools that the connection tests connect to through `responses` mocks.

Faketool offers OAuth with PKCE and API keys; Othertool offers OAuth only.
Both behave like a careful real provider: tokens go through the shared
ProviderSession, and error messages quote the tool's error code, never its
free text, which may echo a credential back.
"""

import responses

from connections.http import ProviderSession, category_for_status
from connections.providers.base import AccountIdentity, OAuthConfig, Provider, TokenSet
from connections.providers.errors import ProviderError, ReauthorizationRequired

CLIENT_ID = "faketool-client-id"
CLIENT_SECRET = "faketool-client-secret"


def _no_wait(seconds):
    """Skip the backoff pauses between retries, so that tests of 5xx responses run fast."""


def _error_code(response):
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


class FaketoolProvider(Provider):
    name = "faketool"
    label = "Faketool"
    default_base_url = "https://api.faketool.test"
    authorize_url = "https://app.faketool.test/oauth/authorize"
    auth_methods = ("oauth", "api_key")
    api_key_label = "Secret key"
    api_key_help = "In Faketool, open Settings, then Developers, and create a secret key."

    def __init__(self, connection, session=None):
        super().__init__(connection, session)
        self.http.sleep = _no_wait

    @classmethod
    def token_url(cls, base_url=""):
        return (base_url or cls.default_base_url).rstrip("/") + "/oauth/token"

    @classmethod
    def me_url(cls, base_url=""):
        return (base_url or cls.default_base_url).rstrip("/") + "/v1/me"

    @classmethod
    def oauth_config(cls, base_url=""):
        return OAuthConfig(
            authorize_url=cls.authorize_url,
            token_url=cls.token_url(base_url),
            scopes=("contacts.read", "contacts.write"),
            pkce=True,
        )

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        if code_verifier:
            data["code_verifier"] = code_verifier
        return cls._request_tokens(base_url, data)

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return cls._request_tokens(base_url, data)

    @classmethod
    def _request_tokens(cls, base_url, data):
        session = ProviderSession(
            cls.name, None, label=cls.label, classify=cls._classify_token_error, sleep=_no_wait
        )
        response = session.post(cls.token_url(base_url), data=data, kind="auth")
        body = session.json(response)
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_in=body.get("expires_in"),
            extra={key: body[key] for key in ("region",) if key in body},
        )

    @classmethod
    def _classify_token_error(cls, response):
        code = _error_code(response)
        if response.status_code in (400, 401) and code == "invalid_grant":
            return ReauthorizationRequired(
                f"{cls.label} rejected the refresh token ({code})", status=response.status_code
            )
        return ProviderError(
            category_for_status(response.status_code),
            f"{cls.label} token endpoint answered HTTP {response.status_code}",
            status=response.status_code,
            response=response.text,
        )

    def classify_error(self, response):
        code = _error_code(response)
        detail = f" ({code})" if code else ""
        return ProviderError(
            category_for_status(response.status_code),
            f"{self.label} answered HTTP {response.status_code}{detail}",
            status=response.status_code,
            response=response.text,
        )

    def verify(self):
        response = self.http.get(self.me_url(self.base_url))
        account = self.http.json(response)["account"]
        return AccountIdentity(account_id=str(account["id"]), account_name=account["name"])


class OthertoolProvider(FaketoolProvider):
    name = "othertool"
    label = "Othertool"
    default_base_url = "https://api.othertool.test"
    authorize_url = "https://app.othertool.test/oauth/authorize"
    auth_methods = ("oauth",)


FAKE_PROVIDERS = (FaketoolProvider, OthertoolProvider)



def mock_me(account_id="acct_1", name="Acme on Faketool", provider=FaketoolProvider, status=200, body=None):
    """Mock the tool's who-am-I endpoint to return an account, or `status` and `body`."""
    if body is None:
        body = {"account": {"id": account_id, "name": name}} if status == 200 else {"error": "invalid_token"}
    responses.add(responses.GET, provider.me_url(), status=status, json=body)


def mock_token(
    access_token="new-access", refresh_token="new-refresh", expires_in=1800, provider=FaketoolProvider, status=200, body=None
):
    """Mock the tool's token endpoint to return a token pair, or `status` and `body`."""
    if body is None:
        body = {"access_token": access_token, "refresh_token": refresh_token, "expires_in": expires_in}
    responses.add(responses.POST, provider.token_url(), status=status, json=body)


def token_calls(provider=FaketoolProvider):
    """Return the requests sent to the tool's token endpoint."""
    return [call for call in responses.calls if call.request.url == provider.token_url()]
