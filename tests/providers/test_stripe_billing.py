"""Derived Stripe billing facts: main subscription, MRR, lifetime revenue, renewal date."""

from connections.providers.stripe import billing


def price(amount, interval="month", count=1, currency="usd", usage_type="licensed", decimal=None):
    return {
        "currency": currency,
        "unit_amount": amount,
        "unit_amount_decimal": decimal,
        "recurring": {"interval": interval, "interval_count": count, "usage_type": usage_type},
    }


def subscription(status, created=1, items=(), currency="usd", **extra):
    return {"status": status, "created": created, "currency": currency, "items": {"data": list(items)}, **extra}


def item(price_, quantity=1, **extra):
    return {"price": price_, "quantity": quantity, **extra}


def test_main_subscription_prefers_status_then_newest():
    canceled = subscription("canceled", created=30)
    past_due = subscription("past_due", created=10)
    newer_past_due = subscription("past_due", created=20)

    assert billing.main_subscription([canceled, past_due, newer_past_due]) is newer_past_due


def test_mrr_normalises_intervals_to_a_month():
    subscriptions = [
        subscription(
            "active",
            items=[
                item(price(12000, "year")),  # 10.00
                item(price(600, "month", count=3)),  # 2.00
                item(price(100, "week")),  # 100 × 52 / 12 = 433.33
                item(price(10, "day"), quantity=2),  # 20 × 365 / 12 = 608.33
            ],
        )
    ]

    mrr = billing.monthly_recurring_revenue(subscriptions)

    # The sum, 2241.67, is rounded once to a whole minor unit.
    assert mrr == {"amount": 2242, "currency": "usd"}


def test_mrr_keeps_zero_decimal_minor_units():
    mrr = billing.monthly_recurring_revenue([subscription("active", currency="jpy", items=[item(price(3000, currency="jpy"))])])

    assert mrr == {"amount": 3000, "currency": "jpy"}


def test_mrr_uses_unit_amount_decimal():
    mrr = billing.monthly_recurring_revenue([subscription("active", items=[item(price(None, decimal="1250.5"), quantity=2)])])

    assert mrr == {"amount": 2501, "currency": "usd"}


def test_mrr_skips_metered_and_non_billing_subscriptions():
    subscriptions = [
        subscription("active", items=[item(price(500, usage_type="metered"))]),
        subscription("canceled", items=[item(price(900))]),
        subscription("unpaid", items=[item(price(700))]),
    ]

    assert billing.monthly_recurring_revenue(subscriptions) == {"amount": 0, "currency": "usd"}


def test_mrr_without_currency_is_none():
    assert billing.monthly_recurring_revenue([], customer_currency=None) is None


def test_lifetime_revenue_falls_back_to_newest_invoice_currency():
    invoices = [
        {"status": "paid", "amount_paid": 500, "currency": "eur", "created": 2},
        {"status": "paid", "amount_paid": 300, "currency": "usd", "created": 1},
        {"status": "paid", "amount_paid": 200, "currency": "eur", "created": 1},
    ]

    assert billing.lifetime_revenue(invoices) == {"amount": 700, "currency": "eur"}


def test_renewal_date_reads_item_period_end():
    current = subscription("active", items=[item(price(100), current_period_end=1735776000)])

    assert billing.next_renewal_date(current) == "2025-01-02"


def test_renewal_date_reads_subscription_period_end_of_old_versions():
    old = subscription("active", items=[item(price(100))], current_period_end=1735689600)

    assert billing.next_renewal_date(old) == "2025-01-01"


def test_renewal_date_is_none_when_cancelling():
    cancelling = subscription("active", items=[item(price(100), current_period_end=1735776000)], cancel_at_period_end=True)

    assert billing.next_renewal_date(cancelling) is None


def test_plan_falls_back_to_product_name():
    main = subscription("active", items=[item({"nickname": None, "product": "prod_A"}), item({"nickname": "Seats"})])

    assert billing.plan_name(main, {"prod_A": "Team"}) == "Team, Seats"
