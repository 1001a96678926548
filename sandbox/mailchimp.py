"""
Stand-in for Mailchimp's Marketing API 3.0 and OAuth, served under `/mailchimp`.

Clients use `{sandbox}/mailchimp` both as the API address (in place of
https://{dc}.api.mailchimp.com, so `{base}/3.0/lists`) and as the login
address (in place of https://login.mailchimp.com, so
`{base}/oauth2/authorize`, `{base}/oauth2/token` and `{base}/oauth2/metadata`).

Authentication: Basic with any user name and an API key as the password, or
an OAuth token as `Bearer` (or `OAuth`, as the metadata endpoint takes it).
Keys and tokens never expire and there is no refresh.

Limits: at most 10 requests in flight per user, Mailchimp's only published
limit; the 11th gets 429. Collections page with `count` (default 10, at most
1,000) and `offset`, and `fields` or `exclude_fields` trim any response.
Errors are problem details (`application/problem+json`).
"""

import base64
import binascii
import logging
import re
import threading
import uuid
from dataclasses import dataclass

from sandbox import oauth
from sandbox.mailchimp_store import (
    MalformedAddress,
    MemberRejected,
    WRITABLE_STATUSES,
    parse_time,
    render_list,
    render_member,
    subscriber_hash,
)
from sandbox.web import BadRequestBody, Response, parse_nested_form

logger = logging.getLogger(__name__)

CONCURRENT_REQUESTS_MAX = 10
COUNT_DEFAULT = 10
COUNT_MAX = 1000
BATCH_MEMBERS_MAX = 500
ERROR_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")


class MailchimpError(Exception):
    """An error response with a problem-details body."""

    def __init__(self, status, title, detail, errors=None):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors

    def response(self):
        body = {"type": ERROR_DOC, "title": self.title, "status": self.status, "detail": self.detail,
                "instance": str(uuid.uuid4())}
        if self.errors:
            body["errors"] = self.errors
        return problem_response(self.status, body)


def problem_response(status, body):
    response = Response.json(status, body)
    response.headers["Content-Type"] = "application/problem+json; charset=utf-8"
    return response


def not_found():
    return MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")


def invalid_resource(detail, errors=None):
    return MailchimpError(400, "Invalid Resource", detail, errors)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    kind: str

    @property
    def pattern(self):
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "/?$")


ROUTES = [
    Route("GET", "/3.0", "root", "read"),
    Route("GET", "/3.0/lists", "list_lists", "read"),
    Route("GET", "/3.0/lists/{list_id}", "get_list", "read"),
    Route("POST", "/3.0/lists/{list_id}", "batch_subscribe", "write"),
    Route("GET", "/3.0/lists/{list_id}/merge-fields", "list_merge_fields", "read"),
    Route("GET", "/3.0/lists/{list_id}/merge-fields/{merge_id}", "get_merge_field", "read"),
    Route("GET", "/3.0/lists/{list_id}/members", "list_members", "read"),
    Route("POST", "/3.0/lists/{list_id}/members", "add_member", "write"),
    Route("GET", "/3.0/lists/{list_id}/members/{member}", "get_member", "search"),
    Route("PATCH", "/3.0/lists/{list_id}/members/{member}", "update_member", "write"),
    Route("PUT", "/3.0/lists/{list_id}/members/{member}", "put_member", "write"),
    Route("DELETE", "/3.0/lists/{list_id}/members/{member}", "archive_member", "write"),
    Route("POST", "/3.0/lists/{list_id}/members/{member}/actions/delete-permanent", "delete_permanent", "write"),
    Route("GET", "/3.0/lists/{list_id}/members/{member}/tags", "list_member_tags", "read"),
    Route("POST", "/3.0/lists/{list_id}/members/{member}/tags", "set_member_tags", "write"),
    Route("GET", "/oauth2/authorize", "oauth_authorize_page", "oauth"),
    Route("POST", "/oauth2/authorize", "oauth_authorize_decision", "oauth"),
    Route("POST", "/oauth2/token", "oauth_token", "oauth"),
    Route("GET", "/oauth2/metadata", "oauth_metadata", "oauth"),
]
COMPILED_ROUTES = [(route, route.pattern) for route in ROUTES]


class ConnectionSlots:
    """Requests in flight per user; `acquire` returns False when `limit` are already in flight."""

    def __init__(self, limit):
        self.limit = limit
        self.in_flight = {}
        self._lock = threading.Lock()

    def acquire(self, key):
        with self._lock:
            if self.in_flight.get(key, 0) >= self.limit:
                return False
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            return True

    def release(self, key):
        with self._lock:
            self.in_flight[key] -= 1


class MailchimpAPI:
    """Routes `/mailchimp/...` requests to the accounts in a `SandboxState`."""

    tool = "mailchimp"

    def __init__(self, state, rate_limits=True):
        self.state = state
        self.rate_limits = rate_limits
        self.slots = ConnectionSlots(CONCURRENT_REQUESTS_MAX)

    def handle(self, request, path):
        """Serve one request; return the response, the endpoint label and its kind for the counters."""
        for route, pattern in COMPILED_ROUTES:
            match = pattern.match(path)
            if match and route.method == request.method:
                response = self._dispatch(request, route, match.groupdict())
                return response, f"{route.method} {route.template}", route.kind
        return not_found().response(), f"{request.method} (unknown)", "unknown"

    def _dispatch(self, request, route, params):
        try:
            if route.kind == "oauth":
                return getattr(self, route.handler)(request)
            account = self._authenticate(request)
            if self.rate_limits and not self.slots.acquire(account.account_id):
                raise MailchimpError(429, "Too Many Requests",
                                     f"You have exceeded the limit of {CONCURRENT_REQUESTS_MAX} simultaneous connections.")
            try:
                with account.lock:
                    response = getattr(self, route.handler)(account, request, **params)
            finally:
                if self.rate_limits:
                    self.slots.release(account.account_id)
        except MailchimpError as error:
            return error.response()
        except BadRequestBody as error:
            return MailchimpError(400, "JSON Parse Exception",
                                  f"We encountered an unspecified JSON parsing error: {error}").response()
        return trim(response, request.query())

    def _authenticate(self, request):
        header = request.header("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if not credentials:
            raise MailchimpError(401, "API Key Missing", "Your request did not include an API key.")
        account_id = None
        if scheme.lower() == "basic":
            try:
                _user, _, key = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = ""
            account_id = self.state.mailchimp_api_keys.get(key)
        elif scheme.lower() in ("bearer", "oauth"):
            grant = self.state.oauth.grant_for_access_token("mailchimp", credentials)
            account_id = grant.account if grant else None
        if account_id is None:
            raise MailchimpError(401, "API Key Invalid",
                                 "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
        return self.state.mailchimp_accounts[account_id]

    # Account and audiences

    def root(self, account, request):
        return Response.json(200, {
            "account_id": account.account_id,
            "login_id": account.login_id,
            "account_name": account.name,
            "email": account.email,
            "first_name": "Sandbox",
            "last_name": "Owner",
            "username": account.email.split("@")[0],
            "avatar_url": "",
            "role": "owner",
            "member_since": "2022-01-10T09:00:00+00:00",
            "pricing_plan_type": "monthly",
            "account_timezone": "UTC",
            "account_industry": "Software",
            "pro_enabled": False,
            "total_subscribers": sum(
                1 for audience in account.lists.values() for member in audience.members.values()
                if member.status == "subscribed"
            ),
        })

    def list_lists(self, account, request):
        count, offset = page_params(request.query())
        audiences = list(account.lists.values())
        url = base_url(request)
        return Response.json(200, {
            "lists": [render_list(audience, account, url) for audience in audiences[offset : offset + count]],
            "total_items": len(audiences),
            "constraints": {"may_create": True, "max_instances": 100, "current_total_instances": len(audiences)},
        })

    def get_list(self, account, request, list_id):
        return Response.json(200, render_list(self._audience(account, list_id), account, base_url(request)))

    def list_merge_fields(self, account, request, list_id):
        audience = self._audience(account, list_id)
        count, offset = page_params(request.query())
        fields = list(audience.merge_fields.values())
        return Response.json(200, {
            "merge_fields": [item.render(list_id) for item in fields[offset : offset + count]],
            "list_id": list_id,
            "total_items": len(fields),
        })

    def get_merge_field(self, account, request, list_id, merge_id):
        audience = self._audience(account, list_id)
        found = next((item for item in audience.merge_fields.values() if str(item.merge_id) == merge_id), None)
        if found is None:
            raise not_found()
        return Response.json(200, found.render(list_id))

    # Members

    def list_members(self, account, request, list_id):
        audience = self._audience(account, list_id)
        query = request.query()
        count, offset = page_params(query)
        members = list(audience.members.values())
        status = query.get("status")
        if status:
            if status not in (*WRITABLE_STATUSES, "archived"):
                raise invalid_resource("The resource submitted could not be validated.",
                                       [{"field": "status", "message": f"{status!r} is not a member status."}])
            members = [member for member in members if member.status == status]
        for name, keep in (("since_last_changed", lambda moment, member: member.last_changed > moment),
                           ("before_last_changed", lambda moment, member: member.last_changed < moment)):
            if query.get(name):
                moment = parse_query_time(query[name], name)
                members = [member for member in members if keep(moment, member)]
        sort_field = query.get("sort_field")
        if sort_field:
            if sort_field not in SORT_FIELDS:
                raise invalid_resource("The resource submitted could not be validated.",
                                       [{"field": "sort_field", "message": f"Use one of {', '.join(SORT_FIELDS)}."}])
            attribute = "timestamp_signup" if sort_field != "last_changed" else "last_changed"
            members.sort(key=lambda member: (getattr(member, attribute), member.web_id),
                         reverse=query.get("sort_dir", "ASC").upper() == "DESC")
        url = base_url(request)
        return Response.json(200, {
            "members": [render_member(member, audience, url) for member in members[offset : offset + count]],
            "list_id": list_id,
            "total_items": len(members),
        })

    def get_member(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        return Response.json(200, render_member(self._member(audience, member), audience, base_url(request)))

    def add_member(self, account, request, list_id):
        audience = self._audience(account, list_id)
        body = json_object(request)
        if body.get("status") not in WRITABLE_STATUSES:
            raise invalid_resource("The resource submitted could not be validated.", [{
                "field": "status",
                "message": "Data presented is not one of the accepted values: 'subscribed', 'unsubscribed', "
                           "'cleaned', 'pending', 'transactional'.",
            }])
        found = self._write(lambda: account.upsert_member(
            audience, body, update_existing=False, skip_merge_validation=skip_validation(request)))
        return Response.json(200, render_member(found[0], audience, base_url(request)))

    def put_member(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        body = json_object(request)
        email = str(body.get("email_address") or "")
        if not email:
            raise invalid_resource("The resource submitted could not be validated.",
                                   [{"field": "email_address", "message": "This value should not be blank."}])
        if member not in (subscriber_hash(email), email.strip().lower()):
            raise invalid_resource(f"The subscriber hash {member} does not match the email address {email}.")
        found = self._write(lambda: account.upsert_member(audience, body, skip_merge_validation=skip_validation(request)))
        return Response.json(200, render_member(found[0], audience, base_url(request)))

    def update_member(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        found = self._member(audience, member)
        body = json_object(request)
        self._write(lambda: account.update_member(audience, found, body, skip_merge_validation=skip_validation(request)))
        return Response.json(200, render_member(found, audience, base_url(request)))

    def archive_member(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        account.archive_member(audience, self._member(audience, member))
        return Response(204, b"", "application/json")

    def delete_permanent(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        found = self._member(audience, member)
        account.forget(audience, found.email_address)
        return Response(204, b"", "application/json")

    def list_member_tags(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        found = self._member(audience, member)
        return Response.json(200, {
            "tags": [{**tag, "date_added": "2024-01-01T00:00:00+00:00"} for tag in found.tags],
            "total_items": len(found.tags),
        })

    def set_member_tags(self, account, request, list_id, member):
        audience = self._audience(account, list_id)
        found = self._member(audience, member)
        tags = json_object(request).get("tags")
        if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
            raise invalid_resource("Send {\"tags\": [{\"name\": ..., \"status\": \"active\"}]}.")
        self._write(lambda: account.set_tags(audience, found, tags))
        return Response(204, b"", "application/json")

    def batch_subscribe(self, account, request, list_id):
        """Add or update up to 500 members; a rejected member becomes an entry of `errors` and the others are still written."""
        audience = self._audience(account, list_id)
        body = json_object(request)
        items = body.get("members")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise invalid_resource("The resource submitted could not be validated.",
                                   [{"field": "members", "message": "Send a list of member objects."}])
        if len(items) > BATCH_MEMBERS_MAX:
            raise invalid_resource("The resource submitted could not be validated.", [{
                "field": "members",
                "message": f"Batch subscribe takes at most {BATCH_MEMBERS_MAX} members; this one has {len(items)}.",
            }])
        check_batch_statuses(items)
        url = base_url(request)
        new_members, updated_members, errors, seen = [], [], [], set()
        for item in items:
            email = str(item.get("email_address") or "")
            if subscriber_hash(email) in seen and not body.get("skip_duplicate_check"):
                errors.append(batch_error(email, f"{email} appears more than once in this request.",
                                          "ERROR_DUPLICATE_EMAIL"))
                continue
            seen.add(subscriber_hash(email))
            try:
                member, created = account.upsert_member(
                    audience, item, update_existing=bool(body.get("update_existing")),
                    sync_tags=bool(body.get("sync_tags")), skip_merge_validation=bool(body.get("skip_merge_validation")),
                )
            except MemberRejected as rejection:
                errors.extend(rejection_entries(email, rejection))
                continue
            except MalformedAddress:
                errors.append(batch_error(email, "Please provide a valid email address."))
                continue
            (new_members if created else updated_members).append(render_member(member, audience, url))
        logger.info("Mailchimp sandbox audience %s batch: %s new, %s updated, %s errors",
                    list_id, len(new_members), len(updated_members), len(errors))
        return Response.json(200, {
            "new_members": new_members,
            "updated_members": updated_members,
            "errors": errors,
            "total_created": len(new_members),
            "total_updated": len(updated_members),
            "error_count": len(errors),
            "_links": [{"rel": "self", "href": f"{url}/3.0/lists/{list_id}", "method": "GET"}],
        })

    def _audience(self, account, list_id):
        audience = account.audience(list_id)
        if audience is None:
            raise not_found()
        return audience

    def _member(self, audience, member):
        """Find a member by subscriber hash or, as Mailchimp also accepts, by email address."""
        key = subscriber_hash(member) if "@" in member else member.lower()
        found = audience.members.get(key)
        if found is None:
            raise not_found()
        return found

    def _write(self, change):
        try:
            return change()
        except MemberRejected as rejection:
            errors = [{"field": field, "message": message} for field, message in rejection.field_errors]
            raise MailchimpError(400, rejection.title, rejection.detail, errors or None) from None
        except MalformedAddress:
            raise MailchimpError(
                500, "Internal Server Error",
                "A deep, internal error has occurred during the processing of your request. Please contact support.",
            ) from None

    # OAuth

    def oauth_authorize_page(self, request):
        params = request.query()
        try:
            app = self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("Mailchimp", error.description))
        accounts = [(account.account_id, f"{account.name} ({account.email})")
                    for account in self.state.mailchimp_accounts.values()]
        hidden = {name: params.get(name) for name in ("response_type", "client_id", "redirect_uri", "state")}
        page = oauth.consent_page("Mailchimp", app, accounts, request.path, hidden, "")
        return Response.html(200, page)

    def oauth_authorize_decision(self, request):
        params = dict(request.form_pairs())
        try:
            self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("Mailchimp", error.description))
        redirect_uri, state = params["redirect_uri"], params.get("state")
        if params.get("decision") != "allow":
            return Response.redirect(oauth.redirect_with(redirect_uri, {"error": "access_denied", "state": state}))
        account = params.get("account", "")
        if account not in self.state.mailchimp_accounts:
            return Response.html(400, oauth.error_page("Mailchimp", f"Unknown Mailchimp account {account!r}."))
        code = self.state.oauth.issue_code("mailchimp", params["client_id"], redirect_uri, "", account)
        logger.info("Mailchimp sandbox authorized client %s for account %s", params["client_id"], account)
        return Response.redirect(oauth.redirect_with(redirect_uri, {"code": code, "state": state}))

    def _check_authorize(self, params):
        if params.get("response_type", "code") != "code":
            raise oauth.OAuthError(oauth.OAuthError.MISSING_PARAMETER,
                                   f"Unsupported response_type {params.get('response_type')!r}: use code.")
        return self.state.oauth.check_authorize_request("mailchimp", params.get("client_id"), params.get("redirect_uri"))

    def oauth_token(self, request):
        """Exchange a code for a token that never expires; Mailchimp has no refresh grant."""
        try:
            params = parse_nested_form(request.form_pairs())
        except (ValueError, BadRequestBody) as error:
            return Response.json(400, {"error": "invalid_request", "error_description": str(error)})
        grant_type = params.get("grant_type")
        if grant_type != "authorization_code":
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": f"Unsupported grant_type {grant_type!r}."})
        try:
            self.state.oauth.authenticate_client("mailchimp", params.get("client_id"), params.get("client_secret"))
        except oauth.OAuthError:
            return Response.json(401, {"error": "invalid_client", "error_description": "Invalid client credentials"})
        try:
            grant = self.state.oauth.redeem_code(
                "mailchimp", params.get("code"), params.get("client_id"), redirect_uri=params.get("redirect_uri") or "",
            )
        except oauth.OAuthError as error:
            if error.kind == oauth.OAuthError.BAD_REDIRECT_URI:
                return Response.json(400, {"error": "invalid_grant", "error_description": "Invalid redirect_uri"})
            return Response.json(400, {"error": "invalid_grant", "error_description": "Invalid authorization code"})
        return Response.json(200, {"access_token": grant.access_token, "expires_in": 0, "scope": None})

    def oauth_metadata(self, request):
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        grant = self.state.oauth.grant_for_access_token("mailchimp", token.strip())
        if scheme.lower() not in ("oauth", "bearer") or grant is None:
            return Response.json(401, {"error": "invalid_token", "error_description": "Invalid or missing token"})
        account = self.state.mailchimp_accounts[grant.account]
        url = base_url(request)
        return Response.json(200, {
            "dc": account.dc,
            "role": "owner",
            "accountname": account.name,
            "user_id": int(account.login_id),
            "login": {"email": account.email, "avatar": None, "login_id": int(account.login_id),
                      "login_name": account.email.split("@")[0], "login_email": account.email},
            "login_url": url,
            "api_endpoint": url,
        })


def base_url(request):
    """Return the sandbox address as the client used it, for links and the OAuth metadata."""
    return f"http://{request.header('Host') or 'localhost'}/mailchimp"


def json_object(request):
    body = request.json()
    if not isinstance(body, dict):
        raise MailchimpError(400, "Invalid Resource", "The request body must be a JSON object.")
    return body


def skip_validation(request):
    return request.query().get("skip_merge_validation") == "true"


def page_params(query):
    """Return (count, offset); `count` defaults to 10 and may not exceed 1,000."""
    values = {}
    for name, default, maximum in (("count", COUNT_DEFAULT, COUNT_MAX), ("offset", 0, None)):
        text = query.get(name)
        if text in (None, ""):
            values[name] = default
            continue
        if not text.isdigit() or (maximum is not None and int(text) > maximum):
            limit = f" from 0 to {maximum}" if maximum is not None else ""
            raise invalid_resource("The resource submitted could not be validated.",
                                   [{"field": name, "message": f"{name} must be a whole number{limit}, got {text!r}."}])
        values[name] = int(text)
    return values["count"], values["offset"]


def parse_query_time(text, name):
    try:
        return parse_time(text)
    except ValueError:
        raise invalid_resource("The resource submitted could not be validated.", [{
            "field": name, "message": f"{text!r} is not an ISO 8601 time such as 2015-10-21T15:41:36+00:00.",
        }]) from None


def check_batch_statuses(items):
    """Reject the whole batch when a member's status is not a status, naming it as members.item:N."""
    accepted = "'subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'"
    errors = [
        {"field": f"members.item:{index}.{name}",
         "message": f"Data presented is not one of the accepted values: {accepted}."}
        for index, item in enumerate(items)
        for name in ("status", "status_if_new")
        if item.get(name) is not None and item[name] not in WRITABLE_STATUSES
    ]
    if errors:
        raise invalid_resource(
            "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
            errors,
        )


def batch_error(email, text, code="ERROR_GENERIC", field="", field_message=""):
    return {"email_address": email, "error": text, "error_code": code, "field": field, "field_message": field_message}


def rejection_entries(email, rejection):
    if rejection.field_errors:
        return [batch_error(email, rejection.detail, rejection.code, field, message)
                for field, message in rejection.field_errors]
    return [batch_error(email, rejection.detail, rejection.code)]


def trim(response, query):
    """Apply `fields` and `exclude_fields` (comma-separated dotted paths) to a JSON response body."""
    fields, exclude = query.get("fields"), query.get("exclude_fields")
    if not (fields or exclude) or response.status >= 400 or not response.body:
        return response
    body = response.payload()
    if fields:
        body = keep_paths(body, path_tree(fields))
    if exclude:
        body = drop_paths(body, path_tree(exclude))
    trimmed = Response.json(response.status, body)
    trimmed.headers.update({name: value for name, value in response.headers.items() if name != "Content-Type"})
    return trimmed


def path_tree(text):
    tree = {}
    for path in text.split(","):
        node = tree
        for part in path.strip().split("."):
            if part:
                node = node.setdefault(part, {})
    return tree


def keep_paths(value, tree):
    if not tree:
        return value
    if isinstance(value, list):
        return [keep_paths(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: keep_paths(value[key], subtree) for key, subtree in tree.items() if key in value}
    return value


def drop_paths(value, tree):
    if isinstance(value, list):
        return [drop_paths(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if key in tree and not tree[key]:
            continue
        kept[key] = drop_paths(item, tree[key]) if key in tree else item
    return kept

