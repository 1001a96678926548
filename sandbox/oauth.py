"""
OAuth 2.0 authorization-code flow shared by the tool stand-ins.

Each tool has its own paths and error shapes (see `stripe.py` and
`hubspot.py`); this module contains the apps, single-use codes, token grants,
PKCE checks and the consent page with its Allow and Deny buttons.
"""

import base64
import hashlib
import hmac
import html
import secrets
import threading
from dataclasses import dataclass, field

from sandbox.web import append_query

CODE_LIFETIME_SECONDS = 600


class OAuthError(Exception):
    """A refused OAuth request; `kind` is one of the class constants, mapped to each tool's error shape."""

    BAD_CLIENT_ID = "bad_client_id"
    BAD_CLIENT_SECRET = "bad_client_secret"
    BAD_REDIRECT_URI = "bad_redirect_uri"
    BAD_CODE = "bad_code"
    BAD_VERIFIER = "bad_verifier"
    BAD_REFRESH_TOKEN = "bad_refresh_token"
    BAD_GRANT_TYPE = "bad_grant_type"
    MISSING_PARAMETER = "missing_parameter"

    def __init__(self, kind, description):
        super().__init__(description)
        self.kind = kind
        self.description = description


@dataclass
class OAuthApp:
    """A client registered with one tool; an empty `redirect_uris` accepts any redirect URI."""

    tool: str
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list = field(default_factory=list)


@dataclass
class AuthorizationCode:
    code: str
    tool: str
    client_id: str
    redirect_uri: str
    scope: str
    account: str
    expires_at: float
    code_challenge: str = ""
    used: bool = False


@dataclass
class TokenGrant:
    """An access token with its refresh token, bound to one tool account."""

    tool: str
    client_id: str
    account: str
    scope: str
    access_token: str
    refresh_token: str
    expires_at: float | None
    revoked: bool = False


class OAuthServer:
    """Apps, codes and grants of every tool, behind one lock."""

    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self.apps = {}
        self.codes = {}
        self.grants_by_access = {}
        self.grants_by_refresh = {}

    def register_app(self, tool, client_id, client_secret, name, redirect_uris=()):
        """Register (or replace) a client of `tool`."""
        with self._lock:
            self.apps[(tool, client_id)] = OAuthApp(tool, client_id, client_secret, name, list(redirect_uris))

    def check_authorize_request(self, tool, client_id, redirect_uri):
        """Return the app for an authorize request, or raise OAuthError naming the bad value."""
        app = self.apps.get((tool, client_id))
        if app is None:
            raise OAuthError(OAuthError.BAD_CLIENT_ID, f"Unknown client_id {client_id!r}: register the app first.")
        if not redirect_uri:
            raise OAuthError(OAuthError.MISSING_PARAMETER, "Missing redirect_uri.")
        if app.redirect_uris and redirect_uri not in app.redirect_uris:
            raise OAuthError(
                OAuthError.BAD_REDIRECT_URI,
                f"redirect_uri {redirect_uri!r} does not match any redirect URI registered for {client_id!r}.",
            )
        return app

    def issue_code(self, tool, client_id, redirect_uri, scope, account, code_challenge="", prefix=""):
        """Create a single-use authorization code valid for ten minutes."""
        code = prefix + secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = AuthorizationCode(
                code=code,
                tool=tool,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scope=scope,
                account=account,
                expires_at=self._clock.now() + CODE_LIFETIME_SECONDS,
                code_challenge=code_challenge,
            )
        return code

    def authenticate_client(self, tool, client_id, client_secret):
        app = self.apps.get((tool, client_id))
        if app is None:
            raise OAuthError(OAuthError.BAD_CLIENT_ID, f"Unknown client_id {client_id!r}.")
        if not hmac.compare_digest(app.client_secret, client_secret or ""):
            raise OAuthError(OAuthError.BAD_CLIENT_SECRET, f"Invalid client_secret for client_id {client_id!r}.")
        return app

    def redeem_code(self, tool, code, client_id, redirect_uri=None, code_verifier=None, lifetime=None):
        """
        Exchange a code for a new grant; the code is spent even when the exchange fails.

        `redirect_uri` is checked only when given (Stripe's token call has
        none); `code_verifier` is required when the code carries a PKCE
        challenge. `lifetime` is the access token's lifetime in seconds, or
        None for a token that never expires.
        """
        with self._lock:
            stored = self.codes.get(code or "")
            if stored is None or stored.tool != tool:
                raise OAuthError(OAuthError.BAD_CODE, f"Authorization code does not exist: {code!r}")
            if stored.used:
                raise OAuthError(OAuthError.BAD_CODE, f"Authorization code has already been used: {code!r}")
            stored.used = True
            if stored.expires_at < self._clock.now():
                raise OAuthError(OAuthError.BAD_CODE, f"Authorization code has expired: {code!r}")
            if stored.client_id != client_id:
                raise OAuthError(OAuthError.BAD_CODE, f"Authorization code {code!r} was issued to another client.")
            if redirect_uri is not None and redirect_uri != stored.redirect_uri:
                raise OAuthError(
                    OAuthError.BAD_REDIRECT_URI,
                    f"redirect_uri {redirect_uri!r} differs from the one used to authorize ({stored.redirect_uri!r}).",
                )
            if stored.code_challenge and not verifier_matches(code_verifier, stored.code_challenge):
                raise OAuthError(OAuthError.BAD_VERIFIER, "code_verifier does not match the code_challenge.")
            grant = TokenGrant(
                tool=tool,
                client_id=client_id,
                account=stored.account,
                scope=stored.scope,
                access_token=_new_token(tool, "access"),
                refresh_token=_new_token(tool, "refresh"),
                expires_at=None if lifetime is None else self._clock.now() + lifetime,
            )
            self.grants_by_access[grant.access_token] = grant
            self.grants_by_refresh[grant.refresh_token] = grant
            return grant

    def refresh(self, tool, refresh_token, client_id, lifetime=None):
        """Mint a new access token for a refresh token; the refresh token itself stays the same."""
        with self._lock:
            grant = self.grants_by_refresh.get(refresh_token or "")
            if grant is None or grant.tool != tool or grant.revoked:
                raise OAuthError(OAuthError.BAD_REFRESH_TOKEN, "The refresh token is missing, unknown or revoked.")
            if grant.client_id != client_id:
                raise OAuthError(OAuthError.BAD_REFRESH_TOKEN, "The refresh token was issued to another client.")
            self.grants_by_access.pop(grant.access_token, None)
            grant.access_token = _new_token(tool, "access")
            grant.expires_at = None if lifetime is None else self._clock.now() + lifetime
            self.grants_by_access[grant.access_token] = grant
            return grant

    def grant_for_access_token(self, tool, access_token):
        """Return the grant of an access token of `tool` (expired or not), or None."""
        grant = self.grants_by_access.get(access_token)
        if grant is None or grant.tool != tool or grant.revoked:
            return None
        return grant

    def is_expired(self, grant):
        return grant.expires_at is not None and grant.expires_at <= self._clock.now()

    def expire_access_token(self, access_token):
        """Make an access token expired from now on, as if its lifetime had passed."""
        with self._lock:
            self.grants_by_access[access_token].expires_at = self._clock.now() - 1

    def revoke_refresh_token(self, refresh_token):
        """Revoke a refresh token and the access token minted from it."""
        with self._lock:
            self.grants_by_refresh[refresh_token].revoked = True


def _new_token(tool, kind):
    prefixes = {
        ("stripe", "access"): "sk_test_oauth_",
        ("stripe", "refresh"): "rt_",
        ("hubspot", "access"): "hs-sandbox-at-",
        ("hubspot", "refresh"): "hs-sandbox-rt-",
    }
    return prefixes.get((tool, kind), f"{tool}-{kind}-") + secrets.token_urlsafe(24)


def pkce_challenge(verifier):
    """Return the S256 code challenge of a PKCE verifier (RFC 7636, section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier, challenge):
    if not verifier:
        return False
    return hmac.compare_digest(pkce_challenge(verifier), challenge)


def consent_page(tool_label, app, accounts, action, hidden_fields, scope):
    """
    Render the consent page: the app, the account to connect, Allow and Deny.

    It is one form posted back to `action`, so it works without JavaScript.
    `accounts` is a list of (value, label) pairs.
    """
    escape = html.escape
    options = "".join(
        f'<option value="{escape(str(value))}">{escape(label)}</option>' for value, label in accounts
    )
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in hidden_fields.items()
        if value is not None
    )
    scopes = "".join(f"<li>{escape(item)}</li>" for item in scope.replace(",", " ").split() if item)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(tool_label)} sandbox: authorize {escape(app.name)}</title></head>
<body>
<main>
<h1>{escape(app.name)} wants to connect to your {escape(tool_label)} sandbox account</h1>
<form method="post" action="{escape(action)}">
{hidden}
<p><label for="account">Account</label>
<select id="account" name="account">{options}</select></p>
<p>Requested access:</p>
<ul>{scopes or "<li>default</li>"}</ul>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</main>
</body>
</html>
"""


def error_page(tool_label, message):
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(tool_label)} sandbox: authorization failed</title></head>
<body><main><h1>Authorization failed</h1><p>{html.escape(message)}</p></main></body></html>
"""


def redirect_with(redirect_uri, params):
    return append_query(redirect_uri, {key: value for key, value in params.items() if value is not None})
