"""
The baseline: the Stripe → HubSpot script a team writes by hand, for comparison with the engine.

For each Stripe customer (listed 100 a page), it searches HubSpot for the
email (POST /crm/v3/objects/contacts/search with one EQ filter). For a
customer that has a contact, it lists that customer's subscriptions and paid
invoices, computes the same five values the engine syncs, and sets all five
with one PATCH /crm/v3/objects/contacts/{id}, whether they changed or not.

Choices that favour the baseline, so the comparison is not inflated:
- billing is fetched only for customers that have a contact, after the search;
- all five properties go in one PATCH, not one request each;
- a customer without an email costs no request.
Like most such scripts it matches the primary email only, compares nothing
before writing, and keeps no state between runs, so every run costs the same.
It backs off one second on a 429 and logs other failures and goes on.
"""

import datetime
import logging
import time

import requests

from syncs.demo import HUBSPOT_TOKEN, PLAN_VALUE_MAP

logger = logging.getLogger(__name__)

STRIPE_SECRET_KEY = "sk_test_sandbox_demo"
PAGE_SIZE = 100
RATE_LIMIT_PAUSE_SECONDS = 1.0
MAX_ATTEMPTS = 5
# Statuses whose subscriptions count towards MRR.
BILLING_STATUSES = ("active", "trialing", "past_due")


class BaselineScript:
    """One pass of the hand-written sync over the sandbox at `sandbox_url`."""

    def __init__(self, sandbox_url, limit=None):
        self.stripe_url = f"{sandbox_url}/stripe"
        self.hubspot_url = f"{sandbox_url}/hubspot"
        self.limit = limit
        self.session = requests.Session()
        self.counts = {"customers": 0, "no_email": 0, "not_found": 0, "updated": 0, "failed": 0, "rate_limited": 0}

    def run(self):
        """Sync every customer (or the first `limit`), and return the counts."""
        for customer in self.customers():
            self.counts["customers"] += 1
            self.sync_customer(customer)
        return dict(self.counts)

    # Stripe ------------------------------------------------------------

    def stripe_get(self, path, params):
        return self.send("GET", f"{self.stripe_url}{path}", params=params, headers={"Authorization": f"Bearer {STRIPE_SECRET_KEY}"})

    def stripe_list(self, path, params):
        params = {**params, "limit": PAGE_SIZE}
        while True:
            body = self.stripe_get(path, params).json()
            yield from body["data"]
            if not body["has_more"] or not body["data"]:
                return
            params["starting_after"] = body["data"][-1]["id"]

    def customers(self):
        for number, customer in enumerate(self.stripe_list("/v1/customers", {})):
            if self.limit is not None and number >= self.limit:
                return
            yield customer

    # HubSpot -----------------------------------------------------------

    def hubspot(self, method, path, payload):
        return self.send(
            method, f"{self.hubspot_url}{path}", json=payload, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
        )

    def find_contact(self, email):
        query = {
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
            "properties": ["email"],
            "limit": 1,
        }
        results = self.hubspot("POST", "/crm/v3/objects/contacts/search", query).json().get("results") or []
        return results[0]["id"] if results else None

    # One customer ------------------------------------------------------

    def sync_customer(self, customer):
        email = customer.get("email")
        if not email:
            self.counts["no_email"] += 1
            return
        contact_id = self.find_contact(email)
        if contact_id is None:
            self.counts["not_found"] += 1
            return
        subscriptions = list(self.stripe_list("/v1/subscriptions", {"customer": customer["id"], "status": "all"}))
        invoices = list(self.stripe_list("/v1/invoices", {"customer": customer["id"], "status": "paid"}))
        properties = contact_properties(customer, subscriptions, invoices)
        response = self.hubspot("PATCH", f"/crm/v3/objects/contacts/{contact_id}", {"properties": properties})
        if response.ok:
            self.counts["updated"] += 1
        else:
            self.counts["failed"] += 1

    def send(self, method, url, **kwargs):
        """Send a request, waiting a second and trying again after a 429; return the last response."""
        for _ in range(MAX_ATTEMPTS):
            response = self.session.request(method, url, timeout=60, **kwargs)
            if response.status_code != 429:
                break
            self.counts["rate_limited"] += 1
            time.sleep(RATE_LIMIT_PAUSE_SECONDS)
        if response.status_code >= 400 and response.status_code != 429:
            logger.debug("Baseline %s %s returned %s", method, url.split("?")[0], response.status_code)
        return response


def contact_properties(customer, subscriptions, invoices):
    """Compute the five HubSpot properties of one customer, the simple way."""
    newest = max(subscriptions, key=lambda subscription: subscription["created"], default=None)
    properties = {
        "subscription_status": newest["status"] if newest else "",
        "plan_tier": "",
        "mrr": "0",
        "lifetime_revenue": money(sum(invoice.get("amount_paid") or 0 for invoice in invoices)),
        "customer_since": midnight_ms(customer["created"]),
    }
    if newest:
        price = newest["items"]["data"][0]["price"]
        properties["plan_tier"] = PLAN_VALUE_MAP.get(price.get("nickname"), "")
    monthly = 0
    for subscription in subscriptions:
        if subscription["status"] not in BILLING_STATUSES:
            continue
        for item in subscription["items"]["data"]:
            price = item["price"]
            months = 12 if price["recurring"]["interval"] == "year" else 1
            monthly += price["unit_amount"] * (item.get("quantity") or 1) / months
    properties["mrr"] = money(round(monthly))
    return properties


def money(cents):
    return f"{cents / 100:.2f}"


def midnight_ms(timestamp):
    """Return a HubSpot date value: midnight UTC of the day, in milliseconds."""
    day = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).date()
    return str(int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp()) * 1000)
