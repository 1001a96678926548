"""
The Zendesk Support provider: users and organizations, with ticket facts derived for users.

Each Zendesk account has its own host, https://{subdomain}.zendesk.com, so
the subdomain is a connection option, checked to be a bare DNS label
before any request. Connects with OAuth (access tokens expire and each
refresh returns a new refresh token) or with an agent's email and API token
(Basic auth as "{email}/token:{api_token}").

Reading is in reading.py, writing in writing.py, and error bodies,
rate-limit headers and the cursor in wire.py.
"""

import base64
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from connections.providers import register
from connections.providers.base import AccountIdentity, OAuthConfig, Provider
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory

from .fields import (
    DERIVED_FIELDS,
    ORGANIZATION_FIELDS_PREFIX,
    STANDARD_FIELDS,
    USER_FIELDS_PREFIX,
    custom_field_spec,
)
from .reading import ReadingMixin
from .wire import classify, classify_token_error, clean_subdomain, throttle_seconds
from .writing import WritingMixin

logger = logging.getLogger(__name__)

# The User Identities API, used to change a user's email, rejects tokens
# scoped to users:read/users:write, so the broad scopes are requested.
SCOPES = ("read", "write")
# Emails per search query. A query with several `email:` terms is expected to
# return the users with any of them, and one that finds no user is repeated
# per email (see lookup_by_email).
EMAILS_PER_SEARCH = 10
# The users search returns at most 1,000 results, 100 a page.
SEARCH_MAX_PAGES = 10


@dataclass(frozen=True)
class ObjectConfig:
    """The API paths and JSON keys of one Zendesk object."""

    name: str  # the object name the engine uses ("user")
    label: str
    singular: str
    plural: str  # the key of lists and bulk bodies ("users")
    prefix: str  # the prefix of custom field names ("user_fields.")
    custom_key: str  # the object's key holding custom field values ("user_fields")
    fields_path: str
    list_path: str
    export_path: str
    show_many_path: str
    update_path: str
    create_path: str
    # True when a repeated create request updates what the first created.
    create_is_upsert: bool


OBJECTS = {
    "user": ObjectConfig(
        name="user",
        label="Users",
        singular="user",
        plural="users",
        prefix=USER_FIELDS_PREFIX,
        custom_key="user_fields",
        fields_path="/api/v2/user_fields.json",
        list_path="/api/v2/users.json",
        export_path="/api/v2/incremental/users/cursor.json",
        show_many_path="/api/v2/users/show_many.json",
        update_path="/api/v2/users/update_many.json",
        create_path="/api/v2/users/create_or_update_many.json",
        create_is_upsert=True,
    ),
    "organization": ObjectConfig(
        name="organization",
        label="Organizations",
        singular="organization",
        plural="organizations",
        prefix=ORGANIZATION_FIELDS_PREFIX,
        custom_key="organization_fields",
        fields_path="/api/v2/organization_fields.json",
        list_path="/api/v2/organizations.json",
        export_path="/api/v2/incremental/organizations.json",
        show_many_path="/api/v2/organizations/show_many.json",
        update_path="/api/v2/organizations/update_many.json",
        create_path="/api/v2/organizations/create_many.json",
        create_is_upsert=False,
    ),
}


@register
class ZendeskProvider(ReadingMixin, WritingMixin, Provider):
    name = "zendesk"
    label = "Zendesk"
    auth_methods = ("oauth", "api_key")
    api_key_label = "API token"
    api_key_help = (
        "In Zendesk Admin Center, open Apps and integrations > APIs > Zendesk API, turn on token access and "
        "add an API token. Oneprofile signs in as the agent whose email you enter with it, so use an admin."
    )
    connect_options = [
        {
            "name": "subdomain",
            "label": "Zendesk subdomain",
            "help": "The part before .zendesk.com in your Zendesk address.",
        }
    ]
    objects = {name: config.label for name, config in OBJECTS.items()}
    lookup_batch_size = 100
    # Bulk endpoints take up to 100 records a request.
    write_batch_size = 100

    def __init__(self, connection, session=None, clock=time.time):
        self.base_url_error = None
        super().__init__(connection, session)
        self.clock = clock
        self.connection_id = getattr(connection, "pk", None)
        try:
            self.base_url = self.base_url_for(
                getattr(connection, "options", None) or {}, getattr(connection, "base_url", "")
            )
        except ValueError as exc:
            # No request is sent until the subdomain is corrected.
            self.base_url = ""
            self.base_url_error = ProviderError(FailureCategory.AUTHORISATION, f"{exc} Reconnect Zendesk to fix it.")
        self._field_specs = {}
        self._custom_definitions = {}
        self._all_ticket_stats = None
        self._searched_ticket_stats = {}

    # Connecting --------------------------------------------------------

    @classmethod
    def clean_subdomain(cls, value):
        """Return the subdomain trimmed and lower-cased; raise ValueError saying what is wrong with it."""
        return clean_subdomain(value)

    @classmethod
    def base_url_for(cls, options, base_url=""):
        """
        Return the API's address for a connection: `base_url` when set (the sandbox, tests), else the subdomain's host.

        Raises ValueError when there is no base_url and the subdomain in
        `options` is missing or invalid.
        """
        if base_url:
            return base_url.rstrip("/")
        subdomain = cls.clean_subdomain((options or {}).get("subdomain"))
        return f"https://{subdomain}.zendesk.com"

    @classmethod
    def oauth_config(cls, base_url=""):
        """Return the OAuthConfig of the Zendesk account at `base_url` (see base_url_for); raises ValueError without one."""
        if not base_url:
            raise ValueError(
                "Zendesk's OAuth endpoints are on each account's own host: pass base_url_for(options) "
                "with the subdomain the member entered."
            )
        base = base_url.rstrip("/")
        return OAuthConfig(
            authorize_url=f"{base}/oauth/authorizations/new",
            token_url=f"{base}/oauth/tokens",
            scopes=SCOPES,
            pkce=True,
        )

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
        }
        if code_verifier:
            body["code_verifier"] = code_verifier
        return cls._request_tokens(body, base_url)

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        """
        Trade a refresh token for new tokens; Zendesk returns a new refresh token and deletes the old pair.

        The caller stores the new refresh token before using the access
        token, because the old one no longer works. Raises
        ReauthorizationRequired when Zendesk returns invalid_grant.
        """
        body = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return cls._request_tokens(body, base_url)

    @classmethod
    def _request_tokens(cls, body, base_url):
        if not base_url:
            # Without the account's host there is no token endpoint to call.
            raise ProviderError(
                FailureCategory.AUTHORISATION,
                "The Zendesk connection's address is unknown, so its token can't be refreshed. Reconnect Zendesk.",
            )
        return cls.request_tokens(
            cls.oauth_config(base_url).token_url,
            classify_token_error,
            extra_keys=("scope", "token_type", "refresh_token_expires_in"),
            json=body,
        )

    @classmethod
    def clean_api_token(cls, email, api_token):
        """Return the credentials to store for API-token access, or raise ProviderError naming what is missing."""
        email = (email or "").strip()
        api_token = (api_token or "").strip()
        if not email or "@" not in email:
            raise ProviderError(
                FailureCategory.AUTHORISATION,
                f"The agent email {email!r} is invalid: enter the email the Zendesk admin signs in with.",
            )
        if not api_token:
            raise ProviderError(
                FailureCategory.AUTHORISATION,
                "The Zendesk API token is missing. Add one in Admin Center under Apps and integrations > APIs.",
            )
        return {"email": email, "api_token": api_token}

    def auth_headers(self):
        """Return Bearer auth for OAuth (refreshed first when about to expire) or Basic auth for an API token."""
        connection = self.connection
        status_choices = getattr(connection, "Status", None)
        if status_choices is not None and connection.status == status_choices.NEEDS_REAUTH:
            raise ReauthorizationRequired(connection.reauth_message())
        ensure_fresh_token = getattr(connection, "ensure_fresh_token", None)
        if ensure_fresh_token is not None:
            ensure_fresh_token()
        credentials = connection.get_credentials()
        if credentials.get("access_token"):
            return {"Authorization": f"Bearer {credentials['access_token']}"}
        if credentials.get("email") and credentials.get("api_token"):
            pair = f"{credentials['email']}/token:{credentials['api_token']}"
            return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode('ascii')}"}
        raise ProviderError(
            FailureCategory.AUTHORISATION,
            "The Zendesk connection has neither an OAuth token nor an agent email with an API token. "
            "Reconnect Zendesk.",
        )

    def verify(self):
        """Fetch the connected user from /api/v2/users/me.json; the account is named by its subdomain."""
        user = self.get("/api/v2/users/me.json").get("user") or {}
        if user.get("id") is None:
            raise ProviderError(
                FailureCategory.AUTHORISATION,
                "Zendesk answered as an anonymous user, so the credentials were not accepted. Reconnect Zendesk.",
            )
        if user.get("role") == "end-user":
            raise ProviderError(
                FailureCategory.AUTHORISATION,
                f"{user.get('email') or 'The connected user'} is an end user in Zendesk, and only agents and "
                "admins can use the API. Reconnect with an admin.",
            )
        subdomain = (getattr(self.connection, "options", None) or {}).get("subdomain")
        if subdomain:
            subdomain = self.clean_subdomain(subdomain)
            host = f"{subdomain}.zendesk.com"
        else:
            host = urlsplit(self.base_url).netloc
            subdomain = host.split(".")[0]
        return AccountIdentity(account_id=subdomain, account_name=host)

    # Fields ------------------------------------------------------------

    def object_config(self, object_name):
        """Return the ObjectConfig of "user" or "organization"; raises ValueError naming the known objects."""
        try:
            return OBJECTS[object_name]
        except KeyError:
            raise ValueError(
                f"Zendesk has no object {object_name!r} in Oneprofile: the objects are {', '.join(OBJECTS)}."
            ) from None

    def list_fields(self, object_name):
        """Return the standard fields, the active custom fields and the derived fields of the object."""
        return list(self.field_specs(object_name).values())

    def field_specs(self, object_name):
        """Return {field name: FieldSpec}, with the custom field definitions fetched once per provider."""
        if object_name not in self._field_specs:
            config = self.object_config(object_name)
            specs = dict(STANDARD_FIELDS[config.name])
            for definition in self.custom_definitions(config).values():
                spec = custom_field_spec(definition, config.prefix)
                if spec is not None:
                    specs[spec.name] = spec
            specs.update(DERIVED_FIELDS[config.name])
            self._field_specs[object_name] = specs
        return self._field_specs[object_name]

    def custom_definitions(self, config):
        """Return {key: definition} of the object's custom fields."""
        if config.name not in self._custom_definitions:
            definitions = self.list_all(config.fields_path, config.custom_key)
            self._custom_definitions[config.name] = {
                definition["key"]: definition for definition in definitions if definition.get("key")
            }
        return self._custom_definitions[config.name]

    # Looking up --------------------------------------------------------

    def lookup_by_email(self, object_name, emails, field_names):
        """
        Find users by email with the users search, ten emails to a query.

        Emails are trimmed and lower-cased, and so are the keys returned.
        A query contains several `email:` terms, which Zendesk's search is
        expected to join with OR. NOTE: Zendesk's search reference doesn't
        state how repeated `email:` terms combine, so a grouped query that
        finds no user is repeated for each email alone. Search also matches secondary email identities: a user
        found whose primary email isn't asked for has its identities read to
        see which address matched. An email held by two users maps to both.
        """
        config = self.object_config(object_name)
        if config.name != "user":
            raise ProviderError(
                FailureCategory.REJECTED_VALUE,
                f"Zendesk {config.label.lower()} have no email, so they can't be matched by email; sync users instead.",
            )
        fields = self.check_fields(config, field_names)
        requested = list(dict.fromkeys(email.strip().lower() for email in emails if email and email.strip()))
        found = defaultdict(dict)
        secondary = defaultdict(set)
        for start in range(0, len(requested), EMAILS_PER_SEARCH):
            group = requested[start : start + EMAILS_PER_SEARCH]
            users = self._search_users(group)
            if not users and len(group) > 1:
                users = [user for email in group for user in self._search_users([email])]
            self._attribute(users, set(group), found, secondary)

        users = {user_id: user for matches in found.values() for user_id, user in matches.items()}
        records = {record.id: record for record in self.to_records(config, list(users.values()), fields)}
        for record_id, addresses in secondary.items():
            if record_id in records:
                records[record_id].secondary_emails = tuple(sorted(addresses))
        return {email: [records[user_id] for user_id in found[email] if user_id in records] for email in requested}

    def _search_users(self, emails):
        query = " ".join(f"email:{email}" for email in emails)
        params = {"query": query, "per_page": 100}
        users = []
        for page in range(1, SEARCH_MAX_PAGES + 1):
            body = self.get("/api/v2/users/search.json", {**params, "page": page}, kind="search")
            users.extend(body.get("users") or [])
            if not body.get("next_page"):
                break
        return users

    def _attribute(self, users, group, found, secondary):
        """Add each user to `found` under the asked-for emails it holds, reading identities when its primary isn't one."""
        for user in users:
            if user.get("id") is None:
                continue
            user_id = str(user["id"])
            primary = (user.get("email") or "").strip().lower()
            if primary in group:
                found[primary][user_id] = user
                continue
            path = f"/api/v2/users/{user_id}/identities.json"
            for identity in self.list_all(path, "identities"):
                address = str(identity.get("value") or "").strip().lower()
                if identity.get("type") == "email" and address in group:
                    found[address][user_id] = user
                    secondary[user_id].add(address)

    # Requests ----------------------------------------------------------

    def url(self, path):
        """Return the absolute URL of an API path; raise the subdomain's error when it is invalid."""
        if self.base_url_error is not None:
            raise self.base_url_error
        return f"{self.base_url}{path}"

    def get(self, path, params=None, kind="read"):
        """Send a GET to the API and return its JSON object."""
        response = self.http.request("GET", self.url(path), kind=kind, params=params or {})
        body = self.http.json(response)
        if not isinstance(body, dict):
            raise ProviderError(
                FailureCategory.TOOL_ERROR,
                f"Zendesk answered {path} with JSON that is not an object.",
                status=response.status_code,
                response=response.text,
            )
        return body

    # Errors ------------------------------------------------------------

    def classify_error(self, response):
        return classify(response, self.label)

    def throttle(self, response):
        return throttle_seconds(response)

