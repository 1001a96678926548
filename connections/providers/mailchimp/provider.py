"""
The Mailchimp provider: the members of one audience, through Marketing API 3.0.

Connecting: OAuth 2.0 (no scopes, no PKCE) or an API key. Neither expires
nor refreshes, so a 401 means the key or token was revoked, and the
connection is marked for re-authorisation at once. Each account lives in
one data centre ("us6"): an API key names it after its last dash, and for a
token the OAuth metadata endpoint returns it. The API is then at
https://{dc}.api.mailchimp.com, unless the connection has its own base URL
(the sandbox).

Objects: one per audience, named "members:{list_id}".

Limits: Mailchimp allows 10 simultaneous connections per user and
publishes no request rate; this provider sends one request at a time and
relies on the session's backoff for 429 responses.
"""

import base64
import logging
import time
from datetime import UTC, datetime, timedelta

from connections.http import ProviderSession
from connections.providers import register
from connections.providers.base import AccountIdentity, OAuthConfig, Provider, TokenSet
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory, Page, Record

from .fields import MEMBER_ATTRIBUTES, OWN_FIELDS, OWN_FIELDS_BY_NAME, READ_ONLY_FIELDS, READ_ONLY_FIELDS_BY_NAME
from .fields import MergeField, member_values, split_field_name
from .wire import (
    LIST_ID_PATTERN,
    check_data_centre,
    classify,
    classify_token_error,
    data_centre_of_key,
    email_problem,
    subscriber_hash,
)
from .writing import WritingMixin

logger = logging.getLogger(__name__)

LOGIN_URL = "https://login.mailchimp.com"
OBJECT_PREFIX = "members:"

# `count` defaults to 10 on every Mailchimp list endpoint, so it is always
# sent; 1,000 is the largest page Mailchimp serves.
PAGE_SIZE = 1000
# Offset paging over members sorted by last change: a member that changes
# during a read moves to the end, and the members after it move up one
# place. Each full page is therefore requested this many places early, and
# members already seen are skipped, so up to this many changes between two
# pages lose nothing.
PAGE_OVERLAP = 20
# The next read starts this long before the current one did, so that a
# change Mailchimp records a little late, or a clock a little ahead of
# Mailchimp's, is read again rather than missed. Members read twice cost
# nothing: the engine diffs them.
CURSOR_MARGIN = timedelta(minutes=5)


def api_url_for(dc):
    return f"https://{dc}.api.mailchimp.com"


@register
class MailchimpProvider(WritingMixin, Provider):
    name = "mailchimp"
    label = "Mailchimp"
    default_base_url = ""
    auth_methods = ("oauth", "api_key")
    api_key_label = "API key"
    api_key_help = (
        "Create a key in Mailchimp under Profile > Extras > API keys and paste it whole, with its "
        "data centre suffix (such as -us6). The key gives access to the whole account."
    )
    # Audiences differ per account, so list_objects() requests them from Mailchimp.
    objects = {}
    # Each email is one GET of its member, so a batch only bounds one engine step.
    lookup_batch_size = 100
    write_batch_size = 500

    page_size = PAGE_SIZE
    page_overlap = PAGE_OVERLAP

    def __init__(self, connection, session=None, clock=time.time):
        super().__init__(connection, session)
        self.clock = clock
        self._api_base = self.base_url or None
        self._merge_field_cache = {}

    # Connecting --------------------------------------------------------

    @classmethod
    def login_base_url(cls, base_url=""):
        """Return where the OAuth pages live for an API at `base_url`."""
        return (base_url or "").rstrip("/") or LOGIN_URL

    @classmethod
    def oauth_config(cls, base_url=""):
        login = cls.login_base_url(base_url)
        return OAuthConfig(authorize_url=f"{login}/oauth2/authorize", token_url=f"{login}/oauth2/token")

    @classmethod
    def metadata_url(cls, base_url=""):
        return f"{cls.login_base_url(base_url)}/oauth2/metadata"

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        """Trade the code for a token, then ask the metadata endpoint for the account's data centre."""
        form = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        }
        answer = cls.request_tokens(cls.oauth_config(base_url).token_url, classify_token_error, data=form)
        # Mailchimp returns expires_in 0 because the token never expires.
        token_set = TokenSet(access_token=answer.access_token, refresh_token=None, expires_in=None)
        token_set.extra = cls.account_options_after_oauth(token_set, base_url)
        return token_set

    @classmethod
    def account_options_after_oauth(cls, token_set, base_url=""):
        """Return the connection options a new token needs, {"dc": "us6"}, from the OAuth metadata endpoint."""
        session = ProviderSession(cls.name, None, label=cls.label, classify=classify_token_error)
        response = session.request(
            "GET",
            cls.metadata_url(base_url),
            kind="auth",
            headers={"Authorization": f"OAuth {token_set.access_token}"},
        )
        body = session.json(response)
        if not isinstance(body, dict):
            body = {}
        dc = body.get("dc")
        if not dc and isinstance(body.get("api_endpoint"), str):
            # "https://us6.api.mailchimp.com" names the data centre too.
            dc = body["api_endpoint"].split("//", 1)[-1].split(".", 1)[0]
        return {"dc": check_data_centre(dc, "Mailchimp's OAuth metadata")}

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        raise ReauthorizationRequired("Mailchimp tokens can't be refreshed. Connect Mailchimp again.")

    @classmethod
    def clean_api_key(cls, api_key):
        """Return the key ready to store, or raise ProviderError naming what is wrong with it."""
        key = (api_key or "").strip()
        data_centre_of_key(key)
        return key

    @classmethod
    def options_for_api_key(cls, api_key):
        """Return the connection options of an API key: {"dc": its data centre}."""
        return {"dc": data_centre_of_key(api_key)}

    def auth_headers(self):
        credentials = self.connection.get_credentials()
        token = credentials.get("access_token")
        if token:
            return {"Authorization": f"Bearer {token}"}
        key = (credentials.get("api_key") or "").strip()
        data_centre_of_key(key)
        # Mailchimp takes basic authentication with any user name and the key as password.
        encoded = base64.b64encode(f"oneprofile:{key}".encode()).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}

    def refresh_credentials(self):
        """
        Mark the connection for re-authorisation after a 401, and stop the work in hand.

        Mailchimp keys and tokens never expire and have no refresh, so a 401
        means the member revoked them. An unsaved connection (being
        connected) has no row to mark, and the 401 is reported as it is.
        """
        if getattr(self.connection, "pk", None) is None:
            return False
        reason = "Mailchimp answered 401: the API key or token was revoked or disabled"
        self.connection.mark_needs_reauth(reason)
        raise ReauthorizationRequired(self.connection.reauth_message(), status=401)

    def verify(self):
        root = self._get("/3.0/", {"fields": "account_id,account_name,email"})
        account_id = root.get("account_id")
        if not account_id:
            raise ProviderError(FailureCategory.TOOL_ERROR, "Mailchimp's account response has no account_id. Verify the connection again later.")
        return AccountIdentity(account_id=str(account_id), account_name=root.get("account_name") or root.get("email") or "")

    # Objects and fields ---------------------------------------------------

    def list_objects(self):
        """Return one object per audience: {"members:{list_id}": "Audience “{name}” members"}."""
        objects = {}
        for audience in self._list_all("/3.0/lists", "lists", ("id", "name")):
            objects[f"{OBJECT_PREFIX}{audience['id']}"] = f"Audience “{audience.get('name') or audience['id']}” members"
        return objects

    def list_fields(self, object_name):
        list_id = self._list_id(object_name)
        merge_specs = [spec for field in self._merge_fields(list_id).values() for spec in field.specs()]
        return [*OWN_FIELDS, *merge_specs, *READ_ONLY_FIELDS]

    def _list_id(self, object_name):
        list_id = (object_name or "").removeprefix(OBJECT_PREFIX)
        if not object_name or not object_name.startswith(OBJECT_PREFIX) or not LIST_ID_PATTERN.match(list_id):
            raise ValueError(
                f"Mailchimp has no object {object_name!r} in Oneprofile: objects are audience members, "
                "named members:{audience id}. List the objects again and pick an audience."
            )
        return list_id

    def _merge_fields(self, list_id):
        """Return the audience's merge fields by tag, requested once per provider."""
        if list_id not in self._merge_field_cache:
            items = self._list_all(f"/3.0/lists/{list_id}/merge-fields", "merge_fields", ())
            self._merge_field_cache[list_id] = {item["tag"]: MergeField.from_api(item) for item in items if item.get("tag")}
        return self._merge_field_cache[list_id]

    def _check_fields(self, list_id, field_names):
        merge_fields = self._merge_fields(list_id)
        unknown = []
        for name in field_names:
            if name in OWN_FIELDS_BY_NAME or name in READ_ONLY_FIELDS_BY_NAME:
                continue
            parts = split_field_name(name)
            if parts is None or parts[0] not in merge_fields:
                unknown.append(name)
        if unknown:
            raise ValueError(
                f"Mailchimp members of audience {list_id} have no field {', '.join(sorted(unknown))}: "
                "list the fields again and update the mapping."
            )
        return merge_fields

    # Reading -----------------------------------------------------------

    def read_changes(self, object_name, field_names, cursor=None):
        """
        Yield pages of members changed since `cursor` (an ISO 8601 time), or of all members without one.

        Members come sorted by last change, 1,000 a page, until `total_items`.
        Cursor rule: the last page carries the new cursor, the read's start
        time minus CURSOR_MARGIN; earlier pages carry the cursor passed in,
        so a stopped run reads the same members again, which is harmless.
        """
        list_id = self._list_id(object_name)
        merge_fields = self._check_fields(list_id, field_names)
        since = parse_cursor(cursor)
        if cursor and since is None:
            logger.warning("Connection %s: unreadable Mailchimp cursor %r, reading every member", self.connection.pk, cursor)
        started = datetime.fromtimestamp(self.clock(), UTC)
        new_cursor = format_time(started - CURSOR_MARGIN)

        params = {
            "count": self.page_size,
            "offset": 0,
            "sort_field": "last_changed",
            "sort_dir": "ASC",
            "fields": member_fields_param(),
        }
        if since is not None:
            params["since_last_changed"] = format_time(since)
        seen = set()
        while True:
            body = self._get(f"/3.0/lists/{list_id}/members", params)
            members = body.get("members") or []
            total = int(body.get("total_items") or 0)
            received = len(members)
            done = received == 0 or params["offset"] + received >= total
            records = []
            for member in members:
                if member.get("id") in seen:
                    continue
                seen.add(member.get("id"))
                records.append(self._record(member, field_names, merge_fields))
            yield Page(records=records, cursor=new_cursor if done else cursor, has_more=not done)
            if done:
                return
            step = received - self.page_overlap if received >= self.page_size else received
            params["offset"] += max(step, 1)

    def _record(self, member, field_names, merge_fields):
        values = member_values(member, merge_fields)
        return Record(
            id=member.get("id") or subscriber_hash(member.get("email_address")),
            email=member.get("email_address"),
            values={name: values.get(name) for name in field_names},
            updated_at=member.get("last_changed") or None,
            # Archived members are out of the audience until someone adds them again.
            deleted=member.get("status") == "archived",
        )

    # Looking up --------------------------------------------------------

    def lookup_by_email(self, object_name, emails, field_names):
        """
        Find members by email: one GET of /lists/{id}/members/{md5 of the address} per email.

        Mailchimp has no read of several members by address: the list
        endpoint filters by one address at most, search-members takes one
        query per call, and batch operations run asynchronously with results
        in a tar file. A GET per address is one call per email and returns
        at once. A 404 means no member. Addresses Mailchimp can't hold
        (non-ASCII, malformed) cost no call and find nothing.
        """
        list_id = self._list_id(object_name)
        merge_fields = self._check_fields(list_id, field_names)
        found = {}
        for email in emails:
            if not email or not email.strip():
                continue
            found[email] = []
            if email_problem(email):
                continue
            member = self._get_member(list_id, subscriber_hash(email), MEMBER_ATTRIBUTES)
            if member is not None:
                found[email].append(self._record(member, field_names, merge_fields))
        return found

    def fetch_by_ids(self, object_name, record_ids, field_names):
        """Return members by id (their subscriber hash), one GET each; members gone since are left out."""
        list_id = self._list_id(object_name)
        merge_fields = self._check_fields(list_id, field_names)
        records = {}
        for record_id in record_ids:
            if not LIST_ID_PATTERN.match(record_id or ""):
                continue
            member = self._get_member(list_id, record_id, MEMBER_ATTRIBUTES)
            if member is not None:
                records[record_id] = self._record(member, field_names, merge_fields)
        return records

    def _get_member(self, list_id, member_id, attributes):
        """Return one member, or None when Mailchimp has no such member."""
        try:
            return self._get(f"/3.0/lists/{list_id}/members/{member_id}", {"fields": ",".join(attributes)}, kind="search")
        except ProviderError as exc:
            if exc.category != FailureCategory.NOT_FOUND:
                raise
            return None

    # Errors and HTTP ---------------------------------------------------

    def classify_error(self, response):
        return classify(response, self.label)

    def api_base_url(self):
        """
        Return the API's address: the connection's base URL, else the data centre's host.

        The data centre comes from the connection's options, else from the
        API key's suffix, else (for an OAuth connection stored without it)
        from the OAuth metadata endpoint, and is then stored in the options.
        """
        if self._api_base:
            return self._api_base
        options = self.connection.options or {}
        dc = options.get("dc")
        if dc:
            dc = check_data_centre(dc, "The connection's settings")
        else:
            credentials = self.connection.get_credentials()
            if credentials.get("api_key"):
                dc = data_centre_of_key(credentials["api_key"])
            else:
                token_set = TokenSet(access_token=credentials.get("access_token") or "")
                dc = self.account_options_after_oauth(token_set)["dc"]
                self._store_option("dc", dc)
        self._api_base = api_url_for(dc)
        return self._api_base

    def _store_option(self, name, value):
        self.connection.options = {**(self.connection.options or {}), name: value}
        if getattr(self.connection, "pk", None) is not None:
            self.connection.save(update_fields=["options", "updated_at"])

    def _url(self, path):
        return f"{self.api_base_url()}{path}"

    def _get(self, path, params=None, kind="read"):
        response = self.http.request("GET", self._url(path), kind=kind, params=params or {})
        body = self.http.json(response)
        if not isinstance(body, dict):
            raise ProviderError(FailureCategory.TOOL_ERROR, f"Mailchimp's response to {path} is JSON but not an object, so it can't be read. The next run tries again.")
        return body

    def _list_all(self, path, key, attributes):
        """Return every item of a Mailchimp collection, paging with count and offset until total_items."""
        params = {"count": self.page_size, "offset": 0}
        if attributes:
            params["fields"] = ",".join([*(f"{key}.{name}" for name in attributes), "total_items"])
        items = []
        while True:
            body = self._get(path, params)
            page = body.get(key) or []
            items.extend(page)
            params["offset"] += len(page)
            if not page or params["offset"] >= int(body.get("total_items") or 0):
                return items


def member_fields_param():
    """Return the `fields` parameter of a member list: only what the provider reads, and total_items."""
    return ",".join([*(f"members.{name}" for name in MEMBER_ATTRIBUTES), "total_items"])


def format_time(moment):
    """Return a UTC datetime as Mailchimp's ISO 8601 form, "2024-12-04T11:35:00+00:00"."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_cursor(cursor):
    """Return the datetime stored in a cursor, or None when it is empty or unreadable."""
    if not cursor:
        return None
    try:
        moment = datetime.fromisoformat(cursor)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
