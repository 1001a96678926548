"""
The HubSpot provider: contacts and companies through the CRM v3 API.

Connects with OAuth 2.0 and PKCE, or a private app's access token
("pat-..."). Reading, writing and error handling live in reading.py,
writing.py and errors.py beside this module.
"""

import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from connections.providers import register
from connections.providers.base import AccountIdentity, OAuthConfig, Provider
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory

from .errors import classify, classify_token_error, throttle_seconds
from .reading import BATCH_READ_INPUTS, ReadingMixin, next_after
from .wire import field_spec_from_property
from .writing import WritingMixin

logger = logging.getLogger(__name__)

API_URL = "https://api.hubapi.com"
AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
TOKEN_PATH = "/oauth/v1/token"
SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "oauth",
)
# A search request takes up to 5 filter groups, ORed together (HubSpot's
# 2024 search changelog; the 2026-03 spec allows 6).
FILTER_GROUPS_PER_SEARCH = 5
# HubSpot allows 4 search requests a second per token (its search rate-limit
# changelog), and search responses carry no rate-limit headers to throttle
# on, so the provider sends at most 4 searches in any rolling second.
SEARCHES_PER_WINDOW = 4
SEARCH_WINDOW_SECONDS = 1.0
# A search returns at most 10,000 results in all, 200 a page.
SEARCH_RESULTS_MAX = 10_000
SECONDARY_INDEX_PAGE_SIZE = 200
# Secondary-email searches a run sends before it checks whether an index of
# additional emails would be cheaper, so small runs never pay for the check.
SECONDARY_SEARCHES_BEFORE_INDEX = 3


@dataclass(frozen=True)
class ObjectConfig:
    """The paths and property names of one HubSpot object type."""

    name: str  # the object name the engine uses ("contact")
    path: str  # the objectType in URLs ("contacts")
    label: str
    singular: str
    modified_property: str
    email_property: str | None = None
    secondary_email_property: str | None = None


OBJECTS = {
    "contact": ObjectConfig(
        name="contact",
        path="contacts",
        label="Contacts",
        singular="contact",
        modified_property="lastmodifieddate",
        email_property="email",
        secondary_email_property="hs_additional_emails",
    ),
    "company": ObjectConfig(
        name="company",
        path="companies",
        label="Companies",
        singular="company",
        modified_property="hs_lastmodifieddate",
    ),
}


@register
class HubSpotProvider(ReadingMixin, WritingMixin, Provider):
    name = "hubspot"
    label = "HubSpot"
    default_base_url = API_URL
    auth_methods = ("oauth", "api_key")
    api_key_label = "Private app access token"
    api_key_help = (
        "Create a private app in HubSpot (Settings → Integrations → Private apps) with the scopes "
        + ", ".join(scope for scope in SCOPES if scope != "oauth")
        + ", then paste its access token, which starts with pat-."
    )
    objects = {name: config.label for name, config in OBJECTS.items()}
    # The runner passes up to this many emails (a whole batch) to one
    # lookup_by_email() call, which reads them BATCH_READ_INPUTS at a time and
    # then looks up the ones HubSpot doesn't know all together (see
    # _lookup_secondary_emails).
    lookup_batch_size = 1000
    write_batch_size = 100

    def __init__(self, connection, session=None):
        super().__init__(connection, session)
        self._field_specs = {}
        self._daily_limit_error = None
        # Send times (time.monotonic) of the last SEARCHES_PER_WINDOW searches, oldest first.
        self._search_times = deque(maxlen=SEARCHES_PER_WINDOW)
        # Secondary-email lookups of this provider instance (one run): the
        # searches sent so far, and the index of every record holding an
        # additional email, once building it is cheaper than searching on.
        self._secondary_searches = 0
        self._secondary_index_cost = {}
        self._secondary_index = {}
        # A 429 for the daily limit must not be retried within the run: this
        # hook raises before ProviderSession's retry loop gets the response.
        requests_session = getattr(self.http, "session", None)
        if requests_session is not None:
            requests_session.hooks["response"].append(self._stop_at_daily_limit)

    # Connecting --------------------------------------------------------

    @classmethod
    def oauth_config(cls, base_url=""):
        base_url = (base_url or "").rstrip("/")
        if base_url and base_url != API_URL:
            return OAuthConfig(f"{base_url}/oauth/authorize", f"{base_url}{TOKEN_PATH}", SCOPES, pkce=True)
        return OAuthConfig(AUTHORIZE_URL, f"{API_URL}{TOKEN_PATH}", SCOPES, pkce=True)

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        data = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        }
        if code_verifier:
            data["code_verifier"] = code_verifier
        return cls._request_tokens(data, base_url)

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        """
        Trade a refresh token for a new access token; HubSpot's access tokens last 30 minutes (follow expires_in).

        Raises ReauthorizationRequired when HubSpot returns BAD_REFRESH_TOKEN
        or invalid_grant: the token is revoked or unknown.
        """
        data = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        return cls._request_tokens(data, base_url)

    @classmethod
    def _request_tokens(cls, data, base_url):
        return cls.request_tokens(
            cls.oauth_config(base_url).token_url, classify_token_error, extra_keys=("token_type",), data=data
        )

    def auth_headers(self):
        """Return the Bearer header, refreshing an OAuth token about to expire; stop for a connection awaiting re-authorisation."""
        connection = self.connection
        status_choices = getattr(connection, "Status", None)
        if status_choices is not None and connection.status == status_choices.NEEDS_REAUTH:
            raise ReauthorizationRequired(connection.reauth_message())
        ensure_fresh_token = getattr(connection, "ensure_fresh_token", None)
        if ensure_fresh_token is not None:
            ensure_fresh_token()
        return super().auth_headers()

    def verify(self):
        """Fetch the portal id from GET /account-info/v3/details."""
        body = self.http.json(self.request("GET", "/account-info/v3/details"))
        portal_id = body.get("portalId")
        if portal_id is None:
            raise ProviderError(
                FailureCategory.TOOL_ERROR,
                "HubSpot's account details have no portalId; check that the connection's address is HubSpot's API.",
                response=str(body),
            )
        # The details response carries no account name, so the portal id names the account.
        return AccountIdentity(account_id=str(portal_id), account_name=f"HubSpot portal {portal_id}")

    # Fields ------------------------------------------------------------

    def object_config(self, object_name):
        """Return the ObjectConfig of "contact" or "company"; raises ValueError naming the known objects."""
        try:
            return OBJECTS[object_name]
        except KeyError:
            raise ValueError(
                f"HubSpot has no object {object_name!r} here: use one of {', '.join(OBJECTS)}."
            ) from None

    def list_fields(self, object_name):
        """Return a FieldSpec per live property of the object, from GET /crm/v3/properties/{objectType}."""
        if object_name in self._field_specs:
            return list(self._field_specs[object_name].values())
        config = self.object_config(object_name)
        body = self.http.json(self.request("GET", f"/crm/v3/properties/{config.path}"))
        specs = {}
        for definition in body.get("results") or []:
            if definition.get("archived") or not definition.get("name"):
                continue
            spec = field_spec_from_property(definition)
            specs[spec.name] = spec
        self._field_specs[object_name] = specs
        return list(specs.values())

    def field_specs(self, object_name):
        """Return {property name: FieldSpec}, fetched once per provider instance."""
        if object_name not in self._field_specs:
            self.list_fields(object_name)
        return self._field_specs[object_name]

    def properties_to_request(self, config, field_names):
        """Return the property names to ask for by name: the key properties first, then the fields, without repeats."""
        names = [config.email_property, config.secondary_email_property, config.modified_property, *field_names]
        return list(dict.fromkeys(name for name in names if name))

    # Looking up --------------------------------------------------------

    def lookup_by_email(self, object_name, emails, field_names):
        """
        Look emails up by primary email (batch/read, idProperty=email), then the rest by secondary email.

        Emails are trimmed and lower-cased before the lookup and in the
        returned keys. NOTE: whether HubSpot matches idProperty=email
        case-insensitively is not documented; lower-casing both sides makes
        the result independent of it. An email held as a secondary address by
        two contacts maps to both, for the engine to report as a duplicate.
        """
        config = self.object_config(object_name)
        if not config.email_property:
            raise ProviderError(
                FailureCategory.REJECTED_VALUE,
                f"HubSpot {config.label.lower()} have no email property, so they can't be matched by email; "
                "sync them from a tool whose records are matched another way.",
            )
        properties = self.properties_to_request(config, field_names)
        wanted = list(dict.fromkeys(normalized for normalized in map(normalize_email, emails) if normalized))
        found = defaultdict(dict)
        for start in range(0, len(wanted), BATCH_READ_INPUTS):
            self._lookup_primary(config, wanted[start : start + BATCH_READ_INPUTS], properties, field_names, found)
        missing = [email for email in wanted if not found[email]]
        self._lookup_secondary_emails(config, missing, properties, field_names, found)
        return {email: list(records.values()) for email, records in found.items() if records}

    def _lookup_primary(self, config, batch, properties, field_names, found):
        wanted = set(batch)
        response = self.request(
            "POST",
            f"/crm/v3/objects/{config.path}/batch/read",
            retry_unsafe=True,
            json={"idProperty": config.email_property, "inputs": [{"id": email} for email in batch], "properties": properties},
        )
        # A 207 lists the emails HubSpot has no contact for in errors[]; they are looked up by secondary email next.
        for result in self.http.json(response).get("results") or []:
            record = self.to_record(config, result, field_names)
            key = normalize_email(record.email)
            if key in wanted:
                found[key][record.id] = record

    def _lookup_secondary_emails(self, config, emails, properties, field_names, found):
        """
        Find records holding `emails` as an additional email: five emails a search, or from an index.

        Searches go at most 4 a second (HubSpot's limit), so a run with
        thousands of emails unknown to HubSpot would spend most of its time
        here. Listing every record that has an additional email (the index)
        may cost fewer requests. Once the searches sent in this run, plus
        those this lookup still needs, cost as many requests as the index, the
        index is built and used for the rest of the run. The run then spends
        at most twice the cheaper of the two. The index is skipped when those
        records are more than one search can return (10,000).
        """
        key = (config.name, tuple(properties))
        for group_start in range(0, len(emails), FILTER_GROUPS_PER_SEARCH):
            group = emails[group_start : group_start + FILTER_GROUPS_PER_SEARCH]
            pending = -(-(len(emails) - group_start) // FILTER_GROUPS_PER_SEARCH)
            if key not in self._secondary_index and self._index_is_cheaper(config, pending):
                self._secondary_index[key] = self._build_secondary_index(config, properties, field_names)
            index = self._secondary_index.get(key)
            if index is not None:
                for email in group:
                    for record in index.get(email, ()):
                        found[email][record.id] = record
                continue
            self._lookup_secondary(config, group, properties, field_names, found)
            self._secondary_searches += 1

    def _index_is_cheaper(self, config, pending):
        """Return whether the index costs no more than the searches sent so far and the `pending` ones this lookup needs."""
        needed = self._secondary_searches + pending
        if needed < SECONDARY_SEARCHES_BEFORE_INDEX:
            return False
        cost = self._index_cost(config)
        return cost is not None and needed >= cost

    def _index_cost(self, config):
        """Return the searches that list every record with an additional email, or None when they are too many."""
        if config.name not in self._secondary_index_cost:
            query = {
                "filterGroups": [{"filters": [{"propertyName": config.secondary_email_property, "operator": "HAS_PROPERTY"}]}],
                "properties": [config.secondary_email_property],
                "limit": 1,
            }
            total = int(self.search(config, query).get("total") or 0)
            self._secondary_searches += 1
            pages = -(-total // SECONDARY_INDEX_PAGE_SIZE)
            self._secondary_index_cost[config.name] = pages if total <= SEARCH_RESULTS_MAX else None
        return self._secondary_index_cost[config.name]

    def _build_secondary_index(self, config, properties, field_names):
        """Return {normalised additional email: [Record]} of every record that has one."""
        query = {
            "filterGroups": [{"filters": [{"propertyName": config.secondary_email_property, "operator": "HAS_PROPERTY"}]}],
            "properties": properties,
            "limit": SECONDARY_INDEX_PAGE_SIZE,
        }
        index = defaultdict(list)
        while self._index_cost(config):
            body = self.search(config, query)
            for result in body.get("results") or []:
                record = self.to_record(config, result, field_names)
                for address in {normalize_email(address) for address in record.secondary_emails}:
                    if address:
                        index[address].append(record)
            after = next_after(body)
            if not after:
                break
            query = {**query, "after": after}
        logger.info(
            "HubSpot connection %s: indexed %s additional emails of %s for this run",
            getattr(self.connection, "pk", None),
            len(index),
            config.label.lower(),
        )
        return index

    def _lookup_secondary(self, config, group, properties, field_names, found):
        query = {
            "filterGroups": [
                {"filters": [{"propertyName": config.secondary_email_property, "operator": "CONTAINS_TOKEN", "value": email}]}
                for email in group
            ],
            "properties": properties,
            "limit": self.search_page_size,
        }
        while True:
            body = self.search(config, query)
            for result in body.get("results") or []:
                record = self.to_record(config, result, field_names)
                held = {normalize_email(address) for address in record.secondary_emails}
                for email in group:
                    if email in held:
                        found[email][record.id] = record
            after = next_after(body)
            if not after:
                return
            query = {**query, "after": after}

    # Requests ----------------------------------------------------------

    def request(self, method, path, *, kind="read", **kwargs):
        """Send a request to the API at `path`; once the daily limit is reached, raise without sending."""
        if self._daily_limit_error is not None:
            raise self._daily_limit_error
        return self.http.request(method, f"{self.base_url}{path}", kind=kind, **kwargs)

    def search(self, config, query):
        """POST a search query, at most 4 in any rolling second, and return HubSpot's JSON response."""
        if len(self._search_times) == SEARCHES_PER_WINDOW:
            wait = SEARCH_WINDOW_SECONDS - (time.monotonic() - self._search_times[0])
            if wait > 0:
                self.http.sleep(wait)
        self._search_times.append(time.monotonic())
        response = self.request("POST", f"/crm/v3/objects/{config.path}/search", kind="search", retry_unsafe=True, json=query)
        return self.http.json(response)

    def _stop_at_daily_limit(self, response, *args, **kwargs):
        if response.status_code != 429:
            return response
        error = self.classify_error(response)
        if not error.is_daily_limit:
            return response
        logger.warning(
            "HubSpot daily API limit reached on connection %s; no more HubSpot requests in this run",
            getattr(self.connection, "pk", None),
        )
        self.http.rate_limited += 1
        self._daily_limit_error = error
        raise error

    # Errors ------------------------------------------------------------

    def classify_error(self, response):
        return classify(response, self.label)

    def throttle(self, response):
        return throttle_seconds(response)


def normalize_email(value):
    """Return an email trimmed and lower-cased, or None when it is empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()
