"""
The OAuth 2.0 authorization-code flow: state bound to the session, PKCE, exact redirect URIs.

Starting an authorization stores a random `state` in the member's session
with what the callback needs: the provider, the workspace, the PKCE
code_verifier (RFC 7636, S256), the connection being reconnected, if any,
and an expiry. It also stores the connect options the member entered, such
as a Zendesk subdomain. The callback consumes the state on first use, so a state
never works twice, and a state started in another browser session is
simply not found. Each provider has one callback URL outside the workspace
prefix, registered once at the tool.
"""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.urls import reverse

SESSION_KEY = "connections_oauth_states"
STATE_MAX_AGE_SECONDS = 10 * 60
# Pending authorizations kept per session. Each tab that starts a flow adds
# one; the oldest are dropped beyond this, so a session can't grow unbounded.
MAX_PENDING_STATES = 10


class OAuthFlowError(Exception):
    """An OAuth callback that must not go on to the token endpoint; the message is shown to the member."""


class OAuthNotConfigured(OAuthFlowError):
    """The provider has no OAuth client id or secret in the settings."""


@dataclass(frozen=True)
class PendingAuthorization:
    """The authorization that a consumed state belongs to."""

    provider: str
    workspace_id: str  # the workspace's public_id, as text
    user_id: int
    code_verifier: str
    reconnect_id: str  # the public_id of the connection being reconnected, or ""
    options: dict  # the connect options entered before the authorize page, such as {"subdomain": "acme"}


def redirect_uri(provider_name):
    """Return the exact callback URL registered at the tool for `provider_name`."""
    return settings.SITE_URL + reverse("connections:oauth_callback", args=[provider_name])


def client_credentials(provider_class):
    """
    Return (client_id, client_secret) of the provider's OAuth app.

    Raises OAuthNotConfigured naming the environment variables to set when
    either is missing.
    """
    client = settings.OAUTH_CLIENTS.get(provider_class.name) or {}
    client_id = client.get("client_id", "")
    client_secret = client.get("client_secret", "")
    if not client_id or not client_secret:
        prefix = provider_class.name.upper()
        raise OAuthNotConfigured(
            f"OAuth is not configured for {provider_class.label}: set "
            f"{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET in the environment "
            f"and restart the server."
        )
    return client_id, client_secret


def oauth_base_url(provider_class, options, base_url=None):
    """
    Return the base URL that the OAuth endpoints of a connection with `options` derive from.

    `base_url` is a connection's stored base URL. None means a new
    connection, whose base URL is the sandbox override of
    settings.PROVIDER_BASE_URLS. When that is empty, a provider with
    `base_url_for` derives the account's own address from the options (Zendesk:
    https://{subdomain}.zendesk.com), and the others use their real
    endpoints (""). Raises ValueError when the options are invalid.
    """
    if base_url is None:
        base_url = settings.PROVIDER_BASE_URLS.get(provider_class.name, "")
    if base_url:
        return base_url
    base_url_for = getattr(provider_class, "base_url_for", None)
    return base_url_for(options or {}) if base_url_for is not None else ""


def oauth_config_for(provider_class, base_url=""):
    """Return the provider's OAuthConfig at `base_url` (see oauth_base_url), or None when it has no OAuth."""
    if "oauth" not in provider_class.auth_methods:
        return None
    return provider_class.oauth_config(base_url)


def code_challenge(code_verifier):
    """Return the S256 PKCE challenge of a code_verifier: unpadded base64url of its SHA-256 digest."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin_authorization(request, provider_class, workspace, reconnect=None, options=None):
    """
    Store a new state in the session and return the tool's authorize URL.

    `reconnect` is the Connection being re-authorised, or None for a new
    connection, whose cleaned connect options are `options`. A reconnection
    keeps the connection's own options and base URL. Raises
    OAuthNotConfigured when the provider has no OAuth client, and
    OAuthFlowError when it doesn't offer OAuth at all or the options give no
    address to authorize at.
    """
    if reconnect is not None:
        options = dict(reconnect.options or {})
    options = dict(options or {})
    try:
        base_url = oauth_base_url(provider_class, options, reconnect.base_url if reconnect is not None else None)
        config = oauth_config_for(provider_class, base_url)
    except ValueError as error:
        raise OAuthFlowError(f"{error} Nothing was connected.") from None
    if config is None:
        raise OAuthFlowError(f"{provider_class.label} doesn't offer OAuth. Connect it with an API key.")
    client_id, _ = client_credentials(provider_class)

    state = secrets.token_urlsafe(32)
    # 64 random bytes give an 86-character verifier, inside RFC 7636's 43 to 128.
    code_verifier = secrets.token_urlsafe(64) if config.pkce else ""
    pending = _pending_states(request)
    pending[state] = {
        "provider": provider_class.name,
        "workspace": str(workspace.public_id),
        "user": request.user.pk,
        "code_verifier": code_verifier,
        "reconnect": str(reconnect.public_id) if reconnect is not None else "",
        "options": options,
        "expires_at": time.time() + STATE_MAX_AGE_SECONDS,
    }
    _save_pending_states(request, pending)

    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri(provider_class.name),
        "state": state,
    }
    if config.scopes:
        params["scope"] = " ".join(config.scopes)
    if config.pkce:
        params["code_challenge"] = code_challenge(code_verifier)
        params["code_challenge_method"] = "S256"
    params.update(config.extra_params)
    separator = "&" if urlsplit(config.authorize_url).query else "?"
    return f"{config.authorize_url}{separator}{urlencode(params)}"


def consume_state(request, provider_name, state):
    """
    Remove `state` from the session and return its PendingAuthorization.

    Raises OAuthFlowError when the state is missing, unknown to this session
    (wrong, already used, or started in another browser), expired, started
    for another provider than the callback URL names, or started by another
    user of the same browser.
    """
    if not state:
        raise OAuthFlowError(
            "The redirect from the tool has no state parameter, so it can't be "
            "matched to a connection you started. Start connecting again from "
            "the Connections page."
        )
    pending = _pending_states(request)
    entry = pending.pop(state, None)
    _save_pending_states(request, pending)
    if entry is None:
        raise OAuthFlowError(
            "This authorization doesn't match any connection started in this "
            "browser session: it was already used, or it was started elsewhere. "
            "Start connecting again from the Connections page."
        )
    if entry["expires_at"] < time.time():
        raise OAuthFlowError(
            f"This authorization expired: it must be completed within "
            f"{STATE_MAX_AGE_SECONDS // 60} minutes. Start connecting again "
            f"from the Connections page."
        )
    if entry["provider"] != provider_name:
        raise OAuthFlowError(
            f"This authorization was started for {entry['provider']} but came "
            f"back on the callback URL of {provider_name}. Nothing was "
            f"connected. Start connecting again from the Connections page."
        )
    if entry["user"] != request.user.pk:
        raise OAuthFlowError(
            "This authorization was started by another user of this browser. "
            "Start connecting again from the Connections page."
        )
    return PendingAuthorization(
        provider=entry["provider"],
        workspace_id=entry["workspace"],
        user_id=entry["user"],
        code_verifier=entry["code_verifier"],
        reconnect_id=entry["reconnect"],
        options=dict(entry.get("options") or {}),
    )


def _pending_states(request):
    # An expired state is kept for one more expiry period, so that a late
    # callback gets the "expired" error instead of "not started in this session".
    now = time.time()
    pending = {
        state: entry
        for state, entry in request.session.get(SESSION_KEY, {}).items()
        if entry.get("expires_at", 0) >= now - STATE_MAX_AGE_SECONDS
    }
    return pending


def _save_pending_states(request, pending):
    newest = sorted(pending.items(), key=lambda item: item[1]["expires_at"])[-MAX_PENDING_STATES:]
    request.session[SESSION_KEY] = dict(newest)
