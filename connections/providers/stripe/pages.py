"""
The attributes of Stripe subscriptions and invoices that the derived fields read, as typed list pages.

A Stripe subscription or invoice is 3 to 4 KB of JSON, and the derived
fields read a handful of its attributes. A full read lists every
subscription and paid invoice of the account, so msgspec decodes those
pages straight into the structs below: it skips every other attribute
without building it, about four times faster than decoding the page into
dicts. Every attribute is optional and defaults to None, as a missing key
does for the dicts billing.py reads. An expandable attribute (`customer`,
`product`) takes an id or an expanded object.

The structs are never part of a reference cycle, so they are not tracked
by the garbage collector (gc=False).
"""

import msgspec


class Reference(msgspec.Struct, gc=False):
    """An expanded object of which only the id and name are read."""

    id: str | None = None
    name: str | None = None


class Recurring(msgspec.Struct, gc=False):
    interval: str | None = None
    interval_count: int | None = None
    usage_type: str | None = None


class Price(msgspec.Struct, gc=False):
    """A price, or a plan in the API versions that put the price under `plan`."""

    id: str | None = None
    nickname: str | None = None
    unit_amount: int | None = None
    unit_amount_decimal: str | None = None
    # Plans carry their amount and interval under these names.
    amount: int | None = None
    amount_decimal: str | None = None
    interval: str | None = None
    interval_count: int | None = None
    usage_type: str | None = None
    recurring: Recurring | None = None
    product: str | Reference | None = None


class SubscriptionItem(msgspec.Struct, gc=False):
    quantity: int | None = None
    current_period_end: int | None = None
    price: Price | None = None
    plan: Price | None = None


class SubscriptionItems(msgspec.Struct, gc=False):
    data: list[SubscriptionItem] = []


class Subscription(msgspec.Struct, gc=False):
    id: str | None = None
    customer: str | Reference | None = None
    status: str | None = None
    created: int | None = None
    currency: str | None = None
    cancel_at_period_end: bool | None = None
    # API versions before 2025-03-31 carry the current period here.
    current_period_end: int | None = None
    items: SubscriptionItems | None = None


class Invoice(msgspec.Struct, gc=False):
    id: str | None = None
    customer: str | Reference | None = None
    status: str | None = None
    currency: str | None = None
    amount_paid: int | None = None
    created: int | None = None


class SubscriptionPage(msgspec.Struct, gc=False):
    data: list[Subscription] = []
    has_more: bool = False


class InvoicePage(msgspec.Struct, gc=False):
    data: list[Invoice] = []
    has_more: bool = False


SUBSCRIPTION_PAGE = msgspec.json.Decoder(SubscriptionPage)
INVOICE_PAGE = msgspec.json.Decoder(InvoicePage)


def customer_id_of(value):
    """Return the customer id of a `customer` attribute: an id, an expanded object, or None."""
    if isinstance(value, Reference):
        return value.id
    return value
