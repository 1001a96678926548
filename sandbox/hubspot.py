"""
Stand-in for HubSpot's CRM v3 API and OAuth, served under `/hubspot`.

Clients use `{sandbox}/hubspot` as the base URL (`{base}/crm/v3/objects/contacts`),
the authorize page `{sandbox}/hubspot/oauth/authorize` and the token
endpoint `{sandbox}/hubspot/oauth/v1/token`.

Rate limits are the Free and Starter ones: 100 requests per rolling 10
seconds per token, and 5 searches per second per token (searches count
toward both). Responses other than search carry X-HubSpot-RateLimit-Max,
-Remaining and -Interval-Milliseconds; search responses carry none, as
reported for HubSpot's search endpoints. A refused request gets 429 and no
Retry-After header, because HubSpot's usage guidelines document none.
NOTE: the daily request cap of private apps (250,000 on Starter) is not
enforced and its X-HubSpot-RateLimit-Daily headers are not sent.

Batch update returns 207 with `results` and `errors` when some inputs fail
(also when all fail), as batch read does for ids that do not exist. A
request that is wrong as a whole (too many inputs, duplicate ids, bad JSON)
gets 400.
Batch create is all or nothing: an input with an email that already exists
fails the batch with 409, an invalid value with 400.
NOTE: real HubSpot may reject a whole batch update for one invalid property
value; clients should handle a 400 as well as a 207.
"""

import logging
import re
import secrets
import uuid
from dataclasses import dataclass

from sandbox import oauth
from sandbox.hubspot_store import OBJECT_TYPES, PropertyError, iso_from_ms
from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.web import BadRequestBody, Response, parse_nested_form

logger = logging.getLogger(__name__)

TEN_SECOND_LIMIT = 100
SEARCH_PER_SECOND_LIMIT = 5
ACCESS_TOKEN_LIFETIME_SECONDS = 1800
LIST_LIMIT_MAX = 100
SEARCH_LIMIT_MAX = 200
SEARCH_RESULTS_MAX = 10_000
BATCH_INPUTS_MAX = 100
FILTER_GROUPS_MAX = 5
FILTERS_PER_GROUP_MAX = 10
FILTERS_TOTAL_MAX = 25
OPERATORS = (
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
)
ALL_SCOPES = {
    "oauth",
    "crm.objects.contacts.read", "crm.objects.contacts.write",
    "crm.objects.companies.read", "crm.objects.companies.write",
    "crm.schemas.contacts.read", "crm.schemas.companies.read",
}


class HubSpotError(Exception):
    """An error HubSpot would return, with its status and body fields."""

    def __init__(self, status, category, message, errors=None, context=None, sub_category=None):
        super().__init__(message)
        self.status = status
        self.body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        if sub_category:
            self.body["subCategory"] = sub_category
        if errors:
            self.body["errors"] = errors
        if context:
            self.body["context"] = context


def validation_error(message, **extra):
    return HubSpotError(400, "VALIDATION_ERROR", message, **extra)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    kind: str
    scope: str = ""

    @property
    def pattern(self):
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


ROUTES = [
    Route("GET", "/account-info/v3/details", "account_details", "read", "oauth"),
    Route("GET", "/crm/v3/properties/{object_type}", "list_properties", "read", "crm.schemas.{}.read"),
    Route("GET", "/crm/v3/objects/{object_type}", "list_objects", "read", "crm.objects.{}.read"),
    Route("POST", "/crm/v3/objects/{object_type}", "create_object", "write", "crm.objects.{}.write"),
    Route("POST", "/crm/v3/objects/{object_type}/search", "search_objects", "search", "crm.objects.{}.read"),
    Route("POST", "/crm/v3/objects/{object_type}/batch/read", "batch_read", "read", "crm.objects.{}.read"),
    Route("POST", "/crm/v3/objects/{object_type}/batch/update", "batch_update", "write", "crm.objects.{}.write"),
    Route("POST", "/crm/v3/objects/{object_type}/batch/create", "batch_create", "write", "crm.objects.{}.write"),
    Route("POST", "/crm/v3/objects/{object_type}/batch/archive", "batch_archive", "write", "crm.objects.{}.write"),
    Route("GET", "/crm/v3/objects/{object_type}/{record_id}", "get_object", "read", "crm.objects.{}.read"),
    Route("PATCH", "/crm/v3/objects/{object_type}/{record_id}", "update_object", "write", "crm.objects.{}.write"),
    Route("GET", "/oauth/authorize", "oauth_authorize_page", "oauth"),
    Route("POST", "/oauth/authorize", "oauth_authorize_decision", "oauth"),
    Route("POST", "/oauth/v1/token", "oauth_token", "oauth"),
    Route("GET", "/oauth/v1/access-tokens/{token}", "oauth_token_info", "oauth"),
]
COMPILED_ROUTES = [(route, route.pattern) for route in ROUTES]


class HubSpotAPI:
    """Routes `/hubspot/...` requests to the portals in a `SandboxState`."""

    tool = "hubspot"

    def __init__(self, state, rate_limits=True):
        self.state = state
        self.rate_limits = rate_limits
        self.ten_second_limiter = SlidingWindowLimiter(TEN_SECOND_LIMIT, 10.0)
        self.search_limiter = SlidingWindowLimiter(SEARCH_PER_SECOND_LIMIT, 1.0)

    def handle(self, request, path):
        """Serve one request; return the response, the endpoint label and its kind for the counters."""
        for route, pattern in COMPILED_ROUTES:
            match = pattern.match(path)
            if match and route.method == request.method:
                response = self._dispatch(request, route, match.groupdict())
                return response, f"{route.method} {route.template}", route.kind
        error = HubSpotError(404, "OBJECT_NOT_FOUND", f"No endpoint {request.method} {path}. Check the path and method.")
        return Response.json(error.status, error.body), f"{request.method} (unknown)", "unknown"

    def _dispatch(self, request, route, path_params):
        headers = {}
        try:
            if route.kind == "oauth" and route.handler.startswith("oauth_"):
                return getattr(self, route.handler)(request, **path_params)
            token, portal, scopes = self._authenticate(request)
            object_type = path_params.get("object_type")
            if object_type is not None and object_type not in OBJECT_TYPES:
                raise HubSpotError(
                    400, "VALIDATION_ERROR",
                    f"Unknown object type {object_type!r}: the sandbox serves {', '.join(OBJECT_TYPES)}.",
                )
            self._check_scope(route, object_type, scopes)
            headers = self._check_rate_limits(token, route)
            with portal.lock:
                response = getattr(self, route.handler)(portal, request, **path_params)
        except HubSpotError as error:
            response = Response.json(error.status, error.body)
        except BadRequestBody as error:
            response = Response.json(400, validation_error(str(error)).body)
        response.headers.update(headers)
        return response

    def _authenticate(self, request):
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HubSpotError(
                401, "INVALID_AUTHENTICATION",
                "Authentication credentials not found. Send a private app token or OAuth access token "
                "as 'Authorization: Bearer TOKEN'.",
            )
        portal_id = self.state.hubspot_private_tokens.get(token)
        if portal_id is not None:
            return token, self.state.hubspot_portals[portal_id], ALL_SCOPES
        grant = self.state.oauth.grant_for_access_token("hubspot", token)
        if grant is None:
            raise HubSpotError(
                401, "INVALID_AUTHENTICATION",
                "The OAuth token used to make this call is not valid. Get a new one with the refresh token.",
            )
        if self.state.oauth.is_expired(grant):
            minutes = max(0, int((self.state.clock.now() - grant.expires_at) // 60))
            raise HubSpotError(
                401, "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
            )
        return token, self.state.hubspot_portals[int(grant.account)], set(grant.scope.split())

    def _check_scope(self, route, object_type, scopes):
        if not route.scope:
            return
        required = route.scope.format(object_type)
        if required not in scopes:
            raise HubSpotError(
                403, "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call.",
                errors=[{
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [required]},
                }],
            )

    def _check_rate_limits(self, token, route):
        if not self.rate_limits:
            return {}
        if route.kind == "search" and not self.search_limiter.hit(token).allowed:
            raise rate_limit_error("You have reached your secondly limit.", "SECONDLY")
        decision = self.ten_second_limiter.hit(token)
        if not decision.allowed:
            raise rate_limit_error("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING")
        if route.kind == "search":
            return {}
        return {
            "X-HubSpot-RateLimit-Max": str(decision.limit),
            "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(decision.window_seconds * 1000)),
        }

    # Account and properties

    def account_details(self, portal, request):
        return Response.json(200, {
            "portalId": portal.portal_id,
            "accountType": "STANDARD",
            "timeZone": portal.time_zone,
            "companyCurrency": portal.currency,
            "additionalCurrencies": [],
            "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        })

    def list_properties(self, portal, request, object_type):
        created_at = iso_from_ms(portal.created_ms)
        results = [
            definition.render(order, created_at)
            for order, definition in enumerate(portal.definitions[object_type].values())
        ]
        return Response.json(200, {"results": results})

    # Records

    def list_objects(self, portal, request, object_type):
        query = request.query()
        limit = parse_limit(query.get("limit"), LIST_LIMIT_MAX)
        after = query.get("after")
        if after is not None and not after.isdigit():
            raise validation_error(f"Invalid after cursor {after!r}: pass paging.next.after from the previous page.")
        archived = parse_flag(query.get("archived"), "archived")
        properties = parse_property_list(query.get("properties"))
        start = int(after) if after else 0
        records = []
        for record in portal.stores[object_type].records.values():
            if record.id < start or record.archived != archived:
                continue
            records.append(record)
            if len(records) > limit:
                break
        body = {"results": [portal.render_record(object_type, record, properties) for record in records[:limit]]}
        if len(records) > limit:
            next_after = str(records[limit].id)
            body["paging"] = {"next": {
                "after": next_after,
                "link": f"/crm/v3/objects/{object_type}?after={next_after}&limit={limit}",
            }}
        return Response.json(200, body)

    def get_object(self, portal, request, object_type, record_id):
        query = request.query()
        archived = parse_flag(query.get("archived"), "archived")
        properties = parse_property_list(query.get("properties"))
        id_property = query.get("idProperty")
        record = None
        if id_property:
            check_id_property(portal, object_type, id_property)
            found = [r for r in portal.find_by_property(object_type, id_property, record_id) if r.archived == archived]
            record = found[0] if found else None
        elif record_id.isdigit():
            record = portal.get_record(object_type, int(record_id), archived)
        if record is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                               context={"id": [record_id]})
        return Response.json(200, portal.render_record(object_type, record, properties))

    def update_object(self, portal, request, object_type, record_id):
        body = request.json()
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise validation_error("Missing properties: send {\"properties\": {\"name\": \"value\"}}.")
        record = portal.get_record(object_type, int(record_id)) if record_id.isdigit() else None
        if record is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                               context={"id": [record_id]})
        values, errors = self._validate_update(portal, object_type, record, properties)
        if errors:
            raise property_values_error(errors)
        portal.update_record(object_type, record.id, values)
        return Response.json(200, portal.render_record(object_type, record, list(properties)))

    def create_object(self, portal, request, object_type):
        body = request.json()
        created = self._create_records(portal, object_type, [body])
        return Response.json(201, portal.render_record(object_type, created[0], list(body.get("properties") or {})))

    def search_objects(self, portal, request, object_type):
        body = request.json()
        if not isinstance(body, dict):
            raise validation_error("The search body must be a JSON object.")
        filter_groups = parse_filter_groups(portal, object_type, body.get("filterGroups") or [])
        sorts = parse_sorts(portal, object_type, body.get("sorts") or [])
        limit = parse_limit(body.get("limit"), SEARCH_LIMIT_MAX)
        after = body.get("after") or "0"
        if not str(after).isdigit():
            raise validation_error(f"Invalid after {after!r}: pass paging.next.after from the previous page.")
        offset = int(after)
        if offset >= SEARCH_RESULTS_MAX:
            raise validation_error(
                f"Search results stop at {SEARCH_RESULTS_MAX}; after={offset} is past them. "
                "Narrow the filters (for example on the last-modified date) and search again."
            )
        properties = body.get("properties") or None
        query = body.get("query") or ""
        ids = portal.search(object_type, filter_groups, sorts, query)
        page_end = min(offset + limit, SEARCH_RESULTS_MAX)
        store = portal.stores[object_type]
        results = [portal.render_record(object_type, store.records[i], properties) for i in ids[offset:page_end]]
        response = {"total": len(ids), "results": results}
        if page_end < len(ids):
            response["paging"] = {"next": {"after": str(page_end)}}
        return Response.json(200, response)

    def batch_read(self, portal, request, object_type):
        body = request.json()
        inputs = batch_inputs(body)
        id_property = body.get("idProperty")
        if id_property:
            check_id_property(portal, object_type, id_property)
        properties = body.get("properties") or None
        archived = bool(body.get("archived", False))
        results, not_found, seen = [], [], set()
        for item in inputs:
            requested_id = str(item.get("id", ""))
            if id_property and id_property != "hs_object_id":
                # NOTE: HubSpot keeps one record per unique-value property. Where the
                # sandbox contains two contacts with one email, the oldest one is returned.
                found = [r for r in portal.find_by_property(object_type, id_property, requested_id) if r.archived == archived]
            else:
                record = portal.get_record(object_type, int(requested_id), archived) if requested_id.isdigit() else None
                found = [record] if record else []
            if not found:
                not_found.append(requested_id)
            elif found[0].id not in seen:
                seen.add(found[0].id)
                results.append(portal.render_record(object_type, found[0], properties))
        errors = []
        if not_found:
            errors.append({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {OBJECT_TYPES[object_type]['label']} objects, they may be deleted or "
                           "not exist. Check that ids are valid.",
                "context": {"ids": not_found},
            })
        return batch_response(results, errors, portal)

    def batch_update(self, portal, request, object_type):
        body = request.json()
        inputs = batch_inputs(body)
        id_property = body.get("idProperty")
        if id_property not in (None, "hs_object_id"):
            raise validation_error(
                f"Batch update finds records by record ID only, not by {id_property!r}. "
                "Look the records up with batch read or search first."
            )
        ids = [str(item.get("id", "")) for item in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique.")
        results, errors = [], []
        for item, requested_id in zip(inputs, ids):
            properties = item.get("properties")
            record = portal.get_record(object_type, int(requested_id)) if requested_id.isdigit() else None
            if record is None:
                errors.append({
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not find {OBJECT_TYPES[object_type]['label']} with id {requested_id}.",
                    "context": {"ids": [requested_id]},
                })
                continue
            if not isinstance(properties, dict):
                errors.append(item_error(requested_id, "VALIDATION_ERROR", "Missing properties for this input.", []))
                continue
            values, property_errors = self._validate_update(portal, object_type, record, properties)
            if property_errors:
                conflict = next((e for e in property_errors if e.code == "CONFLICT"), None)
                if conflict:
                    errors.append(item_error(requested_id, "CONFLICT", conflict.message, []))
                else:
                    error = property_values_error(property_errors)
                    errors.append(item_error(requested_id, "VALIDATION_ERROR", error.body["message"], error.body["errors"]))
                continue
            portal.update_record(object_type, record.id, values)
            results.append(portal.render_record(object_type, record, list(properties)))
        return batch_response(results, errors, portal)

    def batch_create(self, portal, request, object_type):
        body = request.json()
        inputs = batch_inputs(body)
        created = self._create_records(portal, object_type, inputs)
        results = [
            portal.render_record(object_type, record, list(item.get("properties") or {}))
            for record, item in zip(created, inputs)
        ]
        response = batch_response(results, [], portal)
        response.status = 201
        return response

    def batch_archive(self, portal, request, object_type):
        """Archive the records of up to 100 ids; HubSpot returns 204 and skips ids it doesn't have or already archived."""
        inputs = batch_inputs(request.json())
        for item in inputs:
            requested_id = str(item.get("id", ""))
            if requested_id.isdigit() and portal.get_record(object_type, int(requested_id)) is not None:
                portal.archive_record(object_type, int(requested_id))
        return Response(204, b"", "application/json")

    def _validate_update(self, portal, object_type, record, properties):
        values, errors = portal.validate_properties(object_type, properties)
        email = values.get("email")
        if object_type == "contacts" and email:
            others = [r for r in portal.stores[object_type].active_by_email(email) if r.id != record.id]
            if others:
                errors.append(conflict_error(others[0].id))
        return values, errors

    def _create_records(self, portal, object_type, inputs):
        """Validate every input, then create them all, or raise and create none."""
        prepared, problems, emails = [], [], {}
        for position, item in enumerate(inputs):
            properties = item.get("properties") if isinstance(item, dict) else None
            if not isinstance(properties, dict):
                raise validation_error(f"Input {position} has no properties: send {{\"properties\": {{...}}}}.")
            values, errors = portal.validate_properties(object_type, properties)
            problems.extend(errors)
            email = values.get("email")
            if object_type == "contacts" and email:
                existing = portal.stores[object_type].active_by_email(email)
                if existing:
                    raise HubSpotError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing[0].id}")
                if email.casefold() in emails:
                    raise validation_error(f"Duplicate email {email!r} in inputs {emails[email.casefold()]} and {position}.")
                emails[email.casefold()] = position
            prepared.append(values)
        if problems:
            raise property_values_error(problems)
        return [portal.create_record(object_type, values) for values in prepared]

    # OAuth

    def oauth_authorize_page(self, request):
        params = request.query()
        try:
            app = self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("HubSpot", error.description))
        accounts = [(portal.portal_id, f"{portal.name} ({portal.portal_id})") for portal in self.state.hubspot_portals.values()]
        names = ("client_id", "redirect_uri", "scope", "optional_scope", "state", "code_challenge", "code_challenge_method")
        hidden = {name: params.get(name) for name in names}
        page = oauth.consent_page("HubSpot", app, accounts, request.path, hidden, params.get("scope") or "")
        return Response.html(200, page)

    def oauth_authorize_decision(self, request):
        params = dict(request.form_pairs())
        try:
            self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("HubSpot", error.description))
        redirect_uri = params["redirect_uri"]
        state = params.get("state")
        if params.get("decision") != "allow":
            return Response.redirect(oauth.redirect_with(redirect_uri, {
                "error": "access_denied", "error_description": "The user denied access to the app.", "state": state,
            }))
        account = params.get("account", "")
        if not account.isdigit() or int(account) not in self.state.hubspot_portals:
            return Response.html(400, oauth.error_page("HubSpot", f"Unknown HubSpot portal {account!r}."))
        scope = " ".join(filter(None, [params.get("scope", ""), params.get("optional_scope", "")]))
        code = self.state.oauth.issue_code(
            "hubspot", params["client_id"], redirect_uri, scope.replace(",", " "), account,
            code_challenge=params.get("code_challenge") or "",
        )
        logger.info("HubSpot sandbox authorized client %s for portal %s", params["client_id"], account)
        return Response.redirect(oauth.redirect_with(redirect_uri, {"code": code, "state": state}))

    def _check_authorize(self, params):
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and method not in (None, "", "S256"):
            raise oauth.OAuthError(
                oauth.OAuthError.MISSING_PARAMETER, f"Unsupported code_challenge_method {method!r}: use S256."
            )
        return self.state.oauth.check_authorize_request("hubspot", params.get("client_id"), params.get("redirect_uri"))

    def oauth_token(self, request):
        try:
            params = parse_nested_form(request.form_pairs())
        except ValueError as error:
            return Response.json(400, token_error("BAD_REQUEST", str(error)))
        client_id = params.get("client_id")
        grant_type = params.get("grant_type")
        statuses = {
            oauth.OAuthError.BAD_CLIENT_ID: "BAD_CLIENT_ID",
            oauth.OAuthError.BAD_CLIENT_SECRET: "BAD_CLIENT_SECRET",
            oauth.OAuthError.BAD_REDIRECT_URI: "BAD_REDIRECT_URI",
            oauth.OAuthError.BAD_CODE: "BAD_AUTH_CODE",
            oauth.OAuthError.BAD_VERIFIER: "BAD_AUTH_CODE",
            oauth.OAuthError.BAD_REFRESH_TOKEN: "BAD_REFRESH_TOKEN",
        }
        try:
            self.state.oauth.authenticate_client("hubspot", client_id, params.get("client_secret"))
            if grant_type == "authorization_code":
                grant = self.state.oauth.redeem_code(
                    "hubspot", params.get("code"), client_id, redirect_uri=params.get("redirect_uri") or "",
                    code_verifier=params.get("code_verifier"), lifetime=ACCESS_TOKEN_LIFETIME_SECONDS,
                )
            elif grant_type == "refresh_token":
                grant = self.state.oauth.refresh(
                    "hubspot", params.get("refresh_token"), client_id, lifetime=ACCESS_TOKEN_LIFETIME_SECONDS
                )
            else:
                return Response.json(400, token_error(
                    "BAD_GRANT_TYPE", f"Unsupported grant_type {grant_type!r}: use authorization_code or refresh_token."
                ))
        except oauth.OAuthError as error:
            return Response.json(400, token_error(statuses.get(error.kind, "BAD_REQUEST"), error.description))
        return Response.json(200, {
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "access_token": grant.access_token,
            "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        })

    def oauth_token_info(self, request, token):
        grant = self.state.oauth.grant_for_access_token("hubspot", token)
        if grant is None or self.state.oauth.is_expired(grant):
            return Response.json(404, HubSpotError(404, "OBJECT_NOT_FOUND", "The access token is unknown or expired.").body)
        portal = self.state.hubspot_portals[int(grant.account)]
        return Response.json(200, {
            "token": token,
            "user": "sandbox-user@example.test",
            "hub_domain": f"{portal.name.lower().replace(' ', '-')}.example.test",
            "scopes": grant.scope.split(),
            "hub_id": portal.portal_id,
            "app_id": 1,
            "expires_in": int(grant.expires_at - self.state.clock.now()),
            "user_id": 1,
            "token_type": "access",
        })


def rate_limit_error(message, policy):
    """Build HubSpot's 429 error, whose body names the policy and has no category field."""
    error = HubSpotError(429, "RATE_LIMIT", message)
    error.body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": error.body["correlationId"],
        "policyName": policy,
        "requestId": secrets.token_hex(16),
    }
    return error


def token_error(status, message):
    return {"status": status, "message": message, "correlationId": str(uuid.uuid4())}


def parse_limit(value, maximum):
    if value in (None, ""):
        return 10
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise validation_error(f"Invalid limit {value!r}: send a whole number from 1 to {maximum}.") from None
    if not 1 <= limit <= maximum:
        raise validation_error(f"Invalid limit {limit}: the maximum is {maximum}.")
    return limit


def parse_flag(value, name):
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise validation_error(f"Invalid {name} {value!r}: send true or false.")


def parse_property_list(value):
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def check_id_property(portal, object_type, id_property):
    definition = portal.definition(object_type, id_property)
    if definition is None or not (definition.unique or id_property == "hs_object_id"):
        raise validation_error(
            f"Invalid idProperty {id_property!r}: it must be a unique-value property such as email or hs_object_id."
        )


def batch_inputs(body):
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Missing inputs: send {\"inputs\": [...]}.")
    inputs = body["inputs"]
    if len(inputs) > BATCH_INPUTS_MAX:
        raise validation_error(f"Too many inputs: {len(inputs)}; a batch takes at most {BATCH_INPUTS_MAX}.")
    if not all(isinstance(item, dict) for item in inputs):
        raise validation_error("Every input must be a JSON object.")
    return inputs


def batch_response(results, errors, portal):
    now = iso_from_ms(portal.now_ms())
    body = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Response.json(207, body)
    return Response.json(200, body)


def item_error(record_id, category, message, errors):
    error = {"status": "error", "category": category, "message": message, "context": {"id": [record_id]}}
    if errors:
        error["errors"] = errors
    return error


def conflict_error(existing_id):
    return PropertyError("CONFLICT", f"Contact already exists. Existing ID: {existing_id}", "email")


def property_values_error(errors):
    """Build HubSpot's "Property values were not valid" error from PropertyErrors."""
    details = [
        {"message": error.message, "code": error.code, "context": {"propertyName": [error.name]}}
        for error in errors
    ]
    summary = "; ".join(f"{error.name}: {error.message}" for error in errors)
    return validation_error(f"Property values were not valid: {summary}", errors=details)


def parse_filter_groups(portal, object_type, groups):
    """Validate filterGroups against HubSpot's limits and the portal's properties."""
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list of {\"filters\": [...]} objects.")
    if len(groups) > FILTER_GROUPS_MAX:
        raise validation_error(f"Too many filterGroups: {len(groups)}; the maximum is {FILTER_GROUPS_MAX}.")
    total = 0
    parsed = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("Each filter group needs a filters list.")
        if len(filters) > FILTERS_PER_GROUP_MAX:
            raise validation_error(f"Too many filters in one group: {len(filters)}; the maximum is {FILTERS_PER_GROUP_MAX}.")
        total += len(filters)
        for item in filters:
            if not isinstance(item, dict):
                raise validation_error("Each filter must be a JSON object.")
            name, operator = item.get("propertyName"), item.get("operator", "EQ")
            if portal.definition(object_type, name) is None:
                raise validation_error(f"Property {name!r} does not exist on {object_type}; it cannot be used in a filter.")
            if operator not in OPERATORS:
                raise validation_error(f"Unknown operator {operator!r}; use one of {', '.join(OPERATORS)}.")
            if operator in ("IN", "NOT_IN") and not isinstance(item.get("values"), list):
                raise validation_error(f"Operator {operator} needs a values list for {name}.")
            if operator not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and "value" not in item:
                raise validation_error(f"Operator {operator} needs a value for {name}.")
        parsed.append({"filters": [dict(item, operator=item.get("operator", "EQ")) for item in filters]})
    if total > FILTERS_TOTAL_MAX:
        raise validation_error(f"Too many filters: {total}; the maximum is {FILTERS_TOTAL_MAX} in all groups together.")
    return parsed


def parse_sorts(portal, object_type, sorts):
    """Read sorts given as property names or {propertyName, direction}; HubSpot applies only one."""
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list.")
    parsed = []
    for item in sorts[:1]:
        if isinstance(item, str):
            name, direction = item.lstrip("-"), "DESCENDING" if item.startswith("-") else "ASCENDING"
        elif isinstance(item, dict):
            name, direction = item.get("propertyName"), item.get("direction", "ASCENDING")
        else:
            raise validation_error("Each sort must be a property name or {\"propertyName\", \"direction\"}.")
        if portal.definition(object_type, name) is None:
            raise validation_error(f"Property {name!r} does not exist on {object_type}; it cannot be sorted on.")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error(f"Invalid sort direction {direction!r}: use ASCENDING or DESCENDING.")
        parsed.append((name, direction == "DESCENDING"))
    return parsed
