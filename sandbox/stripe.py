"""
Stand-in for Stripe's REST API and Connect OAuth, served under `/stripe`.

Clients use `{sandbox}/stripe` as the base URL: `GET {base}/v1/customers`,
`POST {base}/connect/oauth/token`. Bodies are form-encoded with bracketed
nesting, responses JSON, errors `{"error": {type, code, message, param,
doc_url}}`.

Rate limits are those of a Stripe sandbox (test-mode) account: 25 requests
per second for the account, 25 per second per endpoint (method and path
template), and 20 per second for search. A refused request gets 429 with
code `rate_limit` and no Retry-After header, because Stripe documents none
for rate limiting; clients back off on their own.
"""

import base64
import binascii
import fnmatch
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass

from sandbox import oauth
from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.stripe_objects import (
    cached_render,
    render_account,
    render_customer,
    render_deleted_customer,
    render_event,
    render_invoice,
    render_price,
    render_product,
    render_subscription,
)
from sandbox.stripe_store import (
    API_VERSION_PATTERN,
    CUSTOMER_FIELDS,
    ENDED_SUBSCRIPTION_STATUSES,
    EVENT_RETENTION_SECONDS,
    INVOICE_STATUSES,
    SUBSCRIPTION_STATUSES,
    StoredResponse,
    StripeError,
    missing,
)
from sandbox.web import BadRequestBody, Response, parse_nested_form

logger = logging.getLogger(__name__)

ACCOUNT_RATE_LIMIT = 25
ENDPOINT_RATE_LIMIT = 25
SEARCH_RATE_LIMIT = 20
IDEMPOTENCY_KEY_LIFETIME_SECONDS = 24 * 3600
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500
EMAIL_MAX_LENGTH = 512
EVENT_TYPES_MAX = 20
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand", "created"}
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
TAX_EXEMPT_VALUES = ("none", "exempt", "reverse")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    kind: str
    resource: str | None = None
    access: str = "read"

    @property
    def pattern(self):
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


ROUTES = [
    Route("GET", "/v1/account", "get_account", "read", "account"),
    Route("GET", "/v1/customers", "list_customers", "read", "customers"),
    Route("POST", "/v1/customers", "create_customer", "write", "customers", "write"),
    Route("GET", "/v1/customers/search", "search_customers", "search", "customers"),
    Route("GET", "/v1/customers/{id}", "get_customer", "read", "customers"),
    Route("POST", "/v1/customers/{id}", "update_customer", "write", "customers", "write"),
    Route("DELETE", "/v1/customers/{id}", "delete_customer", "write", "customers", "write"),
    Route("GET", "/v1/subscriptions", "list_subscriptions", "read", "subscriptions"),
    Route("GET", "/v1/subscriptions/{id}", "get_subscription", "read", "subscriptions"),
    Route("GET", "/v1/invoices", "list_invoices", "read", "invoices"),
    Route("GET", "/v1/invoices/{id}", "get_invoice", "read", "invoices"),
    Route("GET", "/v1/prices", "list_prices", "read", "prices"),
    Route("GET", "/v1/prices/{id}", "get_price", "read", "prices"),
    Route("GET", "/v1/products", "list_products", "read", "products"),
    Route("GET", "/v1/products/{id}", "get_product", "read", "products"),
    Route("GET", "/v1/events", "list_events", "read", "events"),
    Route("GET", "/v1/events/{id}", "get_event", "read", "events"),
    Route("GET", "/connect/oauth/authorize", "oauth_authorize_page", "oauth"),
    Route("POST", "/connect/oauth/authorize", "oauth_authorize_decision", "oauth"),
    Route("POST", "/connect/oauth/token", "oauth_token", "oauth"),
]
COMPILED_ROUTES = [(route, route.pattern) for route in ROUTES]


class StripeAPI:
    """Routes `/stripe/...` requests to the accounts in a `SandboxState`."""

    tool = "stripe"

    def __init__(self, state, rate_limits=True):
        self.state = state
        self.rate_limits = rate_limits
        self.account_limiter = SlidingWindowLimiter(ACCOUNT_RATE_LIMIT, 1.0)
        self.endpoint_limiter = SlidingWindowLimiter(ENDPOINT_RATE_LIMIT, 1.0)
        self.search_limiter = SlidingWindowLimiter(SEARCH_RATE_LIMIT, 1.0)

    def handle(self, request, path):
        """Serve one request; return the response, the endpoint label and its kind for the counters."""
        for route, pattern in COMPILED_ROUTES:
            match = pattern.match(path)
            if match and route.method == request.method:
                endpoint = f"{route.method} {route.template}"
                return self._dispatch(request, route, match.groupdict()), endpoint, route.kind
        error = StripeError(
            404, f"Unrecognized request URL ({request.method}: /{path.lstrip('/')}). Check the path and method."
        )
        return self._error(error), f"{request.method} (unknown)", "unknown"

    def _dispatch(self, request, route, path_params):
        request_id = "req_" + secrets.token_hex(7)
        account = None
        try:
            params = self._params(request)
            if route.kind == "oauth":
                return getattr(self, route.handler)(request, params)
            credential, account = self._authenticate(request)
            if route.resource and not credential_allows(credential, route):
                raise StripeError(
                    403,
                    f"The provided key '{mask_key(request_key(request))}' does not have the required permissions "
                    f"for this endpoint on account '{account.account_id}'. Having the "
                    f"'rak_{route.resource.rstrip('s')}_{route.access}' permission would allow this request to continue.",
                )
            api_version = self._api_version(request, account)
            self._check_rate_limits(account, route)
            context = {"id": request_id, "idempotency_key": request.header("Idempotency-Key")}
            handler = getattr(self, route.handler)
            if request.method == "POST" and context["idempotency_key"]:
                response = self._idempotent(account, request, params, lambda: handler(account, params, api_version, context, **path_params))
            else:
                with account.lock:
                    response = handler(account, params, api_version, context, **path_params)
        except StripeError as error:
            response = self._error(error, request_log_url(account, request_id))
        except BadRequestBody as error:
            response = self._error(StripeError(400, str(error)), request_log_url(account, request_id))
        response.headers.setdefault("Request-Id", request_id)
        return response

    # Plumbing

    def _params(self, request):
        pairs = request.query_pairs()
        if request.method == "POST":
            pairs += request.form_pairs()
        try:
            return parse_nested_form(pairs)
        except ValueError as error:
            raise StripeError(400, str(error)) from error

    def _authenticate(self, request):
        key = request_key(request)
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. Send it in the Authorization header, using Bearer auth "
                "(for example 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        stripe_key = self.state.stripe_keys.get(key)
        if stripe_key is not None:
            if stripe_key.expired:
                raise StripeError(401, f"Expired API Key provided: {mask_key(key)}", code="api_key_expired")
            return stripe_key, self.state.stripe_accounts[stripe_key.account_id]
        grant = self.state.oauth.grant_for_access_token("stripe", key)
        if grant is None:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}")
        if self.state.oauth.is_expired(grant):
            raise StripeError(401, f"Expired API Key provided: {mask_key(key)}", code="api_key_expired")
        return grant, self.state.stripe_accounts[grant.account]

    def _api_version(self, request, account):
        version = request.header("Stripe-Version")
        if version is None:
            return account.api_version
        if not API_VERSION_PATTERN.match(version):
            raise StripeError(
                400, f"Invalid Stripe API version: {version}. Send a version such as {account.api_version}.",
                param="Stripe-Version",
            )
        return version

    def _check_rate_limits(self, account, route):
        if not self.rate_limits:
            return
        limiters = [
            (self.account_limiter, account.account_id),
            (self.endpoint_limiter, (account.account_id, route.method, route.template)),
        ]
        if route.kind == "search":
            limiters.append((self.search_limiter, account.account_id))
        for limiter, key in limiters:
            if not limiter.hit(key).allowed:
                raise StripeError(
                    429,
                    "Request rate limit exceeded. You can learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                )

    def _idempotent(self, account, request, params, run):
        key = request.header("Idempotency-Key")
        fingerprint = (request.method, request.path, json.dumps(params, sort_keys=True))
        now = time.time()
        with account.lock:
            stored = account.idempotency.get(key)
            if stored and stored.created < now - IDEMPOTENCY_KEY_LIFETIME_SECONDS:
                stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                        type_="idempotency_error",
                        code="idempotency_key_in_use",
                    )
                return Response.json(stored.status, stored.payload, {"Idempotent-Replayed": "true"})
            response = run()
            # Stripe keeps the result only once the endpoint ran; a request that
            # failed validation can be retried with the same key and new values.
            if response.status < 400:
                account.idempotency[key] = StoredResponse(fingerprint, response.status, response.payload(), now)
            return response

    @staticmethod
    def _error(error, log_url=None):
        return Response.json(error.status, error.body(log_url))

    # Account

    def get_account(self, account, params, api_version, context):
        check_params(params, {"expand"})
        return Response.json(200, render_account(account, api_version))

    # Customers

    def list_customers(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"email", "test_clock"})
        expand = expansions(params, {"data.subscriptions"})
        created = parse_range(params, "created")
        email = params.get("email")
        if email is not None and len(email) > EMAIL_MAX_LENGTH:
            raise StripeError(400, f"Invalid email: it must be at most {EMAIL_MAX_LENGTH} characters.", param="email")

        def matches(customer):
            # Stripe's list filter on email is an exact, case-sensitive match.
            return (email is None or customer.email == email) and in_range(customer.created, created)

        nested = {item.removeprefix("data.") for item in expand}
        return Response.json(200, list_page(
            account.customers, params, matches, "/v1/customers", "customer",
            lambda customer: render_customer(account, customer, api_version, nested)
            if nested else cached_render(account, customer, api_version, render_customer),
        ))

    def get_customer(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        expand = expansions(params, {"subscriptions"})
        customer = account.customers.get(id)
        if customer is None:
            raise missing("customer", id)
        return Response.json(200, render_customer(account, customer, api_version, expand))

    def create_customer(self, account, params, api_version, context):
        expand = expansions(params, {"subscriptions"})
        fields = parse_customer_fields(params, current_metadata={})
        metadata = {key: value for key, value in (fields.pop("metadata", None) or {}).items() if value != ""}
        customer = account.create_customer(metadata=metadata, request=context, **fields)
        return Response.json(200, render_customer(account, customer, api_version, expand))

    def update_customer(self, account, params, api_version, context, id):
        expand = expansions(params, {"subscriptions"})
        customer = account.get_customer(id)
        changes = parse_customer_fields(params, current_metadata=customer.metadata or {})
        if changes.get("metadata") == "":
            changes["metadata"] = {key: "" for key in customer.metadata or {}}
        customer = account.update_customer(id, changes, request=context)
        return Response.json(200, render_customer(account, customer, api_version, expand))

    def delete_customer(self, account, params, api_version, context, id):
        check_params(params, set())
        account.delete_customer(id, request=context)
        return Response.json(200, render_deleted_customer(id))

    def search_customers(self, account, params, api_version, context):
        check_params(params, {"query", "limit", "page", "expand"})
        expand = expansions(params, {"total_count", "data.subscriptions"})
        query = params.get("query")
        if not query:
            raise StripeError(400, "Missing required param: query.", code="parameter_missing", param="query")
        predicate = parse_customer_query(query)
        limit = parse_limit(params)
        offset = decode_page(params.get("page"))
        found = [customer for customer in account.customers.newest_first() if predicate(customer)]
        page = found[offset: offset + limit]
        has_more = offset + limit < len(found)
        nested = {item.removeprefix("data.") for item in expand}
        body = {
            "object": "search_result",
            "data": [render_customer(account, customer, api_version, nested) for customer in page],
            "has_more": has_more,
            "next_page": encode_page(offset + limit) if has_more else None,
            "url": "/v1/customers/search",
        }
        if "total_count" in expand:
            body["total_count"] = len(found)
        return Response.json(200, body)

    # Billing objects

    def list_subscriptions(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"customer", "price", "status", "collection_method", "test_clock"})
        expand = expansions(params, {"data.customer", "data.latest_invoice"})
        created = parse_range(params, "created")
        status = params.get("status")
        allowed = SUBSCRIPTION_STATUSES + ("all", "ended")
        if status is not None and status not in allowed:
            raise StripeError(
                400, f"Invalid status: must be one of {', '.join(allowed)}; got '{status}'.",
                code="parameter_invalid_string", param="status",
            )
        customer_id = params.get("customer")
        price_id = params.get("price")

        def matches(subscription):
            if status is None and subscription.status in ENDED_SUBSCRIPTION_STATUSES:
                return False
            if status == "ended" and subscription.status not in ENDED_SUBSCRIPTION_STATUSES:
                return False
            if status not in (None, "all", "ended") and subscription.status != status:
                return False
            if price_id is not None and subscription.price != price_id:
                return False
            return in_range(subscription.created, created)

        candidates = account.subscriptions_by_customer.get(customer_id, []) if customer_id else None
        return Response.json(200, list_page(
            account.subscriptions, params, matches, "/v1/subscriptions", "subscription",
            lambda subscription: self._expand(account, render_subscription(account, subscription, api_version), expand, api_version)
            if expand else cached_render(account, subscription, api_version, render_subscription),
            candidates,
        ))

    def get_subscription(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        expand = expansions(params, {"customer", "latest_invoice"})
        subscription = account.get_subscription(id)
        rendered = render_subscription(account, subscription, api_version)
        return Response.json(200, self._expand(account, rendered, {f"data.{item}" for item in expand}, api_version))

    def list_invoices(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"customer", "status", "subscription", "collection_method", "due_date"})
        expand = expansions(params, {"data.customer", "data.subscription"})
        created = parse_range(params, "created")
        status = params.get("status")
        if status is not None and status not in INVOICE_STATUSES:
            raise StripeError(
                400, f"Invalid status: must be one of {', '.join(INVOICE_STATUSES)}; got '{status}'.",
                code="parameter_invalid_string", param="status",
            )
        subscription_id = params.get("subscription")
        customer_id = params.get("customer")

        def matches(invoice):
            if status is not None and invoice.status != status:
                return False
            if subscription_id is not None and invoice.subscription != subscription_id:
                return False
            return in_range(invoice.created, created)

        candidates = account.invoices_by_customer.get(customer_id, []) if customer_id else None
        return Response.json(200, list_page(
            account.invoices, params, matches, "/v1/invoices", "invoice",
            lambda invoice: self._expand(account, render_invoice(account, invoice, api_version), expand, api_version)
            if expand else cached_render(account, invoice, api_version, render_invoice),
            candidates,
        ))

    def get_invoice(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        invoice = account.invoices.get(id)
        if invoice is None:
            raise missing("invoice", id)
        return Response.json(200, render_invoice(account, invoice, api_version))

    def list_prices(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"active", "currency", "product", "type", "lookup_keys", "recurring"})
        expansions(params, set())
        created = parse_range(params, "created")
        active = parse_bool(params, "active")
        product_id = params.get("product")

        def matches(price):
            if active is not None and price["active"] != active:
                return False
            if product_id is not None and price["product"] != product_id:
                return False
            return in_range(price["created"], created)

        return Response.json(200, list_page(
            account.prices, params, matches, "/v1/prices", "price", lambda price: render_price(price, api_version)
        ))

    def get_price(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        price = account.prices.get(id)
        if price is None:
            raise missing("price", id)
        return Response.json(200, render_price(price, api_version))

    def list_products(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"active", "ids", "shippable", "url"})
        expansions(params, set())
        created = parse_range(params, "created")
        active = parse_bool(params, "active")
        ids = params.get("ids")

        def matches(product):
            if active is not None and product["active"] != active:
                return False
            if ids is not None and product["id"] not in ids:
                return False
            return in_range(product["created"], created)

        return Response.json(200, list_page(
            account.products, params, matches, "/v1/products", "product",
            lambda product: render_product(product, api_version),
        ))

    def get_product(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        product = account.products.get(id)
        if product is None:
            raise missing("product", id)
        return Response.json(200, render_product(product, api_version))

    # Events

    def list_events(self, account, params, api_version, context):
        check_params(params, LIST_PARAMS | {"type", "types", "delivery_success"})
        expansions(params, set())
        account.prune_events()
        created = parse_range(params, "created")
        event_type = params.get("type")
        types = params.get("types")
        if event_type is not None and types is not None:
            raise StripeError(400, "You may only specify one of these parameters: type, types.", param="types")
        if types is not None:
            if not isinstance(types, list) or not all(isinstance(item, str) for item in types):
                raise StripeError(400, "Invalid array: send types as types[]=customer.updated.", param="types")
            if len(types) > EVENT_TYPES_MAX:
                raise StripeError(
                    400, f"Invalid types: at most {EVENT_TYPES_MAX} event types are allowed, got {len(types)}.",
                    param="types",
                )

        def matches(event):
            if event_type is not None and not fnmatch.fnmatchcase(event.type, event_type):
                return False
            if types is not None and event.type not in types:
                return False
            return in_range(event.created, created)

        return Response.json(200, list_page(
            account.events, params, matches, "/v1/events", "event",
            lambda event: render_event(account, event, api_version),
        ))

    def get_event(self, account, params, api_version, context, id):
        check_params(params, {"expand"})
        event = account.events.get(id)
        if event is None or event.created < account.now() - EVENT_RETENTION_SECONDS:
            raise missing("event", id)
        return Response.json(200, render_event(account, event, api_version))

    def _expand(self, account, rendered, expand, api_version):
        for item in expand:
            name = item.removeprefix("data.")
            value = rendered.get(name)
            if not isinstance(value, str):
                continue
            if name == "customer":
                customer = account.customers.get(value)
                rendered[name] = render_customer(account, customer, api_version) if customer else render_deleted_customer(value)
            elif name == "latest_invoice" and value in account.invoices:
                rendered[name] = render_invoice(account, account.invoices.get(value), api_version)
            elif name == "subscription" and value in account.subscriptions:
                rendered[name] = render_subscription(account, account.subscriptions.get(value), api_version)
        return rendered

    # Connect OAuth

    def oauth_authorize_page(self, request, params):
        try:
            app = self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("Stripe", error.description))
        accounts = [(account.account_id, f"{account.name} ({account.account_id})") for account in self.state.stripe_accounts.values()]
        hidden = {name: params.get(name) for name in ("client_id", "redirect_uri", "scope", "state", "response_type")}
        page = oauth.consent_page(
            "Stripe", app, accounts, request.path, hidden, params.get("scope") or "read_only"
        )
        return Response.html(200, page)

    def oauth_authorize_decision(self, request, params):
        try:
            self._check_authorize(params)
        except oauth.OAuthError as error:
            return Response.html(400, oauth.error_page("Stripe", error.description))
        redirect_uri = params["redirect_uri"]
        state = params.get("state")
        if params.get("decision") != "allow":
            return Response.redirect(oauth.redirect_with(redirect_uri, {
                "error": "access_denied", "error_description": "The user denied your request", "state": state,
            }))
        account_id = params.get("account")
        if account_id not in self.state.stripe_accounts:
            return Response.html(400, oauth.error_page("Stripe", f"Unknown Stripe account {account_id!r}."))
        scope = params.get("scope") or "read_only"
        code = self.state.oauth.issue_code("stripe", params["client_id"], redirect_uri, scope, account_id, prefix="ac_")
        logger.info("Stripe sandbox authorized client %s for account %s", params["client_id"], account_id)
        return Response.redirect(oauth.redirect_with(redirect_uri, {"code": code, "scope": scope, "state": state}))

    def _check_authorize(self, params):
        if params.get("response_type", "code") != "code":
            raise oauth.OAuthError(oauth.OAuthError.MISSING_PARAMETER, "response_type must be 'code'.")
        scope = params.get("scope") or "read_only"
        if scope not in ("read_only", "read_write"):
            raise oauth.OAuthError(
                oauth.OAuthError.MISSING_PARAMETER, f"Invalid scope {scope!r}: use read_only or read_write."
            )
        return self.state.oauth.check_authorize_request("stripe", params.get("client_id"), params.get("redirect_uri"))

    def oauth_token(self, request, params):
        """
        Exchange a code or refresh token; the client authenticates with its secret.

        Stripe takes the platform's secret key as `client_secret` in the body
        or as the Bearer credential. Stripe access tokens do not expire;
        refreshing mints a new access token and keeps the refresh token.
        """
        secret = params.get("client_secret") or request_key(request)
        client_id = params.get("client_id") or self._client_for_secret(secret)
        grant_type = params.get("grant_type")
        try:
            self.state.oauth.authenticate_client("stripe", client_id, secret)
            if grant_type == "authorization_code":
                grant = self.state.oauth.redeem_code("stripe", params.get("code"), client_id)
            elif grant_type == "refresh_token":
                grant = self.state.oauth.refresh("stripe", params.get("refresh_token"), client_id)
            else:
                return Response.json(400, {
                    "error": "unsupported_grant_type",
                    "error_description": f"Unsupported grant_type {grant_type!r}: use authorization_code or refresh_token.",
                })
        except oauth.OAuthError as error:
            if error.kind in (oauth.OAuthError.BAD_CLIENT_ID, oauth.OAuthError.BAD_CLIENT_SECRET):
                return Response.json(401, {"error": "invalid_client", "error_description": error.description})
            return Response.json(400, {"error": "invalid_grant", "error_description": error.description})
        return Response.json(200, {
            "access_token": grant.access_token,
            "livemode": False,
            "refresh_token": grant.refresh_token,
            "scope": grant.scope,
            "stripe_publishable_key": "pk_test_" + grant.account.removeprefix("acct_"),
            "stripe_user_id": grant.account,
            "token_type": "bearer",
        })

    def _client_for_secret(self, secret):
        for (tool, client_id), app in self.state.oauth.apps.items():
            if tool == "stripe" and app.client_secret == secret:
                return client_id
        return None


# Parameters


def request_key(request):
    """Return the API key from a Bearer or Basic (key as user name) Authorization header."""
    header = request.header("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""


def request_log_url(account, request_id):
    """
    Return the Dashboard link to a request's log, which Stripe puts in errors of authenticated requests.

    Every sandbox account is in test mode, so the link is to the test-mode
    logs. Requests rejected before their key identified an account get none.
    """
    if account is None:
        return None
    return f"https://dashboard.stripe.com/test/logs/{request_id}?t={account.now()}"


def mask_key(key):
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def credential_allows(credential, route):
    allows = getattr(credential, "allows", None)
    return allows is None or allows(route.resource, route.access)


def check_params(params, allowed):
    for name in params:
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def expansions(params, allowed):
    expand = params.get("expand", [])
    if isinstance(expand, str):
        expand = [expand]
    for item in expand:
        if item not in allowed:
            raise StripeError(400, f"This property cannot be expanded ({item}).", param="expand")
    return set(expand)


def parse_int(value, param):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None


def parse_bool(params, name):
    value = params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)
    return value == "true"


def parse_limit(params):
    if "limit" not in params:
        return 10
    limit = parse_int(params["limit"], "limit")
    if not 1 <= limit <= 100:
        raise StripeError(
            400, f"Invalid limit: must be between 1 and 100, got {limit}.", code="parameter_invalid_integer", param="limit"
        )
    return limit


def parse_range(params, name):
    """Parse `created=N` or `created[gt|gte|lt|lte]=N` into a dict of bounds."""
    value = params.get(name)
    if value is None:
        return {}
    if isinstance(value, str):
        return {"eq": parse_int(value, name)}
    bounds = {}
    for operator, bound in value.items():
        if operator not in ("gt", "gte", "lt", "lte"):
            raise StripeError(400, f"Received unknown parameter: {name}[{operator}]", code="parameter_unknown", param=f"{name}[{operator}]")
        bounds[operator] = parse_int(bound, f"{name}[{operator}]")
    return bounds


def in_range(value, bounds):
    return (
        ("eq" not in bounds or value == bounds["eq"])
        and ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


def list_page(collection, params, matches, url, kind, render, candidates=None):
    """Return one page of a Stripe list, newest first, honouring limit and both cursors."""
    limit = parse_limit(params)
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after and ending_before:
        raise StripeError(400, "You may only specify one of these parameters: starting_after, ending_before.", param="ending_before")
    if ending_before:
        position = collection.position(ending_before)
        if position is None:
            raise missing(kind, ending_before, "ending_before")
        items = []
        for obj in collection.oldest_first(position, candidates):
            if matches(obj):
                items.append(obj)
                if len(items) > limit:
                    break
        has_more = len(items) > limit
        items = list(reversed(items[:limit]))
    else:
        position = None
        if starting_after:
            position = collection.position(starting_after)
            if position is None:
                raise missing(kind, starting_after, "starting_after")
        items = []
        for obj in collection.newest_first(position, candidates):
            if matches(obj):
                items.append(obj)
                if len(items) > limit:
                    break
        has_more = len(items) > limit
        items = items[:limit]
    return {"object": "list", "data": [render(obj) for obj in items], "has_more": has_more, "url": url}


def encode_page(offset):
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_page(page):
    if not page:
        return 0
    try:
        padded = page + "=" * (-len(page) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["offset"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise StripeError(400, f"Invalid page: {page!r} is not a next_page value from an earlier search.", param="page") from None


def parse_customer_fields(params, current_metadata):
    """Validate the writable customer parameters; return the fields to set."""
    check_params(params, set(CUSTOMER_FIELDS) | {"metadata", "expand"})
    fields = {}
    for name in ("name", "phone", "description"):
        if name in params:
            fields[name] = parse_string(params[name], name) or None
    if "email" in params:
        email = parse_string(params["email"], "email")
        if email and (len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.match(email)):
            raise StripeError(400, f"Invalid email address: {email}", code="email_invalid", param="email")
        fields["email"] = email or None
    if "balance" in params:
        fields["balance"] = parse_int(params["balance"], "balance")
    if "tax_exempt" in params:
        if params["tax_exempt"] not in TAX_EXEMPT_VALUES:
            raise StripeError(400, f"Invalid tax_exempt: must be one of {', '.join(TAX_EXEMPT_VALUES)}.", param="tax_exempt")
        fields["tax_exempt"] = params["tax_exempt"]
    if "preferred_locales" in params:
        locales = params["preferred_locales"]
        if locales == "":
            locales = []
        if not isinstance(locales, list):
            raise StripeError(400, "Invalid array: send preferred_locales[]=en.", param="preferred_locales")
        fields["preferred_locales"] = locales
    if "address" in params:
        fields["address"] = parse_address(params["address"])
    if "metadata" in params:
        fields["metadata"] = parse_metadata(params["metadata"], current_metadata)
    return fields


def parse_string(value, param):
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {param} must be a string, not a hash or array.", param=param)
    return value


def parse_address(value):
    if value == "":
        return None
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid hash: send address[line1]=... and the other address fields.", param="address")
    for name in value:
        if name not in ADDRESS_FIELDS:
            raise StripeError(400, f"Received unknown parameter: address[{name}]", code="parameter_unknown", param=f"address[{name}]")
    return {name: parse_string(value[name], f"address[{name}]") or None for name in value}


def parse_metadata(value, current):
    """
    Validate metadata as Stripe does: at most 50 keys, keys up to 40 characters
    without square brackets, string values up to 500 characters. An empty
    string as a value deletes that key; `metadata=""` deletes them all.
    """
    if value == "":
        return ""
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid hash: send metadata[key]=value.", param="metadata")
    for key, item in value.items():
        param = f"metadata[{key}]"
        if not isinstance(item, str):
            raise StripeError(400, f"Invalid metadata value for '{key}': values must be strings, not hashes or arrays.", param=param)
        if len(key) > METADATA_KEY_MAX_LENGTH:
            raise StripeError(
                400, f"Invalid metadata key '{key}': keys can be at most {METADATA_KEY_MAX_LENGTH} characters, this one has {len(key)}.",
                param=param,
            )
        if "[" in key or "]" in key:
            raise StripeError(400, f"Invalid metadata key '{key}': keys cannot contain square brackets.", param=param)
        if len(item) > METADATA_VALUE_MAX_LENGTH:
            raise StripeError(
                400, f"Invalid metadata value for '{key}': values can be at most {METADATA_VALUE_MAX_LENGTH} characters, this one has {len(item)}.",
                param=param,
            )
    merged = {**current, **value}
    key_count = sum(1 for item in merged.values() if item != "")
    if key_count > METADATA_MAX_KEYS:
        raise StripeError(
            400, f"Invalid metadata: an object can have at most {METADATA_MAX_KEYS} keys, this update would leave {key_count}.",
            param="metadata",
        )
    return value


# Search query language: `email:'a@b.test' AND metadata['k']:'v'`, `name~'ann'`, `created>1700000000`.
QUERY_CLAUSE = re.compile(
    r"""\s*(?P<negate>-)?(?P<field>metadata\[(?P<quote_key>['"])(?P<key>[^'"]+)(?P=quote_key)\]|[a-z_]+)"""
    r"""\s*(?P<op>:|~|>=|<=|>|<)\s*(?:(?P<quote>['"])(?P<value>.*?)(?P=quote)|(?P<number>-?\d+))\s*"""
)
QUERY_STRING_FIELDS = ("email", "name", "phone", "description")


def parse_customer_query(query):
    """
    Compile a customer search query into a predicate.

    Supports `field:'value'` exact matches on email, name, phone and
    `metadata['key']`, `~` substring matches (at least 3 characters),
    `created` comparisons, `-` negation, and clauses joined by AND or OR
    (not both, as Stripe requires).
    NOTE: string matches ignore letter case; Stripe's documentation does not
    state how its search treats case, and search there lags writes by up to
    a minute while here it is immediate.
    """
    clauses = []
    connectors = set()
    position = 0
    while True:
        match = QUERY_CLAUSE.match(query, position)
        if not match:
            raise StripeError(400, f"Invalid search query at position {position}: {query[position:]!r}. Write clauses as field:'value'.", param="query")
        clauses.append(compile_clause(match))
        position = match.end()
        if position >= len(query):
            break
        connector = re.match(r"(AND|OR)\s+", query[position:])
        if not connector:
            raise StripeError(400, f"Invalid search query at position {position}: expected AND or OR.", param="query")
        connectors.add(connector.group(1))
        position += connector.end()
    if len(connectors) > 1:
        raise StripeError(400, "Invalid search query: a query cannot combine AND and OR.", param="query")
    if connectors == {"OR"}:
        return lambda customer: any(clause(customer) for clause in clauses)
    return lambda customer: all(clause(customer) for clause in clauses)


def compile_clause(match):
    field, op, negate = match.group("field"), match.group("op"), bool(match.group("negate"))
    value = match.group("value") if match.group("quote") else match.group("number")
    if field == "created":
        if match.group("number") is None or op == "~":
            raise StripeError(400, "Invalid search query: compare created with a Unix timestamp, e.g. created>1700000000.", param="query")
        bound = int(value)
        compare = {
            ":": lambda x: x == bound, ">": lambda x: x > bound, ">=": lambda x: x >= bound,
            "<": lambda x: x < bound, "<=": lambda x: x <= bound,
        }[op]

        def created_clause(customer):
            return compare(customer.created) != negate

        return created_clause
    if match.group("key"):
        key = match.group("key")

        def read(customer):
            return (customer.metadata or {}).get(key)
    elif field in QUERY_STRING_FIELDS:
        def read(customer):
            return getattr(customer, field)
    else:
        raise StripeError(400, f"Invalid search query: field '{field}' is not searchable for customers.", param="query")
    if op not in (":", "~"):
        raise StripeError(400, f"Invalid search query: '{field}' supports only ':' and '~'.", param="query")
    if value is None:
        raise StripeError(400, f"Invalid search query: quote the value of '{field}'.", param="query")
    expected = value.casefold()
    if op == "~" and len(expected) < 3:
        raise StripeError(400, "Invalid search query: a substring match needs at least 3 characters.", param="query")

    def string_clause(customer):
        actual = read(customer)
        if actual is None:
            return negate
        found = expected in actual.casefold() if op == "~" else actual.casefold() == expected
        return found != negate

    return string_clause
