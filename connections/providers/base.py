"""
The one small interface every tool's provider implements.

A provider is built for one connection. It reads the connection's
credentials through the connection's own methods, sends every request
through a ProviderSession, and turns the tool's responses into the plain types
of connections.providers.types. Nothing outside connections/providers/
branches on a provider's name.
"""

from dataclasses import dataclass, field
from typing import Iterator

from connections.http import ProviderSession
from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, FieldSpec, Page, Record, RecordWrite, WriteOutcome


@dataclass(frozen=True)
class OAuthConfig:
    """The endpoints and options of a tool's OAuth 2.0 authorization-code flow."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = False
    # Extra query parameters on the authorize URL.
    extra_params: dict = field(default_factory=dict)


@dataclass
class TokenSet:
    """Tokens granted by an OAuth token endpoint."""

    access_token: str
    refresh_token: str | None = None
    expires_in: int | None = None  # seconds, as the tool reported them
    # Non-secret values of the token response (Stripe's stripe_user_id, scope...).
    extra: dict = field(default_factory=dict)


@dataclass
class AccountIdentity:
    """The tool account a connection reaches, as the tool names it."""

    account_id: str
    account_name: str


class Provider:
    """
    Base class of one tool's provider; subclasses register with connections.providers.register.

    Class attributes describe the tool; instance methods act for one connection.
    """

    name = ""  # the stable code stored on connections ("stripe")
    label = ""  # the name members see ("Stripe")
    default_base_url = ""
    auth_methods = ("api_key",)  # "api_key" and/or "oauth"
    api_key_label = "API key"
    api_key_help = ""
    # Object name → label, e.g. {"contact": "Contacts"}.
    objects = {}
    lookup_batch_size = 100
    write_batch_size = 100
    # Client-side pacing for tools without a usable Retry-After; None means none.
    max_requests_per_second = None

    def __init__(self, connection, session=None):
        self.connection = connection
        self.base_url = (getattr(connection, "base_url", "") or self.default_base_url).rstrip("/")
        self.http = session or ProviderSession(
            self.name,
            getattr(connection, "pk", None),
            label=self.label,
            auth=self.auth_headers,
            refresh=self.refresh_credentials,
            classify=self.classify_error,
            throttle=self.throttle,
            max_requests_per_second=self.max_requests_per_second,
        )

    # Connecting --------------------------------------------------------

    @classmethod
    def oauth_config(cls, base_url=""):
        """Return the OAuthConfig for a connection at `base_url`, or None if the tool has no OAuth."""
        return None

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        """Trade an authorization code for tokens; returns a TokenSet."""
        raise NotImplementedError

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        """Trade a refresh token for new tokens; raises ReauthorizationRequired when the tool refuses it."""
        raise NotImplementedError

    @classmethod
    def request_tokens(cls, token_url, classify, *, extra_keys=(), **request_kwargs):
        """
        POST to an OAuth token endpoint and return the TokenSet of its response.

        `request_kwargs` carry the form (`data=`) or JSON (`json=`) body;
        `extra_keys` names the non-secret values of the response kept in
        TokenSet.extra. A response without an access token is a tool error.
        """
        session = ProviderSession(cls.name, None, label=cls.label, classify=classify)
        response = session.request("POST", token_url, kind="auth", **request_kwargs)
        body = session.json(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ProviderError(
                FailureCategory.TOOL_ERROR,
                f"{cls.label}'s OAuth token response has no access_token. Connect {cls.label} again.",
                status=response.status_code,
            )
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_in=body.get("expires_in"),
            extra={key: body[key] for key in extra_keys if key in body},
        )

    def auth_headers(self):
        """Return the headers that authenticate a request with the connection's current credentials."""
        credentials = self.connection.get_credentials()
        token = credentials.get("access_token") or credentials.get("api_key")
        return {"Authorization": f"Bearer {token}"}

    def refresh_credentials(self):
        """Renew an expired access token once after a 401; returns True when there is a new one to try."""
        refresh = getattr(self.connection, "refresh_access_token", None)
        if refresh is None:
            return False
        return refresh(force=True)

    def verify(self) -> AccountIdentity:
        """Fetch the identity of the account the credentials reach; raises ProviderError when they don't work."""
        raise NotImplementedError

    # Reading -----------------------------------------------------------

    def list_objects(self):
        """Return the objects this connection can sync, as {name: label}; tools with per-account objects override it."""
        return dict(self.objects)

    def fetch_by_ids(self, object_name, record_ids, field_names) -> dict[str, Record]:
        """
        Return the records with the given ids, keyed by id, for records linked by an earlier run.

        A record whose email changed is still found through its link. A
        tool without a read-by-id call returns {}, and matching then falls
        back to the email.
        """
        return {}

    def list_fields(self, object_name) -> list[FieldSpec]:
        """Return the object's fields with their types, options and limits, derived fields included."""
        raise NotImplementedError

    def field_spec(self, object_name, name) -> FieldSpec | None:
        """
        Return the FieldSpec of a field that list_fields() does not list, or None when there is no such field.

        Tools with open-ended fields (Stripe metadata keys) describe any valid
        name here, so a key that no record uses yet can still be mapped.
        """
        return None

    def read_changes(self, object_name, field_names, cursor=None) -> Iterator[Page]:
        """
        Yield pages of records changed since `cursor`, or all records when it is None.

        Each page carries the cursor to store once its records are handled,
        so that a run stopped between pages resumes after the last stored page.
        """
        raise NotImplementedError

    def lookup_by_email(self, object_name, emails, field_names) -> dict[str, list[Record]]:
        """
        Look normalised emails up in batches; return email → the records found.

        An email with two or more records maps to all of them, so that the
        engine reports a duplicate instead of guessing.
        """
        raise NotImplementedError

    # Writing -----------------------------------------------------------

    def write(self, object_name, writes: list[RecordWrite]) -> list[WriteOutcome]:
        """Write the given fields of existing records, in as few calls as the tool allows; one outcome per write."""
        raise NotImplementedError

    def create(self, object_name, writes: list[RecordWrite]) -> list[WriteOutcome]:
        """Create records from the given fields; one outcome per write."""
        raise NotImplementedError

    def archive(self, object_name, record_ids) -> list[WriteOutcome]:
        """
        Archive the records with the given ids; one outcome per id, keyed by the record id.

        Runs call this for a sync whose deletion policy is "archive". A tool
        that can't archive records fails each of them.
        """
        message = f"{self.label} can't archive records; choose 'keep' as the sync's deletion policy."
        return [
            WriteOutcome(key=record_id, ok=False, record_id=record_id, category=FailureCategory.REJECTED_VALUE, message=message)
            for record_id in record_ids
        ]

    # Errors ------------------------------------------------------------

    def classify_error(self, response) -> ProviderError:
        """Turn a failed response into a ProviderError with the product's category and a member's message."""
        from connections.http import default_classify

        error = default_classify(response)
        error.message = f"{self.label} returned HTTP {response.status_code}"
        return error

    def throttle(self, response):
        """Return seconds to pause after a successful response (0 by default)."""
        return 0
