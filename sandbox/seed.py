"""
Deterministic sample data for the sandbox's demo accounts.

The same seed gives the same ids, names, emails, plans and statuses;
timestamps are relative to `now`, so recent activity stays recent. Sizes are
arguments: the default is 500 Stripe customers and 450 HubSpot contacts,
and 100,000 customers take a few seconds.

Stripe: 4 products with monthly and yearly prices, subscriptions in the
states active, trialing, past_due, canceled, unpaid and paused, and invoices
for up to `invoice_months` months. About 3% of customers have no email.

HubSpot: the share `overlap` of the contacts carry the email of a Stripe
customer. Among those, some differ in letter case, some are duplicated (two
contacts, one email) and a few have it only in `hs_additional_emails`.
The share `agree` of the
overlapping contacts already hold the values a sync from Stripe would write
(name, subscription_status, plan_tier, mrr, lifetime_revenue,
customer_since). All names, companies and domains are invented.
"""

import datetime
import gc
import random
import time
from collections import defaultdict

from sandbox.stripe_store import (
    EVENT_RETENTION_SECONDS,
    Customer,
    Invoice,
    Subscription,
    add_interval,
    current_period,
    period_index,
    snapshot,
)

DAY = 86400
HISTORY_DAYS = 730

FIRST_NAMES = (
    "Ada", "Bram", "Cleo", "Dario", "Elin", "Farah", "Gus", "Hana", "Ivo", "Jana", "Kofi", "Lena", "Milo",
    "Nora", "Oren", "Pia", "Quinn", "Rosa", "Sami", "Tova", "Ugo", "Vera", "Wren", "Xavi", "Yara", "Zeno",
    "Amara", "Benno", "Carys", "Dmitri", "Esme", "Finn", "Greta", "Hugo", "Ines", "Joel", "Kira", "Luca",
    "Maren", "Niko", "Odile", "Paz", "Rhea", "Soren", "Thea", "Uma", "Vito", "Willa", "Yusuf", "Zora",
)
LAST_NAMES = (
    "Abernath", "Brightwell", "Castellan", "Dunmore", "Eskeland", "Fairbrook", "Galloway", "Hollins",
    "Ingleby", "Jorvik", "Kestrel", "Larchmont", "Merriweather", "Northcote", "Oakhurst", "Pemberly",
    "Quillon", "Ravensholm", "Stellan", "Thistlewood", "Underhay", "Valcourt", "Westbrook", "Yarrow",
    "Zellweg", "Ashcombe", "Birchall", "Coldwell", "Dewhurst", "Elmsworth", "Fenwright", "Greystock",
    "Harrowgate", "Ironside", "Juniper", "Kingsmere", "Lockridge", "Moorcroft", "Nettleford", "Orchard",
)
COMPANY_ADJECTIVES = (
    "bright", "quiet", "swift", "amber", "copper", "silver", "northern", "clever", "steady", "bold",
    "crimson", "golden", "lucky", "misty", "noble", "rapid", "solar", "tidal", "urban", "vivid",
)
COMPANY_NOUNS = (
    "harbor", "ledger", "orchard", "beacon", "forge", "meadow", "pixel", "summit", "anchor", "canvas",
    "circuit", "compass", "lantern", "signal", "quarry", "harvest", "rocket", "willow", "atlas", "ember",
)
TOP_LEVEL = ("example.com", "example", "test")
PERSONAL_DOMAINS = ("mail.example.net", "inbox.test", "post.example.org")
INDUSTRIES = ("COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "FINANCIAL_SERVICES",
              "MARKETING_AND_ADVERTISING", "HOSPITAL_HEALTH_CARE", "RETAIL")

# (name, monthly price in cents, yearly price in cents). Enterprise has no
# plan_tier option in HubSpot, on purpose.
PRODUCTS = (
    ("Starter", 2900, 29000),
    ("Growth", 7900, 79000),
    ("Pro", 19900, 199000),
    ("Enterprise", 49900, 499000),
)
PRODUCT_WEIGHTS = (40, 30, 22, 8)
STATUS_WEIGHTS = (
    ("active", 70), ("trialing", 8), ("past_due", 6), ("canceled", 8), ("unpaid", 4), ("paused", 4),
)
NO_EMAIL_SHARE = 0.03
NO_SUBSCRIPTION_SHARE = 0.12
YEARLY_SHARE = 0.2
OTHER_CASE_SHARE = 0.06
DUPLICATE_SHARE = 0.02
ADDITIONAL_EMAIL_SHARE = 0.02
TRIAL_DAYS = 14


def seed_demo(state, seed=0, customers=500, contacts=None, overlap=0.9, agree=0.5, invoice_months=6, now=None):
    """
    Create the demo Stripe account and HubSpot portal and fill them; return (account, portal).

    `now` (Unix seconds) sets the sandbox clock, so a fixed `now` with a fixed
    seed gives the same timestamps as well.
    """
    from sandbox import state as sandbox_state

    account = state.add_stripe_account(
        sandbox_state.DEMO_STRIPE_ACCOUNT, "Sandbox Demo Inc.", "billing@sandbox-demo.example.com",
        secret_key=sandbox_state.DEMO_STRIPE_SECRET_KEY, restricted_key=sandbox_state.DEMO_STRIPE_RESTRICTED_KEY,
    )
    portal = state.add_hubspot_portal(
        sandbox_state.DEMO_HUBSPOT_PORTAL, "Sandbox Demo", private_app_token=sandbox_state.DEMO_HUBSPOT_TOKEN
    )
    if now is not None:
        state.clock.offset = now - time.time()
    now = int(state.clock.now())
    if contacts is None:
        contacts = round(customers * 0.9)
    # Seeding creates millions of small objects and no reference cycles, so
    # the cyclic garbage collector would only rescan them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        people = seed_stripe(account, seed=seed, customers=customers, invoice_months=invoice_months, now=now)
        seed_hubspot(portal, people, seed=seed, contacts=contacts, overlap=overlap, agree=agree, now=now)
    finally:
        if collecting:
            gc.enable()
    return account, portal


def check_share(name, value):
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a share between 0 and 1, got {value}.")


def seed_stripe(account, seed=0, customers=500, invoice_months=6, now=None):
    """
    Fill a Stripe account with products, customers, subscriptions and invoices.

    Returns one dict per customer with the values a sync would derive from
    Stripe, which `seed_hubspot` uses to build matching contacts.
    """
    if customers < 0:
        raise ValueError(f"customers must be zero or more, got {customers}.")
    rng = random.Random(f"stripe:{seed}")
    now = int(now or time.time())
    start = now - HISTORY_DAYS * DAY
    prices = _seed_catalogue(account, start)
    domains = _domains(rng, max(20, customers // 6))
    used_emails = set()
    people = []
    for index in range(customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = start + (index * HISTORY_DAYS * DAY) // max(customers, 1) + rng.randrange(0, 3600)
        domain = domains[rng.randrange(len(domains))]
        email = None
        if rng.random() >= NO_EMAIL_SHARE:
            email = _unique_email(f"{first}.{last}".lower(), domain, used_emails)
        customer = Customer(
            id=account.ids.new("cus"),
            created=min(created, now),
            email=email,
            name=f"{first} {last}",
            invoice_prefix=f"{rng.randrange(16 ** 7):07X}",
        )
        account.customers.add(customer.id, customer)
        people.append({"customer": customer, "first": first, "last": last, "domain": domain})

    subscriptions = []
    for person in people:
        if rng.random() < NO_SUBSCRIPTION_SHARE:
            continue
        subscriptions.append(_plan_subscription(rng, person, prices, now))
    subscriptions.sort(key=lambda item: item["created"])

    invoices = []
    for plan in subscriptions:
        subscription = _store_subscription(account, plan, now)
        plan["person"]["subscription"] = subscription
        invoices.extend(_plan_invoices(account, subscription, plan, now, invoice_months))
    invoices.sort(key=lambda item: item.created)
    for invoice in invoices:
        account.invoices.add(invoice.id, invoice)
        account.invoices_by_customer[invoice.customer].append(invoice.id)
        account.subscriptions.get(invoice.subscription).latest_invoice = invoice.id
    _seed_events(account, now)
    for person in people:
        person.update(derived_values(account, person))
    return people


def _seed_catalogue(account, start):
    prices = []
    for name, monthly, yearly in PRODUCTS:
        product = account.create_product(name, description=f"{name} plan", created=start - 30 * DAY)
        monthly_price = account.create_price(product["id"], monthly, "month", nickname=f"{name} monthly",
                                             created=start - 30 * DAY, lookup_key=f"{name.lower()}_monthly")
        yearly_price = account.create_price(product["id"], yearly, "year", nickname=f"{name} yearly",
                                            created=start - 30 * DAY, lookup_key=f"{name.lower()}_yearly")
        prices.append((monthly_price, yearly_price))
    return prices


def _domains(rng, count):
    domains = []
    seen = set()
    while len(domains) < count:
        slug = rng.choice(COMPANY_ADJECTIVES) + rng.choice(COMPANY_NOUNS)
        if slug in seen:
            slug = f"{slug}{len(domains)}"
        seen.add(slug)
        domains.append(f"{slug}.{TOP_LEVEL[len(domains) % len(TOP_LEVEL)]}")
    return domains


def _unique_email(local, domain, used):
    email = f"{local}@{domain}"
    number = 2
    while email in used:
        email = f"{local}{number}@{domain}"
        number += 1
    used.add(email)
    return email


def _plan_subscription(rng, person, prices, now):
    customer = person["customer"]
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
    monthly, yearly = rng.choices(prices, PRODUCT_WEIGHTS)[0]
    price = yearly if rng.random() < YEARLY_SHARE else monthly
    created = min(customer.created + rng.randrange(0, 3 * DAY), now)
    if status == "trialing":
        created = max(created, now - rng.randrange(1, TRIAL_DAYS) * DAY)
    quantity = 1 if rng.random() < 0.8 else rng.randrange(2, 11)
    return {"person": person, "status": status, "price": price, "created": created, "quantity": quantity}


def _store_subscription(account, plan, now):
    customer = plan["person"]["customer"]
    price = plan["price"]
    status = plan["status"]
    created = plan["created"]
    period_start, period_end = current_period(created, price["interval"], now)
    subscription_id = account.ids.new("sub")
    subscription = Subscription(
        id=subscription_id,
        customer=customer.id,
        created=created,
        status=status,
        price=price["id"],
        quantity=plan["quantity"],
        item_id="si_" + subscription_id.removeprefix("sub_"),
        current_period_start=period_start,
        current_period_end=period_end,
    )
    if status in ("trialing", "paused"):
        subscription.trial_start = created
        subscription.trial_end = created + TRIAL_DAYS * DAY
    if status == "canceled":
        subscription.canceled_at = subscription.ended_at = max(created, period_start)
    if status in ("past_due", "unpaid"):
        customer.delinquent = True
    customer.currency = price["currency"]
    account.subscriptions.add(subscription.id, subscription)
    account.subscriptions_by_customer[customer.id].append(subscription.id)
    return subscription


def _plan_invoices(account, subscription, plan, now, invoice_months):
    """Bill each period of a subscription within the last `invoice_months` months."""
    if subscription.status in ("trialing", "paused"):
        return []
    price = plan["price"]
    customer = plan["person"]["customer"]
    window_start = now - invoice_months * 31 * DAY
    stop = subscription.ended_at or now
    invoices = []
    interval = price["interval"]
    first = period_index(subscription.created, interval, max(window_start, subscription.created))
    last = period_index(subscription.created, interval, stop)
    period_start = add_interval(subscription.created, interval, first)
    for index in range(first, last + 1):
        period_end = add_interval(subscription.created, interval, index + 1)
        invoice_id = account.ids.new("in")
        invoices.append(Invoice(
            id=invoice_id,
            customer=customer.id,
            subscription=subscription.id,
            created=period_start,
            status="paid",
            total=price["unit_amount"] * subscription.quantity,
            currency=price["currency"],
            period_start=period_start,
            period_end=period_end,
            price=price["id"],
            quantity=subscription.quantity,
            line_id="il_" + invoice_id.removeprefix("in_"),
            number=f"{customer.invoice_prefix}-{index + 1:04d}",
            billing_reason="subscription_create" if index == 0 else "subscription_cycle",
            paid_at=period_start + 3600,
            customer_email=customer.email,
            customer_name=customer.name,
        ))
        period_start = period_end
    if invoices and subscription.status in ("past_due", "unpaid"):
        last = invoices[-1]
        last.status = "open"
        last.paid_at = None
    return invoices


def _seed_events(account, now):
    """Record the events of seeded objects created within the 30 days Stripe keeps, oldest first."""
    cutoff = now - EVENT_RETENTION_SECONDS
    pending = []
    for customer in account.customers.values():
        if customer.created >= cutoff:
            pending.append((customer.created, "customer.created", "customer", customer))
    for subscription in account.subscriptions.values():
        if subscription.created >= cutoff:
            pending.append((subscription.created, "customer.subscription.created", "subscription", subscription))
    for invoice in account.invoices.values():
        if invoice.created >= cutoff:
            pending.append((invoice.created, "invoice.created", "invoice", invoice))
            if invoice.paid_at:
                pending.append((invoice.paid_at, "invoice.paid", "invoice", invoice))
            elif invoice.status == "open":
                pending.append((invoice.created + 60, "invoice.payment_failed", "invoice", invoice))
    pending.sort(key=lambda item: item[0])
    for created, event_type, kind, obj in pending:
        account.record_event(event_type, kind, snapshot(obj), created=min(created, now))


def derived_values(account, person):
    """Compute what a sync would write to HubSpot for one seeded customer."""
    customer = person["customer"]
    subscription = person.get("subscription")
    values = {
        "firstname": person["first"],
        "lastname": person["last"],
        "customer_since": str(midnight_ms(customer.created)),
        "lifetime_revenue": "0",
    }
    paid = sum(
        account.invoices.get(invoice_id).total
        for invoice_id in account.invoices_by_customer.get(customer.id, ())
        if account.invoices.get(invoice_id).status == "paid"
    )
    values["lifetime_revenue"] = money(paid)
    if subscription is None:
        return {"derived": values}
    price = account.prices.get(subscription.price)
    product = account.products.get(price["product"])
    monthly = price["unit_amount"] * subscription.quantity / (12 if price["interval"] == "year" else 1)
    values["subscription_status"] = subscription.status
    values["plan_tier"] = product["name"].lower()
    values["mrr"] = money(monthly if subscription.status in ("active", "past_due") else 0)
    return {"derived": values}


def money(cents):
    return f"{cents / 100:.2f}".rstrip("0").rstrip(".")


def midnight_ms(timestamp):
    day = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).date()
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()) * 1000


def seed_hubspot(portal, people, seed=0, contacts=450, overlap=0.9, agree=0.5, now=None):
    """Fill a HubSpot portal with contacts (overlapping `people` by email) and their companies."""
    check_share("overlap", overlap)
    check_share("agree", agree)
    if contacts < 0:
        raise ValueError(f"contacts must be zero or more, got {contacts}.")
    rng = random.Random(f"hubspot:{seed}")
    now_ms = int(now or time.time()) * 1000
    with_email = [person for person in people if person["customer"].email]
    rng.shuffle(with_email)
    overlapping = min(round(contacts * overlap), len(with_email))
    definitions = portal.definitions["contacts"]
    options = {name: set(definitions[name].option_values()) for name in ("subscription_status", "plan_tier")}
    rows = []
    for person in with_email[:overlapping]:
        rows.extend(_matched_contacts(rng, person, agree, options))
    used_emails = {person["customer"].email for person in people if person["customer"].email}
    while len(rows) < contacts:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = rng.choice(PERSONAL_DOMAINS)
        rows.append({
            "email": _unique_email(f"{first}.{last}".lower(), domain, used_emails),
            "firstname": first,
            "lastname": last,
            "lifecyclestage": rng.choice(("subscriber", "lead", "marketingqualifiedlead")),
        })
    rows = rows[:contacts]
    created_span = HISTORY_DAYS * DAY * 1000
    start_ms = now_ms - created_span
    for index, properties in enumerate(rows):
        created_ms = start_ms + (index * created_span) // max(len(rows), 1)
        record = portal.create_record("contacts", properties, created_ms=created_ms)
        record.updated_ms = min(created_ms + rng.randrange(0, 90 * DAY * 1000), now_ms - 1)
    _seed_companies(portal, rng, rows, start_ms)


def _matched_contacts(rng, person, agree, options):
    """Build the contact(s) for one Stripe customer: case changes, duplicates, additional emails."""
    email = person["customer"].email
    derived = person["derived"]
    properties = {"lifecyclestage": "customer" if "subscription_status" in derived else "lead"}
    if rng.random() < agree:
        properties.update({
            name: value for name, value in derived.items()
            if name not in options or value in options[name]
        })
    else:
        properties["firstname"] = person["first"]
        if rng.random() < 0.5:
            properties["lastname"] = person["last"]
        if rng.random() < 0.3:
            properties["subscription_status"] = "active"
    roll = rng.random()
    if roll < ADDITIONAL_EMAIL_SHARE:
        local = f"{person['first']}.{person['last']}".lower()
        properties["email"] = f"{local}.personal@{rng.choice(PERSONAL_DOMAINS)}"
        properties["hs_additional_emails"] = email
        return [properties]
    if roll < ADDITIONAL_EMAIL_SHARE + OTHER_CASE_SHARE:
        local, _, domain = email.partition("@")
        properties["email"] = f"{local.capitalize()}@{domain.upper()}"
        return [properties]
    properties["email"] = email
    if roll < ADDITIONAL_EMAIL_SHARE + OTHER_CASE_SHARE + DUPLICATE_SHARE:
        duplicate = {"email": email, "firstname": person["first"], "lifecyclestage": "lead"}
        return [properties, duplicate]
    return [properties]


def _seed_companies(portal, rng, rows, start_ms):
    domains = defaultdict(int)
    for properties in rows:
        domain = properties["email"].rpartition("@")[2].lower()
        if domain not in PERSONAL_DOMAINS:
            domains[domain] += 1
    for index, domain in enumerate(sorted(domains)):
        slug = domain.split(".")[0]
        properties = {
            "name": slug.capitalize(),
            "domain": domain,
            "industry": rng.choice(INDUSTRIES),
            "numberofemployees": str(rng.choice((5, 12, 25, 60, 140, 300))),
            "lifecyclestage": "customer",
        }
        portal.create_record("companies", properties, created_ms=start_ms + index * 1000)
