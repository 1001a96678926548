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

Zendesk: an admin and end users, 80% of whom carry a Stripe customer's
email (a few only as a secondary identity). Some users are deactivated and
a few have no email. Organizations follow company domains, and each user
has 0 to 9 tickets in every status (a few deleted). The share `agree` of the HubSpot contacts that
match a Zendesk user already hold its ticket facts.

Mailchimp: one audience with merge fields FNAME, LNAME, PLAN (a dropdown
without an Enterprise option), STATUS (text), ADDRESS, PHONE, BIRTHDAY,
RENEWAL (a date), SEATS (a number) and WEBSITE (a URL). 85% of its members
are Stripe customers, in every member status, with their company's website.
The share `agree` of them already hold their plan, subscription status,
renewal date and seats. A few other customers' addresses were permanently
deleted from the audience.
"""

import datetime
import gc
import random
import time
from collections import defaultdict

from sandbox.stripe_store import (
    ENDED_SUBSCRIPTION_STATUSES,
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


def seed_demo(state, seed=0, customers=500, contacts=None, overlap=0.9, agree=0.5, invoice_months=6, now=None,
              zendesk_users=None, members=None):
    """
    Create the demo accounts of the four tools and fill them; return (Stripe account, HubSpot portal).

    `now` (Unix seconds) sets the sandbox clock, so a fixed `now` with a fixed
    seed gives the same timestamps as well. The Zendesk account and the
    Mailchimp account are reached through `state.zendesk_account()` and
    `state.mailchimp_account()`; `zendesk_users` and `members` size them
    (default 60% and 80% of `customers`).
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
    if zendesk_users is None:
        zendesk_users = round(customers * 0.6)
    if members is None:
        members = round(customers * 0.8)
    for name, value in (("zendesk_users", zendesk_users), ("members", members)):
        if value < 0:
            raise ValueError(f"{name} must be zero or more, got {value}.")
    desk = state.add_zendesk_account(
        sandbox_state.DEMO_ZENDESK_SUBDOMAIN, "Sandbox Demo Support",
        admin_email=sandbox_state.DEMO_ZENDESK_AGENT, api_token=sandbox_state.DEMO_ZENDESK_API_TOKEN,
    )
    mailchimp = state.add_mailchimp_account(
        sandbox_state.DEMO_MAILCHIMP_ACCOUNT, "Sandbox Demo Inc.", "marketing@sandbox-demo.example.com",
        dc="us1", api_key=sandbox_state.DEMO_MAILCHIMP_API_KEY,
    )
    # Seeding creates millions of small objects and no reference cycles, so
    # the cyclic garbage collector would only rescan them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        people = seed_stripe(account, seed=seed, customers=customers, invoice_months=invoice_months, now=now)
        seed_hubspot(portal, people, seed=seed, contacts=contacts, overlap=overlap, agree=agree, now=now)
        seed_zendesk(desk, people, seed=seed, users=zendesk_users, now=now)
        copy_ticket_facts(desk, portal, seed=seed, agree=agree)
        seed_mailchimp(mailchimp, sandbox_state.DEMO_MAILCHIMP_LIST, people, seed=seed, members=members,
                       agree=agree, now=now)
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
    # Seeding adds and changes objects directly, not through the account's methods.
    account.rendered.clear()
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


def subscription_merge_fields(subscription):
    """Return the RENEWAL date (YYYY-MM-DD) and SEATS of a subscription that hasn't ended, else nothing."""
    if subscription is None or subscription.status in ENDED_SUBSCRIPTION_STATUSES:
        return {}
    renewal = datetime.datetime.fromtimestamp(subscription.current_period_end, tz=datetime.timezone.utc).date()
    return {"RENEWAL": renewal.isoformat(), "SEATS": subscription.quantity}


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


# Zendesk

TICKET_STATUS_WEIGHTS = (("new", 6), ("open", 14), ("pending", 8), ("hold", 3), ("solved", 34), ("closed", 35))
TICKET_COUNT_WEIGHTS = ((0, 25), (1, 25), (2, 18), (3, 12), (4, 9), (6, 7), (9, 4))
TICKET_SUBJECTS = (
    "Cannot log in", "Invoice copy", "Export is stuck", "Change billing email", "API returns 500",
    "Add a seat", "Cancel my plan", "SSO setup", "Webhook not firing", "Data looks wrong",
)
OPEN_TICKET_STATUSES = ("new", "open", "pending", "hold")
ZENDESK_OVERLAP = 0.8
SECONDARY_EMAIL_SHARE = 0.04
INACTIVE_USER_SHARE = 0.02
NO_EMAIL_USER_SHARE = 0.03
DELETED_TICKET_SHARE = 0.02


def seed_zendesk(account, people, seed=0, users=300, now=None):
    """Fill a Zendesk account with custom fields, organizations, end users (overlapping `people`) and tickets."""
    if users < 0:
        raise ValueError(f"users must be zero or more, got {users}.")
    rng = random.Random(f"zendesk:{seed}")
    now = int(now or time.time())
    # Exports leave out the last minute, so seeded changes end an hour ago.
    latest = now - 3600
    account.add_custom_field("user", "plan_tier", "dropdown", "Plan tier",
                             options=[(name, name.lower()) for name, _monthly, _yearly in PRODUCTS])
    account.add_custom_field("user", "seats", "integer", "Seats")
    account.add_custom_field("user", "renewal_date", "date", "Renewal date")
    account.add_custom_field("user", "beta_opt_in", "checkbox", "Beta opt-in")
    account.add_custom_field("user", "vat_number", "regexp", "VAT number", regexp=r"^[A-Z]{2}[0-9A-Z]{8,12}$")
    account.add_custom_field("organization", "account_tier", "dropdown", "Account tier",
                             options=[("Self-serve", "self_serve"), ("Managed", "managed")])

    with_email = [person for person in people if person["customer"].email]
    rng.shuffle(with_email)
    overlapping = min(round(users * ZENDESK_OVERLAP), len(with_email))
    organizations = {}
    used_emails = {person["customer"].email for person in people if person["customer"].email}
    created_users = []
    for person in with_email[:overlapping]:
        customer = person["customer"]
        created = min(customer.created + rng.randrange(0, 30 * DAY), latest - DAY)
        domain = customer.email.rpartition("@")[2]
        organization = organizations.get(domain)
        if organization is None:
            organization = account.add_organization(
                domain.split(".")[0].capitalize(), created_at=created, domain_names=[domain],
                organization_fields={"account_tier": rng.choice(("self_serve", "managed"))},
            )
            organizations[domain] = organization
        user_fields = {}
        plan = person["derived"].get("plan_tier")
        if plan:
            user_fields["plan_tier"] = plan
        roll = rng.random()
        email = customer.email
        if roll < SECONDARY_EMAIL_SHARE:
            email = _unique_email(f"{person['first']}.{person['last']}".lower(), rng.choice(PERSONAL_DOMAINS), used_emails)
        user = account.add_user(
            f"{person['first']} {person['last']}", email=email, created_at=created,
            updated_at=rng.randrange(created, latest), organization_id=organization.id, user_fields=user_fields,
            active=not SECONDARY_EMAIL_SHARE <= roll < SECONDARY_EMAIL_SHARE + INACTIVE_USER_SHARE,
        )
        if email != customer.email:
            account.add_secondary_email(user, customer.email, created)
        created_users.append(user)

    start = now - HISTORY_DAYS * DAY
    while len(created_users) < users:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = rng.randrange(start, latest - DAY)
        email = None
        phone = None
        # The first of these users has no email at all, so every seed has one.
        if len(created_users) > overlapping and rng.random() >= NO_EMAIL_USER_SHARE:
            email = _unique_email(f"{first}.{last}".lower(), rng.choice(PERSONAL_DOMAINS), used_emails)
        else:
            phone = f"+1 555 01{rng.randrange(10, 99)} {rng.randrange(1000, 9999)}"
        created_users.append(account.add_user(
            f"{first} {last}", email=email, phone=phone, created_at=created, updated_at=rng.randrange(created, latest),
        ))

    for user in created_users:
        _seed_tickets(account, rng, user, latest)


def _seed_tickets(account, rng, user, latest):
    count = rng.choices([n for n, _ in TICKET_COUNT_WEIGHTS], [w for _, w in TICKET_COUNT_WEIGHTS])[0]
    for _ in range(count):
        created = rng.randrange(user.created_at, latest - 60)
        status = rng.choices([s for s, _ in TICKET_STATUS_WEIGHTS], [w for _, w in TICKET_STATUS_WEIGHTS])[0]
        if rng.random() < DELETED_TICKET_SHARE:
            status = "deleted"
        updated = min(created + rng.randrange(0, 10 * DAY), latest)
        account.add_ticket(user, status, rng.choice(TICKET_SUBJECTS), created_at=created, updated_at=updated,
                           priority=rng.choice(("low", "normal", "normal", "high")))


def ticket_facts(account):
    """Return {user id: {"ticket_count", "open_ticket_count", "last_ticket_date"}} over non-deleted tickets."""
    facts = {}
    for ticket in account.tickets.values():
        if ticket.status == "deleted":
            continue
        entry = facts.setdefault(ticket.requester_id, {"ticket_count": 0, "open_ticket_count": 0, "last": 0})
        entry["ticket_count"] += 1
        entry["open_ticket_count"] += ticket.status in OPEN_TICKET_STATUSES
        entry["last"] = max(entry["last"], ticket.created_at)
    return facts


def copy_ticket_facts(account, portal, seed=0, agree=0.5):
    """Give the share `agree` of the HubSpot contacts matching a Zendesk user that user's ticket facts already."""
    check_share("agree", agree)
    rng = random.Random(f"zendesk-hubspot:{seed}")
    facts = ticket_facts(account)
    store = portal.stores["contacts"]
    for user in sorted(account.users.values(), key=lambda item: item.id):
        if not user.email or user.id not in facts or rng.random() >= agree:
            continue
        entry = facts[user.id]
        values = {
            "ticket_count": str(entry["ticket_count"]),
            "open_ticket_count": str(entry["open_ticket_count"]),
            "last_ticket_date": str(midnight_ms(entry["last"])),
        }
        for record in store.active_by_email(user.email):
            # Written in place, so the contacts' modification times stay as seeded.
            record.properties.update(values)


# Mailchimp

MEMBER_STATUS_WEIGHTS = (
    ("subscribed", 78), ("unsubscribed", 9), ("cleaned", 4), ("pending", 3), ("transactional", 3), ("archived", 3),
)
MAILCHIMP_OVERLAP = 0.85
FORGOTTEN_SHARE = 0.01
MEMBER_OTHER_CASE_SHARE = 0.05


def seed_mailchimp(account, list_id, people, seed=0, members=400, agree=0.5, now=None):
    """Create one audience with merge fields and fill it with members overlapping `people` by email."""
    check_share("agree", agree)
    if members < 0:
        raise ValueError(f"members must be zero or more, got {members}.")
    rng = random.Random(f"mailchimp:{seed}")
    now = int(now or time.time())
    latest = now - 3600
    audience = account.add_list(list_id, "Sandbox Demo Newsletter", created=now - HISTORY_DAYS * DAY)
    audience.add_merge_field("FNAME", "First Name", "text")
    audience.add_merge_field("LNAME", "Last Name", "text")
    # Enterprise is left out of the choices, so a sync meets rejected values.
    audience.add_merge_field("PLAN", "Plan", "dropdown", choices=("Starter", "Growth", "Pro"))
    audience.add_merge_field("STATUS", "Subscription status", "text")
    audience.add_merge_field("ADDRESS", "Address", "address", public=False)
    audience.add_merge_field("PHONE", "Phone Number", "phone", public=False)
    audience.add_merge_field("BIRTHDAY", "Birthday", "birthday", public=False, date_format="MM/DD")
    audience.add_merge_field("RENEWAL", "Renewal date", "date", public=False, date_format="MM/DD/YYYY")
    audience.add_merge_field("SEATS", "Seats", "number", public=False)
    audience.add_merge_field("WEBSITE", "Website", "url", public=False)
    choices = set(audience.merge_fields["PLAN"].choices)

    with_email = [person for person in people if person["customer"].email]
    rng.shuffle(with_email)
    overlapping = min(round(members * MAILCHIMP_OVERLAP), len(with_email))
    statuses = [status for status, _ in MEMBER_STATUS_WEIGHTS]
    weights = [weight for _, weight in MEMBER_STATUS_WEIGHTS]
    for person in with_email[:overlapping]:
        customer = person["customer"]
        email = customer.email
        if rng.random() < MEMBER_OTHER_CASE_SHARE:
            email = email[0].upper() + email[1:]
        merge_fields = {"FNAME": person["first"], "LNAME": person["last"], "WEBSITE": f"https://{person['domain']}"}
        derived = person["derived"]
        if rng.random() < agree:
            plan = (derived.get("plan_tier") or "").capitalize()
            if plan in choices:
                merge_fields["PLAN"] = plan
            if derived.get("subscription_status"):
                merge_fields["STATUS"] = derived["subscription_status"]
            merge_fields.update(subscription_merge_fields(person.get("subscription")))
        signed_up = min(customer.created + rng.randrange(0, 60 * DAY), latest)
        member = account.add_member(audience, email, rng.choices(statuses, weights)[0], merge_fields,
                                    timestamp=signed_up, member_rating=rng.randrange(1, 6),
                                    avg_open_rate=round(rng.random(), 2), avg_click_rate=round(rng.random() / 3, 2))
        member.last_changed = rng.randrange(signed_up, latest + 1)
    for person in with_email[overlapping:]:
        if rng.random() < FORGOTTEN_SHARE:
            account.forget(audience, person["customer"].email)

    used_emails = {person["customer"].email for person in people if person["customer"].email}
    start = now - HISTORY_DAYS * DAY
    while len(audience.members) < members:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = _unique_email(f"{first}.{last}".lower(), rng.choice(PERSONAL_DOMAINS), used_emails)
        signed_up = rng.randrange(start, latest)
        member = account.add_member(audience, email, rng.choices(statuses, weights)[0],
                                    {"FNAME": first, "LNAME": last}, timestamp=signed_up)
        member.last_changed = rng.randrange(signed_up, latest + 1)
    return audience
