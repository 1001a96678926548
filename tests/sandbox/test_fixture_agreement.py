"""
The providers' test payloads and the sandbox's responses agree on shape.

Provider tests mock each tool with hand-kept JSON fixtures; the demo, the
end-to-end tests and the benchmark talk to the sandbox. Both stand for the
same real API, so every field a fixture has must also be in the sandbox's
response for the same request, at the same place and with a compatible
type. Otherwise a provider could pass its tests and fail against the
sandbox, or the other way round.
"""

import base64
import json
from pathlib import Path

import pytest
import requests

from sandbox.state import (
    DEMO_HUBSPOT_TOKEN,
    DEMO_MAILCHIMP_API_KEY,
    DEMO_MAILCHIMP_LIST,
    DEMO_STRIPE_SECRET_KEY,
    DEMO_ZENDESK_AGENT,
    DEMO_ZENDESK_API_TOKEN,
)
from tests.sandbox_mock import SANDBOX_URL, mock_sandbox

FIXTURES = Path(__file__).resolve().parent.parent / "providers" / "fixtures"

ZENDESK_BASIC = base64.b64encode(f"{DEMO_ZENDESK_AGENT}/token:{DEMO_ZENDESK_API_TOKEN}".encode()).decode()
MAILCHIMP_BASIC = base64.b64encode(f"oneprofile:{DEMO_MAILCHIMP_API_KEY}".encode()).decode()
AUTH = {
    "stripe": {"Authorization": f"Bearer {DEMO_STRIPE_SECRET_KEY}"},
    "hubspot": {"Authorization": f"Bearer {DEMO_HUBSPOT_TOKEN}"},
    "zendesk": {"Authorization": f"Basic {ZENDESK_BASIC}"},
    "mailchimp": {"Authorization": f"Basic {MAILCHIMP_BASIC}"},
}

# The contact properties the HubSpot provider reads when a sync maps firstname and plan_tier.
HUBSPOT_PROPERTIES = ["email", "hs_additional_emails", "lastmodifieddate", "firstname", "plan_tier"]

# (fixture, tool, method, path and query, JSON body). Each request is the one
# the provider sends to get the response its fixture records.
CASES = [
    ("stripe/account.json", "stripe", "GET", "/v1/account", None),
    ("stripe/customers_page1.json", "stripe", "GET", "/v1/customers?limit=3", None),
    ("stripe/subscriptions.json", "stripe", "GET", "/v1/subscriptions?status=all&limit=3", None),
    ("stripe/invoices_paid.json", "stripe", "GET", "/v1/invoices?status=paid&limit=3", None),
    ("stripe/products.json", "stripe", "GET", "/v1/products?limit=3", None),
    (
        "stripe/events.json",
        "stripe",
        "GET",
        "/v1/events?limit=3&types[]=customer.created&types[]=customer.updated",
        None,
    ),
    ("stripe/error_no_such_customer.json", "stripe", "GET", "/v1/customers/cus_missing", None),
    ("hubspot/account_details.json", "hubspot", "GET", "/account-info/v3/details", None),
    (
        "hubspot/contacts_page1.json",
        "hubspot",
        "GET",
        f"/crm/v3/objects/contacts?limit=3&properties={','.join(HUBSPOT_PROPERTIES)}",
        None,
    ),
    ("hubspot/properties_contacts.json", "hubspot", "GET", "/crm/v3/properties/contacts", None),
    (
        "hubspot/search_changes.json",
        "hubspot",
        "POST",
        "/crm/v3/objects/contacts/search",
        {
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": HUBSPOT_PROPERTIES,
            "limit": 3,
        },
    ),
    ("hubspot/error_not_found.json", "hubspot", "GET", "/crm/v3/objects/contacts/999999999", None),
    ("zendesk/users_me.json", "zendesk", "GET", "/api/v2/users/me.json", None),
    ("zendesk/users_export_page1.json", "zendesk", "GET", "/api/v2/incremental/users/cursor.json?start_time=0", None),
    # Zendesk returns offset pagination (next_page, count) for a list requested
    # without page[...] parameters, but the provider always requests cursor pagination.
    ("zendesk/user_fields.json", "zendesk", "GET", "/api/v2/user_fields.json?page[size]=100", None),
    ("zendesk/tickets_export_all.json", "zendesk", "GET", "/api/v2/incremental/tickets/cursor.json?start_time=0", None),
    ("zendesk/users_search_empty.json", "zendesk", "GET", "/api/v2/users/search.json?query=email:nobody@example.test", None),
    ("zendesk/error_not_found.json", "zendesk", "GET", "/api/v2/users/999999999.json", None),
    ("mailchimp/root.json", "mailchimp", "GET", "/3.0/", None),
    ("mailchimp/lists_page1.json", "mailchimp", "GET", "/3.0/lists?count=3", None),
    ("mailchimp/members_page1.json", "mailchimp", "GET", f"/3.0/lists/{DEMO_MAILCHIMP_LIST}/members?count=3", None),
    ("mailchimp/merge_fields.json", "mailchimp", "GET", f"/3.0/lists/{DEMO_MAILCHIMP_LIST}/merge-fields?count=100", None),
    ("mailchimp/error_not_found.json", "mailchimp", "GET", f"/3.0/lists/{DEMO_MAILCHIMP_LIST}/members/0000", None),
]


# Fields a fixture has that the real API doesn't return, with the reason.
# The sandbox follows the real API here, so these fixtures need fixing.
def kind(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def mismatches(expected, actual, path="$"):
    """List the places where `actual` lacks a field of `expected` or holds another type there."""
    problems = []
    if kind(expected) is None or kind(actual) is None:
        return problems
    if kind(expected) != kind(actual):
        return [f"{path}: fixture has {kind(expected)}, sandbox has {kind(actual)}"]
    if isinstance(expected, dict):
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing in the sandbox's response")
            else:
                problems += mismatches(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and not actual:
        problems.append(f"{path}: fixture has items, sandbox has none to compare")
    elif isinstance(expected, list) and expected:
        problems += mismatches(expected[0], actual[0], f"{path}[0]")
    return problems


@pytest.fixture
def sandbox(db):
    server = mock_sandbox(customers=20, contacts=20, seed=3)
    # The events fixture starts with the customer.updated event of a sync
    # writing plan_tier and hubspot_id to a customer's metadata.
    customer = next(customer for customer in server.state.stripe_account().customers.values() if customer.email)
    response = requests.post(
        f"{SANDBOX_URL}/stripe/v1/customers/{customer.id}",
        headers=AUTH["stripe"],
        data={"metadata[plan_tier]": "enterprise", "metadata[hubspot_id]": "4001"},
        timeout=5,
    )
    response.raise_for_status()
    return server


@pytest.mark.parametrize("fixture, tool, method, path, body", CASES, ids=[case[0] for case in CASES])
def test_sandbox_response_has_fixture_shape(sandbox, fixture, tool, method, path, body):
    expected = json.loads((FIXTURES / fixture).read_text())

    response = requests.request(method, f"{SANDBOX_URL}/{tool}{path}", headers=AUTH[tool], json=body, timeout=5)
    problems = mismatches(expected, response.json())

    assert response.status_code < 500, response.text
    assert problems == []
