"""
Check the Stripe fixture payloads against Stripe's OpenAPI description.

The description is Stripe's published spec3 for API version 2023-08-16,
kept beside the repository in ../shared/apispecs/stripe. The fixtures have
the shapes of the pinned, newer version, so the few fields that version
dropped are removed from `required` before validating. The test skips when
the description is absent.
"""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from .stripe_support import FIXTURES

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared" / "apispecs" / "stripe"
SPEC_FILE = SPEC_DIR / "spec3.sync-subset.json"

# Fields required in 2023-08-16 that later API versions removed: the
# current period moved to subscription items and invoices lost `paid`,
# `paid_out_of_band` and `total_tax_amounts` in 2025-03-31; products
# replaced `features` with `marketing_features`.
DROPPED_SINCE_SPEC = {
    "subscription": {"current_period_end", "current_period_start"},
    "invoice": {"paid", "paid_out_of_band", "total_tax_amounts"},
    "product": {"features"},
}


def response_schema(path, method="get"):
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}/responses/200/content/application~1json/schema"


FIXTURE_SCHEMAS = {
    "customers_page1.json": response_schema("/v1/customers"),
    "customers_page2.json": response_schema("/v1/customers"),
    "customers_page3.json": response_schema("/v1/customers"),
    "customers_sample.json": response_schema("/v1/customers"),
    "customer_ada_updated.json": response_schema("/v1/customers/{customer}"),
    "customer_ada_written.json": response_schema("/v1/customers/{customer}"),
    "customer_bo.json": response_schema("/v1/customers/{customer}"),
    "customer_created.json": response_schema("/v1/customers/{customer}"),
    "search_customers.json": response_schema("/v1/customers/search"),
    "subscriptions.json": response_schema("/v1/subscriptions"),
    "subscriptions_bo.json": response_schema("/v1/subscriptions"),
    "invoices_paid.json": response_schema("/v1/invoices"),
    "products.json": response_schema("/v1/products"),
    "events.json": response_schema("/v1/events"),
    "account.json": "#/components/schemas/account",
    **{path.name: "#/components/schemas/error" for path in FIXTURES.glob("error_*.json")},
}


def to_json_schema(node):
    """Return an OpenAPI 3.0 schema node as JSON Schema: `nullable: true` also admits null."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if not node.get("nullable"):
        return converted
    if "enum" in converted and None not in converted["enum"]:
        converted["enum"] = [*converted["enum"], None]
    if isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}


@pytest.fixture(scope="module")
def spec():
    if not SPEC_FILE.exists():
        pytest.skip(f"Stripe's OpenAPI description is not at {SPEC_FILE}")
    document = to_json_schema(json.loads(SPEC_FILE.read_text()))
    schemas = document["components"]["schemas"]
    for name, fields in DROPPED_SINCE_SPEC.items():
        schemas[name]["required"] = [field for field in schemas[name]["required"] if field not in fields]
    return {"components": document["components"], "paths": document["paths"]}


def test_every_stripe_api_fixture_has_a_schema():
    api_fixtures = {path.name for path in FIXTURES.glob("*.json") if not path.name.startswith("oauth_")}

    assert api_fixtures == set(FIXTURE_SCHEMAS)


@pytest.mark.parametrize("fixture", sorted(FIXTURE_SCHEMAS))
def test_fixture_matches_stripe_schema(spec, fixture):
    validator = Draft202012Validator({**spec, "$ref": FIXTURE_SCHEMAS[fixture]})
    payload = json.loads((FIXTURES / fixture).read_text())

    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(payload)]

    assert errors == []
