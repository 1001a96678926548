"""
The Stripe provider: customers, with billing facts derived from subscriptions and invoices.

Every request pins the API version STRIPE_VERSION (2025-09-30.clover). In
that version the current period of a subscription sits on its items and an
invoice has no `paid` flag. The code also reads the older shapes, because
events keep the API version they were created with.

Reading: a full read lists every customer (100 a page). An incremental
read lists the events of the last read's window and fetches only the
customers they name. Stripe keeps events for 30 days, so an older cursor
means a full read. Subscriptions, invoices and products are listed only
when a derived field needs them, and are joined to customers in memory.
"""

import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

from connections.providers import register
from connections.providers.base import AccountIdentity, OAuthConfig, Provider
from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, FieldSpec, FieldType, Page, Record, WriteOutcome

from .billing import derived_values, iso_datetime
from .pages import INVOICE_PAGE, SUBSCRIPTION_PAGE, Reference, customer_id_of
from .fields import (
    DERIVED_FIELDS,
    DERIVED_FIELDS_BY_NAME,
    METADATA_KEY_MAX_LENGTH,
    METADATA_PREFIX,
    METADATA_VALUE_MAX_LENGTH,
    OWN_FIELDS,
    OWN_FIELDS_BY_NAME,
    SUBSCRIPTION_FIELDS,
    InvalidWriteValue,
    customer_form,
    customer_values,
)
from .wire import Cursor, check_api_key, classify, classify_token_error

logger = logging.getLogger(__name__)

STRIPE_VERSION = "2025-09-30.clover"
API_BASE_URL = "https://api.stripe.com"
CONNECT_BASE_URL = "https://connect.stripe.com"

# List endpoints return at most 100 objects a page.
PAGE_SIZE = 100
# Stripe lists events of the last 30 days. A cursor is read through events
# only while it is an hour inside that window, so no event ages out mid-read.
EVENT_WINDOW_SECONDS = 30 * 24 * 3600
EVENT_WINDOW_MARGIN_SECONDS = 3600
# The next read starts this long before the current one did, so that an
# event that becomes visible late, or a clock a little ahead of Stripe's,
# loses nothing. Records seen twice cost nothing: the engine diffs them.
EVENT_OVERLAP_SECONDS = 300
# Stripe's search query language combines at most 10 clauses in one query.
SEARCH_CLAUSES = 10

CUSTOMER_EVENTS = ("customer.created", "customer.updated", "customer.deleted")
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded")


@dataclass
class Billing:
    """
    Subscriptions and paid invoice totals by customer id, and product names by product id.

    A full read keeps the billing of every customer until its last page, and
    at 100,000 customers every hundred bytes per customer is 10 MB. So each
    customer's subscriptions are one tuple of packed tuples (see
    pack_subscription), paid invoices are one flat tuple of (currency,
    amount, latest creation time) per currency, and each customer id is
    stored once for both. The dicts that billing.py reads are built per
    customer when its record is built.
    """

    # customer id → (packed subscription, ...)
    subscriptions: dict = field(default_factory=dict)
    # customer id → (currency, amount paid in minor units, latest creation time, currency, ...)
    paid: dict = field(default_factory=dict)
    product_names: dict = field(default_factory=dict)

    def add_subscription(self, subscription, prices):
        """Add a subscription (a pages.Subscription) to its customer's subscriptions."""
        customer = subscription.customer
        owner = (customer if type(customer) is str else customer_id_of(customer)) or ""
        packed = pack_subscription(subscription, prices)
        existing = self.subscriptions.get(owner)
        if existing is None:
            self.subscriptions[sys.intern(owner)] = (packed,)
        else:
            self.subscriptions[owner] = (*existing, packed)

    def add_paid_invoice(self, invoice):
        """Add a paid invoice (a pages.Invoice) to its customer's total in its currency, keeping the latest creation time."""
        if invoice.status != "paid":
            return
        customer = invoice.customer
        owner = (customer if type(customer) is str else customer_id_of(customer)) or ""
        currency = invoice.currency
        amount, created = invoice.amount_paid or 0, invoice.created or 0
        totals = self.paid.get(owner)
        if totals is None:
            # The customer's first paid invoice: its id and currency are kept once for the read.
            self.paid[sys.intern(owner)] = (sys.intern(currency) if currency else currency, amount, created)
            return
        for start in range(0, len(totals), 3):
            if totals[start] == currency:
                totals = (
                    *totals[:start],
                    totals[start],
                    totals[start + 1] + amount,
                    max(totals[start + 2], created),
                    *totals[start + 3 :],
                )
                break
        else:
            totals = (*totals, sys.intern(currency) if currency else currency, amount, created)
        self.paid[owner] = totals

    def subscriptions_of(self, customer_id):
        return [unpack_subscription(packed) for packed in self.subscriptions.get(customer_id, ())]

    def invoices_of(self, customer_id):
        """Return one summary paid invoice per currency, which lifetime_revenue() reads like the invoices."""
        totals = self.paid.get(customer_id, ())
        return [
            {"status": "paid", "currency": totals[start], "amount_paid": totals[start + 1], "created": totals[start + 2]}
            for start in range(0, len(totals), 3)
        ]


def related_customer_id(value):
    """Return the customer id of a `customer` attribute, which may be an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value


@register
class StripeProvider(Provider):
    name = "stripe"
    label = "Stripe"
    default_base_url = API_BASE_URL
    auth_methods = ("api_key", "oauth")
    api_key_label = "Restricted key"
    api_key_help = (
        "Create a restricted key in the Stripe Dashboard under Developers > API keys, with Read "
        "permission on Customers, Subscriptions, Invoices, Products, Prices and Events, and Write "
        "permission on Customers. A secret key (sk_…) works too but grants more than Oneprofile needs, and "
        "a publishable key (pk_…) is not accepted."
    )
    objects = {"customer": "Customers"}
    lookup_batch_size = SEARCH_CLAUSES
    # Stripe has no batch update: each record is its own request, so a batch
    # only bounds how many writes one engine step sends.
    write_batch_size = 100
    # Stripe allows 25 requests a second per endpoint (and in test mode in
    # all), and its 429s carry no Retry-After, so after a first 429 the
    # session paces requests a tenth under that rate, leaving room for
    # timing jitter (https://docs.stripe.com/rate-limits).
    max_requests_per_second = 22.5

    def __init__(self, connection, session=None, clock=time.time):
        super().__init__(connection, session)
        self.clock = clock

    # Connecting --------------------------------------------------------

    @classmethod
    def connect_base_url(cls, base_url=""):
        """Return where Stripe Connect's OAuth endpoints live for an API at `base_url`."""
        base = (base_url or "").rstrip("/")
        if not base or base == API_BASE_URL:
            return CONNECT_BASE_URL
        return f"{base}/connect"

    @classmethod
    def oauth_config(cls, base_url=""):
        connect = cls.connect_base_url(base_url)
        return OAuthConfig(
            authorize_url=f"{connect}/oauth/authorize",
            token_url=f"{connect}/oauth/token",
            scopes=("read_write",),
        )

    @classmethod
    def exchange_code(cls, *, code, redirect_uri, client_id, client_secret, code_verifier=None, base_url=""):
        # Stripe Connect takes the platform's secret key as client_secret and
        # doesn't check redirect_uri or PKCE on this call.
        return cls._request_tokens(
            {"grant_type": "authorization_code", "code": code, "client_secret": client_secret},
            base_url,
        )

    @classmethod
    def refresh_tokens(cls, *, refresh_token, client_id, client_secret, base_url=""):
        return cls._request_tokens(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_secret": client_secret},
            base_url,
        )

    @classmethod
    def _request_tokens(cls, form, base_url):
        return cls.request_tokens(
            cls.oauth_config(base_url).token_url,
            classify_token_error,
            extra_keys=("stripe_user_id", "scope", "livemode", "token_type"),
            data=form,
        )

    @classmethod
    def clean_api_key(cls, api_key):
        """Return the key ready to store, or raise ProviderError naming what is wrong with it."""
        return check_api_key(api_key)

    def auth_headers(self):
        credentials = self.connection.get_credentials()
        token = credentials.get("access_token") or check_api_key(credentials.get("api_key"))
        return {"Authorization": f"Bearer {token}", "Stripe-Version": STRIPE_VERSION}

    def verify(self):
        account = self._get("/v1/account")
        profile = account.get("business_profile") or {}
        dashboard = (account.get("settings") or {}).get("dashboard") or {}
        account_name = profile.get("name") or dashboard.get("display_name") or account.get("email") or account["id"]
        return AccountIdentity(account_id=account["id"], account_name=account_name)

    # Fields ------------------------------------------------------------

    def list_fields(self, object_name):
        self._check_object(object_name)
        return [*OWN_FIELDS, *self._metadata_fields(), *DERIVED_FIELDS]

    def field_spec(self, object_name, name):
        """Describe any valid metadata key as a string field, listed or not; None for other names."""
        self._check_object(object_name)
        if not name.startswith(METADATA_PREFIX):
            return None
        key = name.removeprefix(METADATA_PREFIX)
        if not key or len(key) > METADATA_KEY_MAX_LENGTH or "[" in key or "]" in key:
            return None
        return FieldSpec(name, f"Metadata: {key}", FieldType.STRING, max_length=METADATA_VALUE_MAX_LENGTH)

    def _metadata_fields(self):
        # Stripe has no metadata schema: the keys listed are those of the
        # newest customers. Any other valid key is described by field_spec().
        customers = self._get("/v1/customers", {"limit": PAGE_SIZE}).get("data") or []
        keys = sorted({key for customer in customers for key in (customer.get("metadata") or {})})
        return [
            FieldSpec(
                f"{METADATA_PREFIX}{key}",
                f"Metadata: {key}",
                FieldType.STRING,
                max_length=METADATA_VALUE_MAX_LENGTH,
            )
            for key in keys
        ]

    def _check_object(self, object_name):
        if object_name not in self.objects:
            raise ValueError(
                f"Stripe has no object {object_name!r} in Oneprofile: the objects are {', '.join(self.objects)}."
            )

    def _check_fields(self, field_names):
        fields = set(field_names)
        unknown = sorted(
            name
            for name in fields
            if name not in OWN_FIELDS_BY_NAME
            and name not in DERIVED_FIELDS_BY_NAME
            and not name.startswith(METADATA_PREFIX)
        )
        if unknown:
            raise ValueError(
                f"Stripe customers have no field {', '.join(unknown)}: list the fields again and update the mapping."
            )
        return fields

    # Reading -----------------------------------------------------------

    def read_changes(self, object_name, field_names, cursor=None):
        """
        Yield pages of customers changed since `cursor`, or of all customers when there is none.

        Cursor rule: the last page carries the new cursor. During a full
        read, each earlier page carries a cursor that resumes after its last
        customer. During an incremental read, earlier pages keep the cursor
        passed in, so a stopped run reads the same events again, which is
        harmless.
        """
        self._check_object(object_name)
        fields = self._check_fields(field_names)
        state = Cursor.loads(cursor)
        if cursor and state is None:
            logger.warning("Connection %s: unreadable Stripe cursor, reading every customer", self.connection.pk)
        started = int(self.clock())

        if state is not None and state.after:
            yield from self._read_all(fields, since=state.since, after=state.after)
        elif state is None or started - state.since > EVENT_WINDOW_SECONDS - EVENT_WINDOW_MARGIN_SECONDS:
            yield from self._read_all(fields, since=started - EVENT_OVERLAP_SECONDS)
        else:
            yield from self._read_events(fields, state, started)

    def _read_all(self, fields, since, after=None):
        billing = self._load_billing(fields)
        params = {"limit": PAGE_SIZE}
        if after:
            params["starting_after"] = after
        resuming = after is not None
        while True:
            try:
                body = self._get("/v1/customers", params)
            except ProviderError as exc:
                if not resuming or exc.status not in (400, 404):
                    raise
                # The customer a stopped read ended on was deleted since, so start over.
                logger.warning(
                    "Connection %s: can't resume the customer list after %s (HTTP %s), reading from the start",
                    self.connection.pk,
                    after,
                    exc.status,
                )
                params.pop("starting_after")
                resuming = False
                continue
            resuming = False
            customers = body.get("data") or []
            has_more = bool(body.get("has_more")) and bool(customers)
            records = [self._record(customer, fields, billing) for customer in customers]
            if has_more:
                params["starting_after"] = customers[-1]["id"]
                cursor = Cursor(since=since, after=customers[-1]["id"])
            else:
                cursor = Cursor(since=since)
            yield Page(records=records, cursor=cursor.dumps(), has_more=has_more)
            if not has_more:
                return

    def _read_events(self, fields, state, started):
        types = list(CUSTOMER_EVENTS)
        if fields & SUBSCRIPTION_FIELDS:
            types.extend(SUBSCRIPTION_EVENTS)
        if "lifetime_revenue" in fields:
            types.extend(INVOICE_EVENTS)
        events = self._list_all("/v1/events", {"created[gte]": state.since, "types[]": types})

        # Events come newest first, so the first event of a customer is its latest change.
        changed = {}
        deleted = {}
        for event in events:
            obj = (event.get("data") or {}).get("object") or {}
            event_type = event.get("type", "")
            if event_type == "customer.deleted":
                deleted.setdefault(obj.get("id"), (obj, event.get("created")))
                continue
            if event_type in CUSTOMER_EVENTS:
                customer_id = obj.get("id")
            else:
                customer_id = related_customer_id(obj.get("customer"))
            if customer_id:
                changed.setdefault(customer_id, event.get("created"))

        records = [
            Record(
                id=customer_id,
                email=obj.get("email"),
                values={},
                updated_at=iso_datetime(created),
                deleted=True,
            )
            for customer_id, (obj, created) in deleted.items()
            if customer_id
        ]
        changed_ids = [customer_id for customer_id in changed if customer_id not in deleted]
        billing = self._load_billing(fields, changed_ids) if changed_ids else Billing()
        for customer_id in changed_ids:
            customer = self._fetch_customer(customer_id)
            if customer is None:
                continue
            if customer.get("deleted"):
                records.append(Record(id=customer_id, email=None, values={}, deleted=True))
                continue
            record = self._record(customer, fields, billing)
            record.updated_at = iso_datetime(changed[customer_id])
            records.append(record)

        old_cursor = state.dumps()
        new_cursor = Cursor(
            since=started - EVENT_OVERLAP_SECONDS,
            event=events[0]["id"] if events else state.event,
        ).dumps()
        if not records:
            yield Page(records=[], cursor=new_cursor, has_more=False)
            return
        for start in range(0, len(records), PAGE_SIZE):
            last = start + PAGE_SIZE >= len(records)
            yield Page(
                records=records[start : start + PAGE_SIZE],
                cursor=new_cursor if last else old_cursor,
                has_more=not last,
            )

    def _fetch_customer(self, customer_id):
        try:
            return self._get(f"/v1/customers/{quote(customer_id, safe='')}")
        except ProviderError as exc:
            if exc.category != FailureCategory.NOT_FOUND:
                raise
            logger.warning("Connection %s: Stripe customer %s named in an event was not found", self.connection.pk, customer_id)
            return None

    def _load_billing(self, fields, customer_ids=None):
        """Fetch what the requested derived fields need: every customer's, or only those of `customer_ids`."""
        billing = Billing()
        wants_subscriptions = bool(fields & SUBSCRIPTION_FIELDS)
        wants_invoices = "lifetime_revenue" in fields
        # An incremental read lists billing per changed customer, so its cost
        # follows the number of changes rather than the size of the account.
        per_customer = customer_ids is not None
        filters = [{"customer": customer_id} for customer_id in customer_ids] if per_customer else [{}]

        # Only the few attributes the derived fields read are kept, page by
        # page: a full Stripe subscription or invoice takes about 8 KB in
        # memory, so 100,000 customers' billing would take gigabytes.
        prices = {}
        for extra in filters:
            if wants_subscriptions:
                params = {"status": "all", **extra}
                for subscription in self._iterate_all("/v1/subscriptions", params, SUBSCRIPTION_PAGE):
                    billing.add_subscription(subscription, prices)
            if wants_invoices:
                for invoice in self._iterate_all("/v1/invoices", {"status": "paid", **extra}, INVOICE_PAGE):
                    billing.add_paid_invoice(invoice)
        if "plan" in fields:
            billing.product_names = {
                product["id"]: product.get("name") for product in self._list_all("/v1/products", {})
            }
        return billing

    def _record(self, customer, fields, billing):
        own = customer_values(customer)
        derived = {}
        if fields & DERIVED_FIELDS_BY_NAME.keys():
            derived = derived_values(
                customer,
                billing.subscriptions_of(customer["id"]),
                billing.invoices_of(customer["id"]),
                billing.product_names,
            )
        metadata = customer.get("metadata") or {}
        values = {}
        for name in fields:
            if name.startswith(METADATA_PREFIX):
                values[name] = metadata.get(name.removeprefix(METADATA_PREFIX))
            elif name in own:
                values[name] = own[name]
            else:
                values[name] = derived.get(name)
        return Record(id=customer["id"], email=customer.get("email"), values=values)

    # Looking up --------------------------------------------------------

    def lookup_by_email(self, object_name, emails, field_names):
        """
        Find customers by email, ten emails to one search request.

        The list filter `email=` is case-sensitive, so the search API is used
        and its results are compared case-folded here, so customers whose email
        differs only in letter case match. NOTE: whether Stripe's search
        matches `email:` case-insensitively is not documented, and search
        results lag up to a minute behind writes.
        """
        self._check_object(object_name)
        fields = self._check_fields(field_names)
        wanted = {}
        for email in emails:
            if email and email.strip():
                wanted.setdefault(email.strip().casefold(), email)
        found = {email: [] for email in wanted.values()}
        keys = list(wanted)
        seen = set()
        for start in range(0, len(keys), SEARCH_CLAUSES):
            query = " OR ".join(f"email:'{search_literal(key)}'" for key in keys[start : start + SEARCH_CLAUSES])
            for customer in self._search_all("/v1/customers/search", query):
                key = (customer.get("email") or "").strip().casefold()
                if key in wanted and customer["id"] not in seen:
                    seen.add(customer["id"])
                    found[wanted[key]].append(customer)

        billing = Billing()
        if seen and fields & DERIVED_FIELDS_BY_NAME.keys():
            billing = self._load_billing(fields, sorted(seen))
        return {
            email: [self._record(customer, fields, billing) for customer in customers]
            for email, customers in found.items()
        }

    # Writing -----------------------------------------------------------

    def write(self, object_name, writes):
        """Update each customer with one POST, so that a failed record never stops the others."""
        self._check_object(object_name)
        return self._send_each(writes, create=False)

    def create(self, object_name, writes):
        """Create each customer with one POST, the match key as its email unless the values set one."""
        self._check_object(object_name)
        return self._send_each(writes, create=True)

    def _send_each(self, writes, create):
        outcomes = []
        rejected = None
        for change in writes:
            if rejected is not None:
                # Stripe rejected the credentials, so every later request would fail too.
                outcome = WriteOutcome(
                    key=change.key,
                    ok=False,
                    record_id=change.record_id,
                    category=rejected.category,
                    message=rejected.message,
                )
            elif not create and not change.record_id:
                outcome = WriteOutcome(
                    key=change.key,
                    ok=False,
                    category=FailureCategory.NOT_FOUND,
                    message="No Stripe customer id was given for this update.",
                )
            else:
                outcome = self._send(change, create)
                if outcome.category == FailureCategory.AUTHORISATION:
                    rejected = outcome
            outcomes.append(outcome)
        return outcomes

    def _send(self, change, create):
        values = dict(change.values)
        if create:
            values.setdefault("email", change.key)
            path = "/v1/customers"
        else:
            path = f"/v1/customers/{quote(change.record_id, safe='')}"
        try:
            form = customer_form(values)
        except InvalidWriteValue as exc:
            return WriteOutcome(
                key=change.key, ok=False, record_id=change.record_id, category=exc.category, message=exc.message
            )

        # The same change always carries the same key, so Stripe applies a
        # retried POST once. Without one, a key per call still covers the
        # session's own retries.
        headers = {"Idempotency-Key": change.idempotency_key or str(uuid.uuid4())}
        try:
            response = self.http.request(
                "POST", self._url(path), kind="write", retry_unsafe=True, data=form, headers=headers
            )
            body = self.http.json(response)
        except ProviderError as exc:
            logger.warning(
                "Connection %s: Stripe %s of customer %s failed: %s",
                self.connection.pk,
                "create" if create else "update",
                change.record_id or "(new)",
                exc.category.value,
            )
            return WriteOutcome(
                key=change.key,
                ok=False,
                record_id=change.record_id,
                category=exc.category,
                message=exc.message,
                response=exc.response,
            )
        return WriteOutcome(key=change.key, ok=True, record_id=body.get("id") or change.record_id)

    # Errors and HTTP ---------------------------------------------------

    def classify_error(self, response):
        return classify(response, self.label)

    def _url(self, path):
        return f"{self.base_url}{path}"

    def _get(self, path, params=None, kind="read", decoder=None):
        response = self.http.request("GET", self._url(path), kind=kind, params=params or {})
        return self.http.json(response, decoder)

    def _list_all(self, path, params):
        """Return every object of a list endpoint, following `starting_after` until `has_more` is false."""
        return list(self._iterate_all(path, params))

    def _iterate_all(self, path, params, decoder=None):
        """
        Yield every object of a list endpoint, one page in memory at a time.

        Objects are dicts, or the structs of `decoder`'s page type (pages.py).
        """
        params = {**params, "limit": PAGE_SIZE}
        while True:
            body = self._get(path, params, decoder=decoder)
            if decoder is None:
                data, has_more = body.get("data") or [], body.get("has_more")
            else:
                data, has_more = body.data, body.has_more
            yield from data
            if not has_more or not data:
                return
            params["starting_after"] = data[-1]["id"] if decoder is None else data[-1].id

    def _search_all(self, path, query):
        """Yield every result of a search query, following `next_page`."""
        params = {"query": query, "limit": PAGE_SIZE}
        while True:
            body = self._get(path, params, kind="search")
            yield from body.get("data") or []
            if not body.get("has_more") or not body.get("next_page"):
                return
            params["page"] = body["next_page"]


def search_literal(text):
    """Escape text for a single-quoted value of Stripe's search query language."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


PRICE_KEYS = (
    "nickname", "unit_amount", "unit_amount_decimal", "amount", "amount_decimal",
    "interval", "interval_count", "usage_type",
)
RECURRING_KEYS = ("interval", "interval_count", "usage_type")
SUBSCRIPTION_KEYS = ("status", "created", "currency", "cancel_at_period_end", "current_period_end")


def slim_price(price, prices):
    """
    Return the attributes of a price (a pages.Price) that billing.py reads, as a dict.

    Prices repeat across subscriptions, so one dict is kept per price id. A
    missing attribute is left out, as in Stripe's JSON.
    """
    if price is None:
        return {}
    key = price.id or id(price)
    slim = prices.get(key)
    if slim is None:
        slim = {name: getattr(price, name) for name in PRICE_KEYS if getattr(price, name) is not None}
        if price.recurring is not None:
            slim["recurring"] = {name: getattr(price.recurring, name) for name in RECURRING_KEYS}
        product = price.product
        slim["product"] = {"name": product.name} if isinstance(product, Reference) else product
        prices[key] = slim
    return slim


def pack_subscription(subscription, prices):
    """
    Return the attributes of a subscription (a pages.Subscription) that derived_values() reads, as a flat tuple.

    The tuple contains SUBSCRIPTION_KEYS in order, then quantity,
    current_period_end and price of each item. A full read keeps every
    subscription of the account, and one flat tuple takes much less memory
    than dicts, or nested tuples, of the same attributes.
    """
    status, currency = subscription.status, subscription.currency
    # Statuses and currencies repeat across subscriptions, so one copy of each is kept.
    packed = [
        sys.intern(status) if status else status,
        subscription.created,
        sys.intern(currency) if currency else currency,
        subscription.cancel_at_period_end,
        subscription.current_period_end,
    ]
    for item in subscription.items.data if subscription.items is not None else ():
        packed.extend((item.quantity, item.current_period_end, slim_price(item.price or item.plan, prices)))
    return tuple(packed)


def unpack_subscription(packed):
    """Return the subscription dict, with the attributes billing.py reads, of a pack_subscription() tuple."""
    subscription = {name: value for name, value in zip(SUBSCRIPTION_KEYS, packed) if value is not None}
    start = len(SUBSCRIPTION_KEYS)
    subscription["items"] = {
        "data": [
            {"quantity": packed[index], "current_period_end": packed[index + 1], "price": packed[index + 2]}
            for index in range(start, len(packed), 3)
        ]
    }
    return subscription
