"""
Stand-in for Zendesk Support's API and OAuth, served under `/zendesk`.

Clients use `{sandbox}/zendesk` as the account's address (in place of
https://{subdomain}.zendesk.com), so paths are the real ones:
`{base}/api/v2/users/me.json`, the authorize page
`{base}/oauth/authorizations/new` and the token endpoint `{base}/oauth/tokens`.
The account is the one the credentials belong to.

Authentication: Basic `{agent email}/token:{API token}`, or an OAuth bearer
token. Access tokens expire, and each refresh returns a new refresh token
and revokes the previous pair. End users get 403; a request without
credentials gets 401, except /users/me.json, which returns the anonymous user.

Rate limits are Zendesk Team's: 200 requests per minute per account, and
10 a minute for the incremental exports. Windows are calendar minutes, as
the `ratelimit-reset` header counts down. Responses carry X-Rate-Limit,
X-Rate-Limit-Remaining, ratelimit-limit, ratelimit-remaining and
ratelimit-reset. A refused request gets 429 with Retry-After and a
plain-text body, as Zendesk sends.

Bulk writes (update_many, create_many, create_or_update_many) return a
queued job_status. The job runs at the first request to the account after
the account's `job_delay_seconds`, and its job_status then lists one result
per record. Incremental exports leave out changes of the last
minute, as Zendesk's do.
"""

import base64
import binascii
import logging
import re
import secrets
import threading
from dataclasses import dataclass

from sandbox import oauth
from sandbox.web import BadRequestBody, Response, parse_nested_form
from sandbox.zendesk_store import RecordInvalid, RecordNotFound, decode_cursor, encode_cursor
from sandbox.zendesk_wire import (
    ZendeskError,
    error,
    invalid,
    not_found,
    paginate,
    parse_ids,
    parse_int,
    parse_search,
    render_identity,
    render_organization,
    render_ticket,
    render_user,
    search_page,
    ticket_matches,
    user_matches,
)

logger = logging.getLogger(__name__)

REQUESTS_PER_MINUTE = 200
EXPORTS_PER_MINUTE = 10
EXPORT_PAGE_MAX = 1000
# Incremental exports leave out changes of the last minute.
EXPORT_LAG_SECONDS = 60
BULK_RECORDS_MAX = 100
JOBS_QUEUED_MAX = 30
# NOTE: Zendesk doesn't publish default token lifetimes; these are the ones
# its token response has been seen with (2 days, 90 days).
ACCESS_TOKEN_LIFETIME_SECONDS = 172_800
REFRESH_TOKEN_LIFETIME_SECONDS = 7_776_000
SCOPES = {"read", "write", "users:read", "users:write", "tickets:read", "tickets:write",
          "organizations:read", "organizations:write", "identities:read", "identities:write"}
FORBIDDEN_TEXT = ("You do not have access to this page. Please contact the account owner of this help desk "
                  "for further help.")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    kind: str
    resource: str = ""

    @property
    def pattern(self):
        body = re.sub(r"\{(\w+_id)\}", r"(?P<\1>\\d+)", self.template)
        body = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/.]+)", body)
        return re.compile("^" + body + r"(?:\.json)?$")


ROUTES = [
    Route("GET", "/api/v2/users/me", "me", "read", "users"),
    Route("GET", "/api/v2/users/show_many", "show_many_users", "read", "users"),
    Route("GET", "/api/v2/users/search", "search_users", "search", "users"),
    Route("PUT", "/api/v2/users/update_many", "update_many_users", "write", "users"),
    Route("POST", "/api/v2/users/create_or_update_many", "create_or_update_many_users", "write", "users"),
    Route("POST", "/api/v2/users/create_many", "create_many_users", "write", "users"),
    Route("POST", "/api/v2/users/create_or_update", "create_or_update_user", "write", "users"),
    Route("GET", "/api/v2/users", "list_users", "read", "users"),
    Route("POST", "/api/v2/users", "create_user", "write", "users"),
    Route("GET", "/api/v2/users/{user_id}/identities", "list_identities", "read", "identities"),
    Route("POST", "/api/v2/users/{user_id}/identities", "create_identity", "write", "identities"),
    Route("GET", "/api/v2/users/{user_id}/identities/{identity_id}", "get_identity", "read", "identities"),
    Route("PUT", "/api/v2/users/{user_id}/identities/{identity_id}/make_primary", "make_primary", "write",
          "identities"),
    Route("GET", "/api/v2/users/{user_id}/tickets/requested", "requested_tickets", "read", "tickets"),
    Route("GET", "/api/v2/users/{user_id}", "get_user", "read", "users"),
    Route("PUT", "/api/v2/users/{user_id}", "update_user", "write", "users"),
    Route("DELETE", "/api/v2/users/{user_id}", "delete_user", "write", "users"),
    Route("GET", "/api/v2/user_fields", "list_user_fields", "read", "users"),
    Route("GET", "/api/v2/organization_fields", "list_organization_fields", "read", "organizations"),
    Route("GET", "/api/v2/organizations/show_many", "show_many_organizations", "read", "organizations"),
    Route("PUT", "/api/v2/organizations/update_many", "update_many_organizations", "write", "organizations"),
    Route("POST", "/api/v2/organizations/create_many", "create_many_organizations", "write", "organizations"),
    Route("GET", "/api/v2/organizations", "list_organizations", "read", "organizations"),
    Route("POST", "/api/v2/organizations", "create_organization", "write", "organizations"),
    Route("GET", "/api/v2/organizations/{organization_id}", "get_organization", "read", "organizations"),
    Route("PUT", "/api/v2/organizations/{organization_id}", "update_organization", "write", "organizations"),
    Route("GET", "/api/v2/tickets", "list_tickets", "read", "tickets"),
    Route("GET", "/api/v2/tickets/{ticket_id}", "get_ticket", "read", "tickets"),
    Route("GET", "/api/v2/incremental/users/cursor", "export_users", "export", "users"),
    Route("GET", "/api/v2/incremental/tickets/cursor", "export_tickets", "export", "tickets"),
    Route("GET", "/api/v2/incremental/organizations", "export_organizations", "export", "organizations"),
    Route("GET", "/api/v2/search/count", "search_count", "search", "tickets"),
    Route("GET", "/api/v2/search", "search", "search", "tickets"),
    Route("GET", "/api/v2/job_statuses/{job}", "job_status", "read", "jobs"),
    Route("GET", "/oauth/authorizations/new", "oauth_authorize_page", "oauth"),
    Route("POST", "/oauth/authorizations/new", "oauth_authorize_decision", "oauth"),
    Route("POST", "/oauth/tokens", "oauth_token", "oauth"),
]
COMPILED_ROUTES = [(route, route.pattern) for route in ROUTES]


class MinuteWindowLimiter:
    """Allow `limit` requests per key in each calendar minute of `clock`; returns (allowed, remaining, reset seconds)."""

    def __init__(self, limit, clock):
        self.limit = limit
        self._clock = clock
        self._counts = {}
        self._lock = threading.Lock()

    def hit(self, key):
        now = self._clock()
        minute = int(now // 60)
        reset = max(1, int(60 - now % 60))
        with self._lock:
            window, count = self._counts.get(key, (minute, 0))
            if window != minute:
                count = 0
            if count >= self.limit:
                return False, 0, reset
            self._counts[key] = (minute, count + 1)
            return True, self.limit - count - 1, reset


@dataclass
class Caller:
    """The sender of a request: the account, the user it acts as, and the OAuth scopes (None for an API token)."""

    account: object
    user: object
    scopes: set | None


class ZendeskAPI:
    """Routes `/zendesk/...` requests to the accounts in a `SandboxState`."""

    tool = "zendesk"

    def __init__(self, state, rate_limits=True):
        self.state = state
        self.rate_limits = rate_limits
        self.requests_limiter = MinuteWindowLimiter(REQUESTS_PER_MINUTE, state.clock.now)
        self.exports_limiter = MinuteWindowLimiter(EXPORTS_PER_MINUTE, state.clock.now)
        self._token_lock = threading.Lock()
        self.refresh_expiry = {}

    def handle(self, request, path):
        """Serve one request; return the response, the endpoint label and its kind for the counters."""
        for route, pattern in COMPILED_ROUTES:
            match = pattern.match(path)
            if match and route.method == request.method:
                response = self._dispatch(request, route, match.groupdict())
                return response, f"{route.method} {route.template}", route.kind
        return Response.json(404, {"error": "InvalidEndpoint", "description": "Not found"}), \
            f"{request.method} (unknown)", "unknown"

    def _dispatch(self, request, route, params):
        headers = {}
        try:
            if route.kind == "oauth":
                return getattr(self, route.handler)(request)
            caller = self._authenticate(request, anonymous_ok=route.handler == "me")
            if caller.account is None:
                return Response.json(200, {"user": anonymous_user()})
            self._authorize(request, route, caller)
            headers = self._check_rate_limits(caller.account, route)
            with caller.account.lock:
                caller.account.run_due_jobs()
                response = getattr(self, route.handler)(caller, request, **params)
        except ZendeskError as failure:
            response = failure.response()
            headers = {**headers, **failure.headers}
        except RecordInvalid as failure:
            response = Response.json(422, failure.body())
        except RecordNotFound:
            response = not_found().response()
        except BadRequestBody as failure:
            response = Response.json(400, {"error": "InvalidJSON", "description": str(failure)})
        response.headers.update(headers)
        return response

    # Authentication and limits

    def _authenticate(self, request, anonymous_ok=False):
        header = request.header("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if not header:
            if anonymous_ok:
                return Caller(None, None, None)
            raise error(401, "Couldn't authenticate you", "Send an agent's email/token:TOKEN or an OAuth token.")
        if scheme.lower() == "basic":
            return self._basic_caller(credentials)
        if scheme.lower() == "bearer":
            return self._oauth_caller(credentials)
        raise ZendeskError(401, {"error": "Couldn't authenticate you"})

    def _basic_caller(self, credentials):
        try:
            pair = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ZendeskError(401, {"error": "Couldn't authenticate you"}) from None
        email, _, token = pair.partition("/token:")
        subdomain = self.state.zendesk_api_tokens.get(token) if token else None
        if subdomain is None:
            # Password sign-in is off for API use, as on new Zendesk accounts.
            raise ZendeskError(401, {"error": "Couldn't authenticate you"})
        account = self.state.zendesk_accounts[subdomain]
        user = account.user_by_email(email)
        if user is None or not user.active:
            raise ZendeskError(401, {"error": "Couldn't authenticate you"})
        return Caller(account, user, None)

    def _oauth_caller(self, token):
        grant = self.state.oauth.grant_for_access_token("zendesk", token)
        if grant is None or self.state.oauth.is_expired(grant):
            raise ZendeskError(401, {
                "error": "invalid_token",
                "error_description": "The access token provided is expired, revoked, malformed or invalid for "
                                     "other reasons.",
            })
        subdomain, _, user_id = grant.account.partition(":")
        account = self.state.zendesk_accounts[subdomain]
        return Caller(account, account.users[int(user_id)], set(grant.scope.split()))

    def _authorize(self, request, route, caller):
        if caller.user.role == "end-user" and route.handler != "me":
            raise error(403, "Forbidden", FORBIDDEN_TEXT)
        if caller.scopes is None:
            return
        access = "read" if request.method == "GET" else "write"
        allowed = {access}
        # The User Identities API takes only the broad read and write scopes.
        if route.resource not in ("identities", "jobs", ""):
            allowed.add(f"{route.resource}:{access}")
        if not allowed & caller.scopes:
            raise error(403, "Forbidden", FORBIDDEN_TEXT)

    def _check_rate_limits(self, account, route):
        if not self.rate_limits:
            return {}
        allowed, remaining, reset = self.requests_limiter.hit(account.subdomain)
        headers = {
            "X-Rate-Limit": str(REQUESTS_PER_MINUTE),
            "X-Rate-Limit-Remaining": str(remaining),
            "ratelimit-limit": str(REQUESTS_PER_MINUTE),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset),
        }
        if not allowed:
            raise ZendeskError(429, text="Rate limit exceeded", headers={**headers, "Retry-After": str(reset)})
        if route.kind == "export":
            allowed, _remaining, reset = self.exports_limiter.hit(account.subdomain)
            if not allowed:
                raise ZendeskError(
                    429, text="Number of allowed incremental export API requests per minute exceeded",
                    headers={**headers, "Retry-After": str(reset)},
                )
        return headers

    # Users

    def me(self, caller, request):
        return Response.json(200, {"user": render_user(caller.user, caller.account, base_url(request))})

    def list_users(self, caller, request):
        account = caller.account
        query = request.query()
        users = sorted(account.users.values(), key=lambda user: user.id)
        roles = [value for name, value in request.query_pairs() if name in ("role", "role[]")]
        if roles:
            users = [user for user in users if user.role in roles]
        render = self._user_renderer(caller, request)
        return Response.json(200, paginate(users, query, "users", base_url(request), "/api/v2/users.json", render))

    def get_user(self, caller, request, user_id):
        user = caller.account.get_user(int(user_id))
        return Response.json(200, {"user": self._user_renderer(caller, request)(user)})

    def show_many_users(self, caller, request):
        query = request.query()
        account = caller.account
        if query.get("external_ids"):
            wanted = [value.strip() for value in query["external_ids"].split(",") if value.strip()]
            users = [user for user in account.users.values() if user.external_id in wanted]
        else:
            ids = parse_ids(query.get("ids"))
            users = [account.users[user_id] for user_id in ids if user_id in account.users]
        render = self._user_renderer(caller, request)
        return Response.json(200, {"users": [render(user) for user in users], "next_page": None,
                                   "previous_page": None, "count": len(users)})

    def search_users(self, caller, request):
        query = request.query()
        account = caller.account
        if query.get("external_id"):
            users = [user for user in account.users.values() if user.external_id == query["external_id"]]
        else:
            terms, words = parse_search(query.get("query"))
            users = [user for user in account.users.values() if user_matches(account, user, terms, words)]
        users.sort(key=lambda user: user.id)
        body = search_page(users, query, "users", base_url(request), "/api/v2/users/search.json",
                           self._user_renderer(caller, request))
        body.pop("facets")
        return Response.json(200, body)

    def create_user(self, caller, request):
        values = record_body(request, "user")
        user = caller.account.create_user(values)
        return Response.json(201, {"user": self._user_renderer(caller, request)(user)})

    def update_user(self, caller, request, user_id):
        user = caller.account.get_user(int(user_id))
        caller.account.update_user(user, record_body(request, "user"))
        return Response.json(200, {"user": self._user_renderer(caller, request)(user)})

    def delete_user(self, caller, request, user_id):
        user = caller.account.get_user(int(user_id))
        caller.account.deactivate_user(user)
        return Response.json(200, {"user": self._user_renderer(caller, request)(user)})

    def create_or_update_user(self, caller, request):
        user, status = caller.account.create_or_update_user(record_body(request, "user"))
        return Response.json(201 if status == "Created" else 200, {"user": self._user_renderer(caller, request)(user)})

    def update_many_users(self, caller, request):
        account = caller.account
        body = request.json()
        if request.query().get("ids"):
            ids = parse_ids(request.query()["ids"], limit=BULK_RECORDS_MAX)
            values = body.get("user") if isinstance(body, dict) else None
            if not isinstance(values, dict):
                raise invalid("Send {\"user\": {...}} with the values to set on every id in ids.")
            items = [{**values, "id": user_id} for user_id in ids]
        else:
            items = bulk_items(body, "users")

        def work():
            return [update_result(account, "user", item, account.update_user) for item in items]

        return self._queue_job(caller, request, "bulk_update", items, work)

    def create_or_update_many_users(self, caller, request):
        account = caller.account
        items = bulk_items(request.json(), "users")

        def work():
            results = []
            for index, item in enumerate(items):
                try:
                    user, status = account.create_or_update_user(item)
                except RecordInvalid as failure:
                    results.append(failed_result(index, None, failure))
                    continue
                results.append({"index": index, "id": user.id, "status": status, "email": user.email,
                                "success": True})
            return results

        return self._queue_job(caller, request, "bulk_create_or_update", items, work)

    def create_many_users(self, caller, request):
        account = caller.account
        items = bulk_items(request.json(), "users")

        def work():
            results = []
            for index, item in enumerate(items):
                try:
                    user = account.create_user(item)
                except RecordInvalid as failure:
                    results.append(failed_result(index, None, failure))
                    continue
                results.append({"index": index, "id": user.id, "status": "Created", "email": user.email,
                                "success": True})
            return results

        return self._queue_job(caller, request, "bulk_create", items, work)

    def _user_renderer(self, caller, request):
        url = base_url(request)
        return lambda user: render_user(user, caller.account, url)

    # Identities

    def list_identities(self, caller, request, user_id):
        account = caller.account
        account.get_user(int(user_id))
        identities = sorted(account.user_identities(int(user_id)), key=lambda identity: identity.id)
        url = base_url(request)
        return Response.json(200, paginate(identities, request.query(), "identities", url,
                                           f"/api/v2/users/{user_id}/identities.json",
                                           lambda identity: render_identity(identity, url)))

    def get_identity(self, caller, request, user_id, identity_id):
        identity = self._identity(caller.account, user_id, identity_id)
        return Response.json(200, {"identity": render_identity(identity, base_url(request))})

    def create_identity(self, caller, request, user_id):
        account = caller.account
        user = account.get_user(int(user_id))
        values = record_body(request, "identity")
        identity = account.add_identity(user, values.get("type"), values.get("value"))
        return Response.json(201, {"identity": render_identity(identity, base_url(request))})

    def make_primary(self, caller, request, user_id, identity_id):
        account = caller.account
        identity = self._identity(account, user_id, identity_id)
        account.make_primary(account.get_user(int(user_id)), identity)
        url = base_url(request)
        identities = sorted(account.user_identities(int(user_id)), key=lambda item: item.id)
        return Response.json(200, {"identities": [render_identity(item, url) for item in identities]})

    def _identity(self, account, user_id, identity_id):
        identity = account.identities.get(int(identity_id))
        if identity is None or identity.user_id != int(user_id):
            raise not_found()
        return identity

    # Fields

    def list_user_fields(self, caller, request):
        return self._list_fields(request, caller.account.user_fields, "user_fields")

    def list_organization_fields(self, caller, request):
        return self._list_fields(request, caller.account.organization_fields, "organization_fields")

    def _list_fields(self, request, fields, key):
        url = base_url(request)
        definitions = sorted(fields.values(), key=lambda definition: definition.id)
        return Response.json(200, paginate(definitions, request.query(), key, url, f"/api/v2/{key}.json",
                                           lambda definition: definition.render(url, key)))

    # Organizations

    def list_organizations(self, caller, request):
        account = caller.account
        organizations = sorted(
            (item for item in account.organizations.values() if item.deleted_at is None), key=lambda item: item.id
        )
        url = base_url(request)
        return Response.json(200, paginate(organizations, request.query(), "organizations", url,
                                           "/api/v2/organizations.json",
                                           lambda item: render_organization(item, account, url)))

    def get_organization(self, caller, request, organization_id):
        organization = caller.account.organizations.get(int(organization_id))
        if organization is None:
            raise not_found()
        return Response.json(200, {"organization": render_organization(organization, caller.account,
                                                                      base_url(request))})

    def show_many_organizations(self, caller, request):
        account = caller.account
        ids = parse_ids(request.query().get("ids"))
        url = base_url(request)
        organizations = [account.organizations[item] for item in ids if item in account.organizations]
        return Response.json(200, {"organizations": [render_organization(item, account, url) for item in organizations],
                                   "next_page": None, "previous_page": None, "count": len(organizations)})

    def create_organization(self, caller, request):
        organization = caller.account.create_organization(record_body(request, "organization"))
        return Response.json(201, {"organization": render_organization(organization, caller.account,
                                                                      base_url(request))})

    def update_organization(self, caller, request, organization_id):
        organization = caller.account.organizations.get(int(organization_id))
        if organization is None:
            raise not_found()
        caller.account.update_organization(organization, record_body(request, "organization"))
        return Response.json(200, {"organization": render_organization(organization, caller.account,
                                                                      base_url(request))})

    def update_many_organizations(self, caller, request):
        account = caller.account
        items = bulk_items(request.json(), "organizations")

        def work():
            return [update_result(account, "organization", item, account.update_organization) for item in items]

        return self._queue_job(caller, request, "bulk_update", items, work)

    def create_many_organizations(self, caller, request):
        account = caller.account
        items = bulk_items(request.json(), "organizations")

        def work():
            results = []
            for index, item in enumerate(items):
                try:
                    organization = account.create_organization(item)
                except RecordInvalid as failure:
                    results.append(failed_result(index, None, failure))
                    continue
                results.append({"index": index, "id": organization.id, "status": "Created", "success": True})
            return results

        return self._queue_job(caller, request, "bulk_create", items, work)

    # Tickets

    def list_tickets(self, caller, request):
        tickets = sorted(
            (ticket for ticket in caller.account.tickets.values() if ticket.status != "deleted"),
            key=lambda ticket: ticket.id,
        )
        url = base_url(request)
        return Response.json(200, paginate(tickets, request.query(), "tickets", url, "/api/v2/tickets.json",
                                           lambda ticket: render_ticket(ticket, url)))

    def get_ticket(self, caller, request, ticket_id):
        ticket = caller.account.tickets.get(int(ticket_id))
        if ticket is None or ticket.status == "deleted":
            raise not_found()
        return Response.json(200, {"ticket": render_ticket(ticket, base_url(request))})

    def requested_tickets(self, caller, request, user_id):
        caller.account.get_user(int(user_id))
        tickets = sorted(
            (ticket for ticket in caller.account.tickets.values()
             if ticket.requester_id == int(user_id) and ticket.status != "deleted"),
            key=lambda ticket: ticket.id,
        )
        url = base_url(request)
        return Response.json(200, paginate(tickets, request.query(), "tickets", url,
                                           f"/api/v2/users/{user_id}/tickets/requested.json",
                                           lambda ticket: render_ticket(ticket, url)))

    # Incremental exports

    def export_users(self, caller, request):
        account = caller.account
        url = base_url(request)
        return self._cursor_export(request, account.users.values(), "users", "/api/v2/incremental/users/cursor.json",
                                   lambda user: render_user(user, account, url), account)

    def export_tickets(self, caller, request):
        account = caller.account
        url = base_url(request)
        tickets = account.tickets.values()
        if request.query().get("exclude_deleted") == "true":
            tickets = [ticket for ticket in tickets if ticket.status != "deleted"]
        return self._cursor_export(request, tickets, "tickets", "/api/v2/incremental/tickets/cursor.json",
                                   lambda ticket: render_ticket(ticket, url), account)

    def _cursor_export(self, request, records, key, path, render, account):
        query = request.query()
        per_page = parse_int(query.get("per_page"), "per_page", default=EXPORT_PAGE_MAX, maximum=EXPORT_PAGE_MAX)
        now = account.now()
        if query.get("cursor"):
            try:
                position = decode_cursor(query["cursor"])
            except ValueError as failure:
                raise error(400, "InvalidPaginationParameter", str(failure)) from None
        elif query.get("start_time") not in (None, ""):
            start_time = parse_int(query["start_time"], "start_time", minimum=0)
            check_start_time(start_time, now)
            position = (start_time, 0)
        else:
            raise invalid("start_time is missing: send start_time (Unix seconds) or the cursor of the previous page.")
        items, last, end_of_stream = account.export_page(records, position, per_page, now - EXPORT_LAG_SECONDS)
        after_cursor = encode_cursor(*last)
        return Response.json(200, {
            key: [render(item) for item in items],
            "after_url": f"{base_url(request)}{path}?cursor={after_cursor}",
            "after_cursor": after_cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": end_of_stream,
        })

    def export_organizations(self, caller, request):
        account = caller.account
        query = request.query()
        start_time = parse_int(query.get("start_time"), "start_time", minimum=0)
        if start_time is None:
            raise invalid("start_time is missing: send the Unix time to export organizations changed since.")
        now = account.now()
        check_start_time(start_time, now)
        per_page = parse_int(query.get("per_page"), "per_page", default=EXPORT_PAGE_MAX, maximum=EXPORT_PAGE_MAX)
        items, last, end_of_stream = account.export_page(
            account.organizations.values(), (start_time, 0), per_page, now - EXPORT_LAG_SECONDS
        )
        end_time = last[0] if items else start_time
        url = base_url(request)
        return Response.json(200, {
            "organizations": [render_organization(item, account, url) for item in items],
            "next_page": f"{url}/api/v2/incremental/organizations.json?start_time={end_time}",
            "count": len(items),
            "end_of_stream": end_of_stream,
            "end_time": end_time,
        })

    # Search

    def search(self, caller, request):
        account = caller.account
        query = request.query()
        terms, words = parse_search(query.get("query"))
        kinds = {value for _op, value in terms.get("type", [])}
        if kinds - {"ticket", "user"} or not kinds:
            raise ZendeskError(400, {"error": {
                "title": "Invalid search",
                "message": "Invalid search: the sandbox searches type:ticket and type:user only",
            }})
        url = base_url(request)
        if kinds == {"user"}:
            users = [user for user in account.users.values() if user_matches(account, user, terms, words)]
            users.sort(key=lambda user: user.id)

            def render(user):
                return {**render_user(user, account, url), "result_type": "user"}

            return Response.json(200, search_page(users, query, "results", url, "/api/v2/search.json", render))

        tickets = [ticket for ticket in account.tickets.values() if ticket_matches(ticket, terms, words)]
        sort_by = query.get("sort_by") or "created_at"
        if sort_by not in ("created_at", "updated_at", "status", "priority", "ticket_type"):
            raise invalid(f"sort_by {sort_by!r} is not supported: use created_at, updated_at, status, "
                          "priority or ticket_type.")
        attribute = "type" if sort_by == "ticket_type" else sort_by

        def sort_key(ticket):
            value = getattr(ticket, attribute)
            return (value if isinstance(value, int) else str(value or ""), ticket.id)

        tickets.sort(key=sort_key, reverse=query.get("sort_order", "desc") == "desc")

        def render(ticket):
            return {**render_ticket(ticket, url), "result_type": "ticket"}

        return Response.json(200, search_page(tickets, query, "results", url, "/api/v2/search.json", render))

    def search_count(self, caller, request):
        account = caller.account
        terms, words = parse_search(request.query().get("query"))
        kinds = {value for _op, value in terms.get("type", [])}
        if kinds == {"user"}:
            count = sum(1 for user in account.users.values() if user_matches(account, user, terms, words))
        else:
            count = sum(1 for ticket in account.tickets.values() if ticket_matches(ticket, terms, words))
        return Response.json(200, {"count": count})

    # Jobs

    def _queue_job(self, caller, request, job_type, items, work):
        account = caller.account
        queued = sum(1 for job in account.jobs.values() if job.status in ("queued", "working"))
        if queued >= JOBS_QUEUED_MAX:
            # NOTE: the body of this 429 is modelled; Zendesk documents only the limit of 30 queued jobs.
            raise ZendeskError(429, {"error": "TooManyJobs",
                                     "description": f"Number of queued or running jobs is at the limit of "
                                                    f"{JOBS_QUEUED_MAX}; wait for some to complete."},
                               headers={"Retry-After": "10"})
        job = account.submit_job(job_type, len(items), work, account.job_delay_seconds)
        logger.info("Zendesk sandbox %s queued job %s of %s records", account.subdomain, job.id, len(items))
        return Response.json(200, {"job_status": job.render(base_url(request))})

    def job_status(self, caller, request, job):
        found = caller.account.jobs.get(job)
        if found is None:
            raise not_found()
        return Response.json(200, {"job_status": found.render(base_url(request))})

    # OAuth

    def oauth_authorize_page(self, request):
        params = request.query()
        try:
            app = self._check_authorize(params)
        except oauth.OAuthError as failure:
            return Response.html(400, oauth.error_page("Zendesk", failure.description))
        accounts = [
            (f"{account.subdomain}:{user.id}", f"{user.name} ({account.subdomain}.zendesk.com)")
            for account in self.state.zendesk_accounts.values()
            for user in account.users.values()
            if user.role in ("admin", "agent") and user.active
        ]
        names = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                 "code_challenge_method")
        hidden = {name: params.get(name) for name in names}
        page = oauth.consent_page("Zendesk", app, accounts, request.path, hidden, params.get("scope") or "read")
        return Response.html(200, page)

    def oauth_authorize_decision(self, request):
        params = dict(request.form_pairs())
        try:
            self._check_authorize(params)
        except oauth.OAuthError as failure:
            return Response.html(400, oauth.error_page("Zendesk", failure.description))
        redirect_uri, state = params["redirect_uri"], params.get("state")
        if params.get("decision") != "allow":
            return Response.redirect(oauth.redirect_with(redirect_uri, {
                "error": "access_denied", "error_description": "The end-user or authorization server denied the request.",
                "state": state,
            }))
        subdomain, _, user_id = params.get("account", "").partition(":")
        account = self.state.zendesk_accounts.get(subdomain)
        if account is None or not user_id.isdigit() or int(user_id) not in account.users:
            return Response.html(400, oauth.error_page("Zendesk", f"Unknown Zendesk user {params.get('account')!r}."))
        code = self.state.oauth.issue_code(
            "zendesk", params["client_id"], redirect_uri, params.get("scope") or "read",
            f"{subdomain}:{user_id}", code_challenge=params.get("code_challenge") or "",
        )
        logger.info("Zendesk sandbox authorized client %s for %s", params["client_id"], subdomain)
        return Response.redirect(oauth.redirect_with(redirect_uri, {"code": code, "state": state}))

    def _check_authorize(self, params):
        if params.get("response_type", "code") != "code":
            raise oauth.OAuthError(oauth.OAuthError.MISSING_PARAMETER,
                                   f"Unsupported response_type {params.get('response_type')!r}: use code.")
        unknown = set((params.get("scope") or "read").split()) - SCOPES
        if unknown:
            raise oauth.OAuthError(oauth.OAuthError.MISSING_PARAMETER,
                                   f"Unknown scope {sorted(unknown)[0]!r}: use read, write or resource scopes.")
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method not in (None, "", "S256"):
            raise oauth.OAuthError(oauth.OAuthError.MISSING_PARAMETER,
                                   f"Unsupported code_challenge_method {method!r}: use S256.")
        return self.state.oauth.check_authorize_request("zendesk", params.get("client_id"), params.get("redirect_uri"))

    def oauth_token(self, request):
        """Exchange a code or a refresh token; a refresh rotates the refresh token and revokes the old pair."""
        if "json" in (request.header("Content-Type") or ""):
            params = request.json()
        else:
            params = parse_nested_form(request.form_pairs())
        if not isinstance(params, dict):
            return token_error(400, "invalid_request", "The request body must be a JSON object.")
        client_id = params.get("client_id")
        grant_type = params.get("grant_type")
        try:
            self.state.oauth.authenticate_client("zendesk", client_id, params.get("client_secret"))
        except oauth.OAuthError:
            return token_error(401, "invalid_client", "Client authentication failed due to unknown client, no "
                               "client authentication included, or unsupported authentication method.")
        try:
            if grant_type == "authorization_code":
                grant = self.state.oauth.redeem_code(
                    "zendesk", params.get("code"), client_id, redirect_uri=params.get("redirect_uri") or "",
                    code_verifier=params.get("code_verifier"), lifetime=ACCESS_TOKEN_LIFETIME_SECONDS,
                )
            elif grant_type == "refresh_token":
                grant = self._rotate(params.get("refresh_token"), client_id)
            else:
                return token_error(400, "unsupported_grant_type",
                                   f"The authorization grant type {grant_type!r} is not supported by the "
                                   "authorization server.")
        except oauth.OAuthError:
            return token_error(400, "invalid_grant", "The provided authorization grant is invalid, expired, or "
                               "revoked.")
        self.refresh_expiry[grant.refresh_token] = self.state.clock.now() + REFRESH_TOKEN_LIFETIME_SECONDS
        return Response.json(200, {
            "access_token": grant.access_token,
            "token_type": "bearer",
            "scope": grant.scope,
            "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
            "refresh_token": grant.refresh_token,
            "refresh_token_expires_in": REFRESH_TOKEN_LIFETIME_SECONDS,
        })

    def _rotate(self, refresh_token, client_id):
        """Mint a new access and refresh token for a refresh token; the old refresh token stops working."""
        with self._token_lock:
            expiry = self.refresh_expiry.get(refresh_token or "")
            if expiry is not None and expiry <= self.state.clock.now():
                raise oauth.OAuthError(oauth.OAuthError.BAD_REFRESH_TOKEN, "The refresh token has expired.")
            grant = self.state.oauth.refresh("zendesk", refresh_token, client_id,
                                             lifetime=ACCESS_TOKEN_LIFETIME_SECONDS)
            # NOTE: OAuthServer keeps a refresh token across refreshes, so the
            # rotation Zendesk does is made here by re-keying the grant.
            grants = self.state.oauth.grants_by_refresh
            grants.pop(grant.refresh_token, None)
            self.refresh_expiry.pop(grant.refresh_token, None)
            grant.refresh_token = "zendesk-refresh-" + secrets.token_urlsafe(24)
            grants[grant.refresh_token] = grant
            return grant


def base_url(request):
    """Return the sandbox address of the account as the client used it, for `url` fields and links."""
    return f"http://{request.header('Host') or 'localhost'}/zendesk"


def anonymous_user():
    return {"id": None, "url": None, "name": "Anonymous user", "email": "invalid@example.com", "role": "end-user",
            "active": True, "verified": False, "user_fields": {}}


def token_error(status, code, description):
    return Response.json(status, {"error": code, "error_description": description})


def check_start_time(start_time, now):
    if start_time > now - EXPORT_LAG_SECONDS:
        raise invalid("Too recent start_time. Use a start_time older than 1 minute")


def record_body(request, key):
    body = request.json()
    values = body.get(key) if isinstance(body, dict) else None
    if not isinstance(values, dict):
        raise invalid(f"Send {{\"{key}\": {{...}}}} with the {key}'s values.")
    return values


def bulk_items(body, key):
    """Return the records of a bulk request, at most 100; raise a 400 naming what is wrong."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise invalid(f"Send {{\"{key}\": [{{...}}, ...]}} with up to {BULK_RECORDS_MAX} records.")
    if not items:
        raise invalid(f"{key} is empty: send at least one record.")
    if len(items) > BULK_RECORDS_MAX:
        # NOTE: Zendesk documents the limit of 100; this error text is modelled.
        raise invalid(f"Too many {key}: {len(items)} given, at most {BULK_RECORDS_MAX} per request.")
    return items


def update_result(account, kind, item, update):
    """Apply one record of an update_many job and return its result as Zendesk reports it."""
    record_id = item.get("id")
    records = account.users if kind == "user" else account.organizations
    record = records.get(record_id) if isinstance(record_id, int) else None
    if record is None:
        return {"id": record_id, "action": "update", "status": "Failed", "success": False,
                "error": "RecordNotFound", "details": f"{kind.capitalize()} {record_id} not found"}
    try:
        update(record, {key: value for key, value in item.items() if key != "id"})
    except RecordInvalid as failure:
        code = failure.first_code()
        return {"id": record_id, "action": "update", "status": "Failed", "success": False,
                "error": code if code == "DuplicateValue" else f"{kind.capitalize()}UpdateError",
                "details": failure.summary()}
    return {"id": record_id, "action": "update", "status": "Updated", "success": True}


def failed_result(index, record_id, failure):
    return {"index": index, "id": record_id, "status": "Failed", "success": False, "error": failure.first_code(),
            "details": failure.summary()}
