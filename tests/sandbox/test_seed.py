from collections import Counter

import pytest

from sandbox.seed import seed_demo
from sandbox.state import SandboxState

NOW = 1_780_000_000


def seeded(**options):
    state = SandboxState(seed=options.get("seed", 0))
    account, portal = seed_demo(state, now=NOW, **options)
    return account, portal


def contacts_of(portal):
    return list(portal.stores["contacts"].records.values())


def test_same_seed_gives_same_data():
    first, first_portal = seeded(seed=5, customers=120)
    second, second_portal = seeded(seed=5, customers=120)
    assert [(c.id, c.email, c.name) for c in first.customers.values()] == [
        (c.id, c.email, c.name) for c in second.customers.values()
    ]
    assert [r.properties for r in contacts_of(first_portal)] == [r.properties for r in contacts_of(second_portal)]


def test_other_seed_gives_other_data():
    first, _ = seeded(seed=1, customers=50)
    second, _ = seeded(seed=2, customers=50)
    assert [c.email for c in first.customers.values()] != [c.email for c in second.customers.values()]


def test_default_sizes_and_subscription_states():
    account, portal = seeded()
    statuses = Counter(subscription.status for subscription in account.subscriptions.values())
    assert len(account.customers) == 500
    assert len(contacts_of(portal)) == 450
    assert set(statuses) == {"active", "trialing", "past_due", "canceled", "unpaid", "paused"}
    assert len(account.products) == 4
    assert len(account.prices) == 8
    assert any(invoice.status == "paid" for invoice in account.invoices.values())


def test_some_customers_have_no_email():
    account, _ = seeded()
    assert any(customer.email is None for customer in account.customers.values())


def test_contacts_overlap_customers_by_email():
    account, portal = seeded(overlap=0.9)
    stripe_emails = {c.email for c in account.customers.values() if c.email}
    contacts = contacts_of(portal)
    exact = [r for r in contacts if r.properties["email"] in stripe_emails]
    other_case = [r for r in contacts if r.properties["email"] not in stripe_emails
                  and r.properties["email"].lower() in stripe_emails]
    additional = [r for r in contacts if r.properties.get("hs_additional_emails") in stripe_emails]
    duplicated = [email for email, count in Counter(r.properties["email"] for r in contacts).items() if count > 1]
    matched = len(exact) + len(other_case) + len(additional)
    assert 0.85 <= matched / len(contacts) <= 0.95
    assert other_case
    assert additional
    assert duplicated


def test_overlap_zero_shares_no_email():
    account, portal = seeded(customers=100, overlap=0)
    stripe_emails = {c.email.lower() for c in account.customers.values() if c.email}
    assert not [r for r in contacts_of(portal) if r.properties["email"].lower() in stripe_emails]


def test_agree_one_makes_matched_contacts_hold_stripe_values():
    account, portal = seeded(customers=100, agree=1.0)
    by_email = {c.email: c for c in account.customers.values() if c.email}
    agreeing = [r for r in contacts_of(portal) if r.properties["email"] in by_email and "customer_since" in r.properties]
    assert len(agreeing) > 50
    customer = by_email[agreeing[0].properties["email"]]
    assert agreeing[0].properties["firstname"] == customer.name.split()[0]


def test_statuses_without_hubspot_option_are_not_written():
    _, portal = seeded(agree=1.0)
    options = set(portal.definitions["contacts"]["subscription_status"].option_values())
    written = {r.properties.get("subscription_status") for r in contacts_of(portal)} - {None}
    assert written <= options


def test_invalid_share_is_rejected():
    with pytest.raises(ValueError, match="overlap must be a share between 0 and 1"):
        seeded(customers=10, overlap=1.5)


def test_recent_seed_objects_have_events():
    account, _ = seeded()
    types = {event.type for event in account.events.values()}
    assert {"customer.created", "invoice.paid"} <= types
    assert all(event.created >= NOW - 30 * 86400 for event in account.events.values())
