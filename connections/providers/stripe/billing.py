"""
Derive billing facts about a Stripe customer from its subscriptions and paid invoices.

These are plain functions over Stripe's JSON objects, so they are tested
without HTTP. Amounts stay in the currency's minor unit, as Stripe sends
them. The engine turns {"amount": minor units, "currency": "usd"} into a
decimal amount with the currency's exponent (JPY has none).

Rules:

- The main subscription is the one with the most relevant status, in the
  order of SUBSCRIPTION_STATUS_PRIORITY (active first, canceled near the
  end), and among equals the newest by `created`.
- `subscription_status` and `plan` describe the main subscription. The plan
  names each item's price by its nickname, else by its product's name, and
  joins several items with ", ".
- MRR sums the items of every active, trialing or past-due subscription in
  the main subscription's currency, each price normalised to a month of
  365/12 days or 52/12 weeks, times the quantity. Metered and tiered
  prices have no fixed unit amount and are left out.
- Lifetime revenue sums `amount_paid` of paid invoices in the customer's
  currency (`customer.currency`, else the currency of the newest paid
  invoice). Refunds and credit notes are not subtracted.
- The next renewal date is the main subscription's `current_period_end`,
  unless it is ended or set to cancel at the period end. API versions from
  2025-03-31 carry that date on each subscription item instead of the
  subscription, so the earliest item date is used then.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from connections.providers import timestamps

SUBSCRIPTION_STATUSES = {
    "active": "Active",
    "trialing": "Trialing",
    "past_due": "Past due",
    "unpaid": "Unpaid",
    "paused": "Paused",
    "incomplete": "Incomplete",
    "incomplete_expired": "Incomplete, expired",
    "canceled": "Canceled",
}
SUBSCRIPTION_STATUS_PRIORITY = (
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "paused",
    "incomplete",
    "canceled",
    "incomplete_expired",
)
# Subscriptions that bill and so count towards MRR and renew.
BILLING_STATUSES = frozenset({"active", "trialing", "past_due"})
# Months per billing interval.
MONTHS_PER_INTERVAL = {
    "day": Decimal(12) / Decimal(365),
    "week": Decimal(12) / Decimal(52),
    "month": Decimal(1),
    "year": Decimal(12),
}


def iso_date(timestamp):
    """Return the UTC calendar date of Unix seconds as "YYYY-MM-DD", or None."""
    if timestamp is None:
        return None
    return timestamps.iso_date(timestamp)


def iso_datetime(timestamp):
    """Return Unix seconds as an ISO 8601 UTC datetime ending in "Z", or None."""
    if timestamp is None:
        return None
    return timestamps.iso_seconds(timestamp)


def main_subscription(subscriptions):
    """Return the subscription that describes the customer best, or None when there is none."""
    if not subscriptions:
        return None

    def rank(subscription):
        status = subscription.get("status")
        try:
            priority = SUBSCRIPTION_STATUS_PRIORITY.index(status)
        except ValueError:
            priority = len(SUBSCRIPTION_STATUS_PRIORITY)
        return (priority, -(subscription.get("created") or 0))

    return min(subscriptions, key=rank)


def subscription_items(subscription):
    items = subscription.get("items") or {}
    return items.get("data") or []


def item_price(item):
    # Old API versions put the price under `plan`, and current ones under `price`.
    return item.get("price") or item.get("plan") or {}


def plan_name(subscription, product_names):
    """Return the names of the subscription's prices, joined with ", ", or None."""
    if subscription is None:
        return None
    names = []
    for item in subscription_items(subscription):
        price = item_price(item)
        name = price.get("nickname")
        if not name:
            product = price.get("product")
            if isinstance(product, dict):
                name = product.get("name")
            else:
                name = product_names.get(product)
        if name and name not in names:
            names.append(name)
    return ", ".join(names) or None


def monthly_amount(item):
    """Return an item's amount per month in minor units as a Decimal, or None for a price without a fixed amount."""
    price = item_price(item)
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or price.get("interval")
    interval_count = recurring.get("interval_count") or price.get("interval_count") or 1
    usage_type = recurring.get("usage_type") or price.get("usage_type")
    if interval not in MONTHS_PER_INTERVAL or usage_type == "metered":
        return None

    unit_amount = price.get("unit_amount_decimal") or price.get("amount_decimal")
    if unit_amount is None:
        unit_amount = price.get("unit_amount", price.get("amount"))
    if unit_amount is None:
        return None
    try:
        unit_amount = Decimal(str(unit_amount))
    except InvalidOperation:
        return None

    quantity = Decimal(item.get("quantity") or 1)
    months = MONTHS_PER_INTERVAL[interval] * Decimal(interval_count)
    return unit_amount * quantity / months


def monthly_recurring_revenue(subscriptions, customer_currency=None):
    """Return MRR as {"amount": minor units, "currency": ...}, or None when no currency is known."""
    main = main_subscription(subscriptions)
    currency = (main or {}).get("currency") or customer_currency
    if not currency:
        return None
    total = Decimal(0)
    for subscription in subscriptions:
        if subscription.get("status") not in BILLING_STATUSES:
            continue
        if subscription.get("currency") and subscription["currency"] != currency:
            # NOTE: a customer billed in two currencies gets the MRR of the main one only.
            continue
        for item in subscription_items(subscription):
            amount = monthly_amount(item)
            if amount is not None:
                total += amount
    minor_units = int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {"amount": minor_units, "currency": currency}


def lifetime_revenue(invoices, customer_currency=None):
    """Return the sum of paid invoices in the customer's currency as a money value, or None."""
    paid = [invoice for invoice in invoices if invoice.get("status") == "paid"]
    currency = customer_currency
    if not currency and paid:
        currency = max(paid, key=lambda invoice: invoice.get("created") or 0).get("currency")
    if not currency:
        return None
    total = sum(
        invoice.get("amount_paid") or 0 for invoice in paid if invoice.get("currency") == currency
    )
    return {"amount": total, "currency": currency}


def current_period_end(subscription):
    """Return the end of the subscription's current period in Unix seconds, or None."""
    if subscription.get("current_period_end"):
        return subscription["current_period_end"]
    ends = [
        item["current_period_end"]
        for item in subscription_items(subscription)
        if item.get("current_period_end")
    ]
    return min(ends) if ends else None


def next_renewal_date(subscription):
    """Return the date the subscription renews as "YYYY-MM-DD", or None when it won't renew."""
    if subscription is None or subscription.get("status") not in BILLING_STATUSES:
        return None
    if subscription.get("cancel_at_period_end"):
        return None
    return iso_date(current_period_end(subscription))


def derived_values(customer, subscriptions, invoices, product_names):
    """Return every derived field of one customer as {field name: wire value}."""
    main = main_subscription(subscriptions)
    currency = customer.get("currency")
    return {
        "subscription_status": (main or {}).get("status"),
        "plan": plan_name(main, product_names),
        "mrr": monthly_recurring_revenue(subscriptions, currency),
        "lifetime_revenue": lifetime_revenue(invoices, currency),
        "next_renewal_date": next_renewal_date(main),
        "customer_since": iso_date(customer.get("created")),
    }
