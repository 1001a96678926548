"""
Data of one Stripe sandbox account, its object shapes and its events.

Objects are stored compactly, so 100,000 customers fit in memory. They are
rendered in the shape of the requested API version (see stripe_objects.py).

Every change made through the helpers here (which the HTTP handlers use too)
appends the event Stripe would emit; events older than 30 days are dropped,
as Stripe's `GET /v1/events` goes back 30 days only.
"""

import calendar
import dataclasses
import datetime
import functools
import itertools
import re
import string
import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

CURRENT_API_VERSION = "2026-08-26.dahlia"
# Versions before these dates render the older fields (see the render functions).
PERIODS_ON_ITEMS_SINCE = "2025-03-31"
MARKETING_FEATURES_SINCE = "2024-04-10"
EVENT_RETENTION_SECONDS = 30 * 86400
API_VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z_]+)?$")

SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)
ENDED_SUBSCRIPTION_STATUSES = ("canceled", "incomplete_expired")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
CUSTOMER_FIELDS = ("email", "name", "phone", "description", "address", "balance", "preferred_locales", "tax_exempt")
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
MASK64 = (1 << 64) - 1
BASE62_PAIRS = [a + b for a in BASE62 for b in BASE62]
MONTH_SECONDS = 30.436875 * 86400
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def version_before(api_version, cutoff):
    return api_version[:10] < cutoff


class IdFactory:
    """
    Stripe-looking ids (`cus_Q2x...`), unique per prefix and the same for the same seed.

    A counter is scrambled by multiplying with an odd constant modulo 2**64,
    a bijection, so ids never collide and look random without a random call.
    """

    def __init__(self, seed, namespace):
        self._salt = (zlib.crc32(f"{seed}:{namespace}".encode()) * 0xBF58476D1CE4E5B9) & MASK64
        self._counters = defaultdict(itertools.count)

    def new(self, prefix):
        # next() on itertools.count is atomic in CPython, so threads never share a number.
        number = next(self._counters[prefix])
        mixed = ((number + 1) * 0x9E3779B97F4A7C15 ^ self._salt) & MASK64
        pairs = []
        for _ in range(6):
            mixed, remainder = divmod(mixed, 3844)
            pairs.append(BASE62_PAIRS[remainder])
        return f"{prefix}_Sb{''.join(pairs)}"


class OrderedCollection:
    """Objects by id in creation order, walked newest first as Stripe lists them."""

    def __init__(self):
        self._order = []
        self._positions = {}
        self._objects = {}

    def __len__(self):
        return len(self._objects)

    def __contains__(self, object_id):
        return object_id in self._objects

    def add(self, object_id, obj):
        self._positions[object_id] = len(self._order)
        self._order.append(object_id)
        self._objects[object_id] = obj

    def get(self, object_id):
        return self._objects.get(object_id)

    def remove(self, object_id):
        position = self._positions.pop(object_id)
        self._order[position] = None
        return self._objects.pop(object_id)

    def values(self):
        return self._objects.values()

    def position(self, object_id):
        return self._positions.get(object_id)

    def newest_first(self, before_position=None, candidates=None):
        """Yield objects newest first, starting below `before_position` when given."""
        if candidates is not None:
            positions = sorted((self._positions[i] for i in candidates if i in self._positions), reverse=True)
            for position in positions:
                if before_position is None or position < before_position:
                    yield self._objects[self._order[position]]
            return
        start = len(self._order) - 1 if before_position is None else before_position - 1
        for position in range(start, -1, -1):
            object_id = self._order[position]
            if object_id is not None:
                yield self._objects[object_id]

    def oldest_first(self, after_position, candidates=None):
        """Yield objects oldest first, starting above `after_position`."""
        if candidates is not None:
            positions = sorted(self._positions[i] for i in candidates if i in self._positions)
            for position in positions:
                if position > after_position:
                    yield self._objects[self._order[position]]
            return
        for position in range(after_position + 1, len(self._order)):
            object_id = self._order[position]
            if object_id is not None:
                yield self._objects[object_id]


@dataclass(slots=True)
class Customer:
    id: str
    created: int
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    description: str | None = None
    metadata: dict | None = None
    address: dict | None = None
    balance: int = 0
    currency: str | None = None
    delinquent: bool = False
    invoice_prefix: str = ""
    preferred_locales: list | None = None
    tax_exempt: str = "none"


@dataclass(slots=True)
class Subscription:
    id: str
    customer: str
    created: int
    status: str
    price: str
    quantity: int
    item_id: str
    current_period_start: int
    current_period_end: int
    trial_start: int | None = None
    trial_end: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    cancel_at_period_end: bool = False
    latest_invoice: str | None = None
    metadata: dict | None = None


@dataclass(slots=True)
class Invoice:
    id: str
    customer: str
    subscription: str | None
    created: int
    status: str
    total: int
    currency: str
    period_start: int
    period_end: int
    price: str
    quantity: int
    line_id: str
    number: str
    billing_reason: str
    paid_at: int | None = None
    customer_email: str | None = None
    customer_name: str | None = None


@dataclass(slots=True)
class Event:
    id: str
    type: str
    created: int
    kind: str
    snapshot: object
    previous_attributes: dict | None = None
    request_id: str | None = None
    idempotency_key: str | None = None


@dataclass
class StoredResponse:
    """A response stored for an `Idempotency-Key`, with a fingerprint of its request."""

    fingerprint: tuple
    status: int
    payload: dict
    created: float


class StripeError(Exception):
    """An error Stripe would return: HTTP status and the fields of its `error` object."""

    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    def body(self, request_log_url=None):
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if request_log_url:
            error["request_log_url"] = request_log_url
        return {"error": error}


def missing(kind, object_id, param="id"):
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def changes_objects(method):
    """Mark a StripeAccount method that creates or changes objects: it empties the account's render cache first."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self.rendered.clear()
        return method(self, *args, **kwargs)

    return wrapper


@dataclass
class StripeAccount:
    """
    One Stripe account: its objects, events and idempotency keys, behind one lock.

    `rendered` caches the JSON of objects as list pages show them (see
    stripe_objects.cached_render). An object's JSON also depends on others
    (a subscription shows its price, a customer its invoice count), so every
    method that creates or changes an object empties the whole cache.
    """

    account_id: str
    name: str
    email: str
    clock: object
    seed: int = 0
    api_version: str = CURRENT_API_VERSION
    created: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self):
        self.ids = IdFactory(self.seed, self.account_id)
        self.customers = OrderedCollection()
        self.subscriptions = OrderedCollection()
        self.invoices = OrderedCollection()
        self.prices = OrderedCollection()
        self.products = OrderedCollection()
        self.events = OrderedCollection()
        self.subscriptions_by_customer = defaultdict(list)
        self.invoices_by_customer = defaultdict(list)
        self.idempotency = {}
        self.rendered = {}
        self.created = self.created or int(self.clock.now()) - 3 * 365 * 86400

    def now(self):
        return int(self.clock.now())

    # Products and prices

    @changes_objects
    def create_product(self, name, description=None, created=None, metadata=None):
        with self.lock:
            product = {
                "id": self.ids.new("prod"),
                "name": name,
                "description": description,
                "created": created or self.now(),
                "active": True,
                "default_price": None,
                "metadata": dict(metadata or {}),
            }
            product["updated"] = product["created"]
            self.products.add(product["id"], product)
            self.record_event("product.created", "product", dict(product), created=product["created"])
            return product

    @changes_objects
    def create_price(self, product_id, unit_amount, interval, currency="usd", nickname=None, created=None, lookup_key=None):
        with self.lock:
            product = self.products.get(product_id)
            if product is None:
                raise missing("product", product_id, "product")
            price = {
                "id": self.ids.new("price"),
                "product": product_id,
                "unit_amount": unit_amount,
                "currency": currency,
                "interval": interval,
                "nickname": nickname,
                "lookup_key": lookup_key,
                "created": created or self.now(),
                "active": True,
                "metadata": {},
            }
            self.prices.add(price["id"], price)
            if product["default_price"] is None:
                product["default_price"] = price["id"]
            self.record_event("price.created", "price", dict(price), created=price["created"])
            return price

    # Customers

    @changes_objects
    def create_customer(self, email=None, name=None, metadata=None, created=None, request=None, emit=True, **fields):
        """Create a customer and record `customer.created`; `emit=False` only for seeding old data."""
        with self.lock:
            customer = Customer(
                id=self.ids.new("cus"),
                created=created or self.now(),
                email=email,
                name=name,
                metadata=dict(metadata) if metadata else None,
                invoice_prefix=f"{(zlib.crc32(str(len(self.customers)).encode()) & 0xFFFFFFF):07X}",
            )
            for name_, value in fields.items():
                if name_ not in CUSTOMER_FIELDS:
                    raise ValueError(f"Unknown customer field {name_!r}; expected one of {', '.join(CUSTOMER_FIELDS)}.")
                setattr(customer, name_, value)
            self.customers.add(customer.id, customer)
            if emit:
                self.record_event("customer.created", "customer", snapshot(customer), request=request, created=customer.created)
            return customer

    def get_customer(self, customer_id, param="id"):
        customer = self.customers.get(customer_id)
        if customer is None:
            raise missing("customer", customer_id, param)
        return customer

    @changes_objects
    def update_customer(self, customer_id, changes, request=None):
        """
        Apply field changes (and `metadata` merges) and record `customer.updated`.

        In `changes["metadata"]` an empty string deletes the key, as in Stripe.
        No event is recorded when nothing changed.
        """
        with self.lock:
            customer = self.get_customer(customer_id)
            previous = {}
            for name, value in changes.items():
                if name == "metadata":
                    old = dict(customer.metadata or {})
                    new = dict(old)
                    for key, item in value.items():
                        if item == "":
                            new.pop(key, None)
                        else:
                            new[key] = item
                    if new != old:
                        previous["metadata"] = {key: old.get(key) for key in set(old) | set(new) if old.get(key) != new.get(key)}
                        customer.metadata = new or None
                    continue
                if name not in CUSTOMER_FIELDS:
                    raise ValueError(f"Unknown customer field {name!r}; expected one of {', '.join(CUSTOMER_FIELDS)}.")
                old = getattr(customer, name)
                if old != value:
                    previous[name] = old
                    setattr(customer, name, value)
            if previous:
                self.record_event(
                    "customer.updated", "customer", snapshot(customer), previous_attributes=previous, request=request
                )
            return customer

    @changes_objects
    def delete_customer(self, customer_id, request=None):
        """Delete a customer, cancelling its subscriptions first, as Stripe does."""
        with self.lock:
            customer = self.get_customer(customer_id)
            for subscription_id in list(self.subscriptions_by_customer.get(customer_id, ())):
                subscription = self.subscriptions.get(subscription_id)
                if subscription.status not in ENDED_SUBSCRIPTION_STATUSES:
                    self.cancel_subscription(subscription_id, request=request)
            self.customers.remove(customer_id)
            self.record_event("customer.deleted", "customer", snapshot(customer), request=request)
            return customer

    # Subscriptions and invoices

    @changes_objects
    def create_subscription(self, customer_id, price_id, status="active", quantity=1, created=None,
                            trial_days=None, emit=True, request=None):
        """Create a subscription in any status and record `customer.subscription.created`."""
        with self.lock:
            if status not in SUBSCRIPTION_STATUSES:
                raise ValueError(f"Unknown subscription status {status!r}; expected one of {', '.join(SUBSCRIPTION_STATUSES)}.")
            customer = self.get_customer(customer_id, "customer")
            price = self.prices.get(price_id)
            if price is None:
                raise missing("price", price_id, "price")
            created = created or self.now()
            period_start, period_end = current_period(created, price["interval"], self.now())
            subscription = Subscription(
                id=self.ids.new("sub"),
                customer=customer_id,
                created=created,
                status=status,
                price=price_id,
                quantity=quantity,
                item_id=self.ids.new("si"),
                current_period_start=period_start,
                current_period_end=period_end,
            )
            if trial_days:
                subscription.trial_start = created
                subscription.trial_end = created + trial_days * 86400
            if status in ENDED_SUBSCRIPTION_STATUSES:
                subscription.canceled_at = subscription.ended_at = period_start
            self.subscriptions.add(subscription.id, subscription)
            self.subscriptions_by_customer[customer_id].append(subscription.id)
            if customer.currency is None:
                customer.currency = price["currency"]
            if emit:
                self.record_event(
                    "customer.subscription.created", "subscription", snapshot(subscription), request=request, created=created
                )
            return subscription

    def get_subscription(self, subscription_id):
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise missing("subscription", subscription_id)
        return subscription

    @changes_objects
    def update_subscription(self, subscription_id, status=None, price_id=None, quantity=None,
                            cancel_at_period_end=None, request=None):
        """Change a subscription's status, price or quantity and record `customer.subscription.updated`."""
        with self.lock:
            subscription = self.get_subscription(subscription_id)
            previous = {}
            if status is not None and status != subscription.status:
                if status not in SUBSCRIPTION_STATUSES:
                    raise ValueError(f"Unknown subscription status {status!r}; expected one of {', '.join(SUBSCRIPTION_STATUSES)}.")
                previous["status"] = subscription.status
                subscription.status = status
                if status in ENDED_SUBSCRIPTION_STATUSES:
                    subscription.canceled_at = subscription.ended_at = self.now()
            if price_id is not None and price_id != subscription.price:
                if self.prices.get(price_id) is None:
                    raise missing("price", price_id, "price")
                previous["items"] = "price"
                previous["plan"] = subscription.price
                subscription.price = price_id
            if quantity is not None and quantity != subscription.quantity:
                previous["quantity"] = subscription.quantity
                subscription.quantity = quantity
            if cancel_at_period_end is not None and cancel_at_period_end != subscription.cancel_at_period_end:
                previous["cancel_at_period_end"] = subscription.cancel_at_period_end
                subscription.cancel_at_period_end = cancel_at_period_end
            if not previous:
                return subscription
            event_type = "customer.subscription.updated"
            if subscription.status in ENDED_SUBSCRIPTION_STATUSES and "status" in previous:
                event_type = "customer.subscription.deleted"
            self.record_event(event_type, "subscription", snapshot(subscription), previous_attributes=previous, request=request)
            return subscription

    @changes_objects
    def cancel_subscription(self, subscription_id, request=None):
        return self.update_subscription(subscription_id, status="canceled", request=request)

    @changes_objects
    def create_invoice(self, subscription_id, status="paid", created=None, emit=True, billing_reason="subscription_cycle"):
        """Bill one period of a subscription; a paid invoice records `invoice.paid`."""
        with self.lock:
            if status not in INVOICE_STATUSES:
                raise ValueError(f"Unknown invoice status {status!r}; expected one of {', '.join(INVOICE_STATUSES)}.")
            subscription = self.get_subscription(subscription_id)
            customer = self.customers.get(subscription.customer)
            price = self.prices.get(subscription.price)
            created = created or self.now()
            period_end = add_interval(created, price["interval"])
            sequence = len(self.invoices_by_customer[subscription.customer]) + 1
            invoice = Invoice(
                id=self.ids.new("in"),
                customer=subscription.customer,
                subscription=subscription_id,
                created=created,
                status=status,
                total=price["unit_amount"] * subscription.quantity,
                currency=price["currency"],
                period_start=created,
                period_end=period_end,
                price=price["id"],
                quantity=subscription.quantity,
                line_id=self.ids.new("il"),
                number=f"{customer.invoice_prefix if customer else 'DELETED'}-{sequence:04d}",
                billing_reason=billing_reason,
                paid_at=created + 3600 if status == "paid" else None,
                customer_email=customer.email if customer else None,
                customer_name=customer.name if customer else None,
            )
            self.invoices.add(invoice.id, invoice)
            self.invoices_by_customer[subscription.customer].append(invoice.id)
            subscription.latest_invoice = invoice.id
            if emit:
                self.record_event("invoice.created", "invoice", snapshot(invoice), created=created)
                if status == "paid":
                    self.record_event("invoice.paid", "invoice", snapshot(invoice), created=invoice.paid_at)
                elif status == "open":
                    self.record_event("invoice.payment_failed", "invoice", snapshot(invoice), created=created)
            return invoice

    # Events

    def record_event(self, event_type, kind, object_snapshot, previous_attributes=None, request=None, created=None):
        """Append an event unless it is already older than the 30 days Stripe keeps."""
        created = created or self.now()
        if created < self.now() - EVENT_RETENTION_SECONDS:
            return None
        event = Event(
            id=self.ids.new("evt"),
            type=event_type,
            created=created,
            kind=kind,
            snapshot=object_snapshot,
            previous_attributes=previous_attributes,
            request_id=request.get("id") if request else None,
            idempotency_key=request.get("idempotency_key") if request else None,
        )
        self.events.add(event.id, event)
        return event

    def prune_events(self):
        """Drop events older than 30 days."""
        cutoff = self.now() - EVENT_RETENTION_SECONDS
        with self.lock:
            for event in list(self.events.values()):
                if event.created < cutoff:
                    self.events.remove(event.id)

    def events_of_type(self, event_type):
        return [event for event in self.events.values() if event.type == event_type]


def snapshot(obj):
    """Copy an object (and its metadata) as it is now, for an event."""
    if isinstance(obj, dict):
        copied = dict(obj)
        copied["metadata"] = dict(obj.get("metadata") or {})
        return copied
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = [item.name for item in dataclasses.fields(obj)]
    copied = type(obj)(*[getattr(obj, name) for name in names])
    if getattr(copied, "metadata", None):
        copied.metadata = dict(copied.metadata)
    if getattr(copied, "address", None):
        copied.address = dict(copied.address)
    return copied


_FIELD_NAMES = {}


def add_interval(timestamp, interval, count=1):
    """Add calendar months or years (clamping the day, as Stripe's billing does) or days and weeks."""
    if interval in ("day", "week"):
        return timestamp + count * (86400 if interval == "day" else 7 * 86400)
    days, seconds = divmod(timestamp, 86400)
    date = datetime.date.fromordinal(EPOCH_ORDINAL + days)
    month_index = date.month - 1 + count * (12 if interval == "year" else 1)
    year = date.year + month_index // 12
    month = month_index % 12 + 1
    last_day = DAYS_IN_MONTH[month - 1] + (month == 2 and calendar.isleap(year))
    day = min(date.day, last_day)
    return (datetime.date(year, month, day).toordinal() - EPOCH_ORDINAL) * 86400 + seconds


def current_period(anchor, interval, now):
    """
    Return the billing period (start, end) that contains `now` for a subscription anchored at `anchor`.

    Periods are counted from the anchor, so a subscription started on the
    31st renews on the last day of shorter months and on the 31st again after.
    """
    index = period_index(anchor, interval, now)
    return add_interval(anchor, interval, index), add_interval(anchor, interval, index + 1)


def period_index(anchor, interval, moment):
    """Return the number of whole billing periods between `anchor` and `moment`."""
    length = {"day": 86400, "week": 7 * 86400, "month": MONTH_SECONDS, "year": 12 * MONTH_SECONDS}[interval]
    index = max(0, int((moment - anchor) // length))
    while index > 0 and add_interval(anchor, interval, index) > moment:
        index -= 1
    while add_interval(anchor, interval, index + 1) <= moment:
        index += 1
    return index
