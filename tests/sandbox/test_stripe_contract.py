"""
Check the sandbox's Stripe responses against Stripe's own OpenAPI description and fixtures.

Responses requested with `Stripe-Version: 2023-08-16` must validate against
the schemas of that version's OpenAPI file. Responses in the default
(current) version must have the same fields as Stripe's current fixtures.
"""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sandbox.server import SandboxServer
from tests.sandbox import stripe_session

pytestmark = pytest.mark.live_http

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(REPO_ROOT).parent / "shared" / "apispecs" / "stripe"
SPEC_VERSION = "2023-08-16"
OPENAPI_ONLY_KEYS = {"nullable", "discriminator", "example", "externalDocs", "xml"}


def openapi_to_json_schema(node):
    """
    Translate an OpenAPI 3.0 schema into JSON Schema (2020-12).

    OpenAPI writes "may be null" as `nullable: true` beside the type, which
    JSON Schema spells as a `"null"` type (or a null alternative for `$ref`
    and `anyOf` schemas). Vendor extensions (`x-...`) are dropped.
    """
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: openapi_to_json_schema(value)
        for key, value in node.items()
        if key not in OPENAPI_ONLY_KEYS and not key.startswith("x-")
    }
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
    path = SPEC_DIR / "spec3.sync-subset.json"
    if not path.exists():
        pytest.skip("Stripe's OpenAPI description is not available at ../shared/apispecs/stripe")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def fixtures():
    path = SPEC_DIR / "fixtures3.json"
    if not path.exists():
        pytest.skip("Stripe's OpenAPI description is not available at ../shared/apispecs/stripe")
    return json.loads(path.read_text())["resources"]


@pytest.fixture(scope="module")
def components(spec):
    return openapi_to_json_schema(spec["components"])


def validate(components, schema, instance):
    root = {**openapi_to_json_schema(schema), "components": components}
    errors = sorted(Draft202012Validator(root).iter_errors(instance), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors[:10])


def validate_component(components, name, instance):
    validate(components, {"$ref": f"#/components/schemas/{name}"}, instance)


def response_schema(spec, path):
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.fixture(scope="module")
def sandbox():
    server = SandboxServer(rate_limits=False, seed=11, customers=60, contacts=5)
    account = server.state.stripe_account()
    customer = next(c for c in account.customers.values() if c.email)
    account.update_customer(customer.id, {"metadata": {"plan": "pro"}, "name": "Contract Check"})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def legacy(sandbox):
    session = stripe_session()
    session.headers["Stripe-Version"] = SPEC_VERSION
    session.base = f"{sandbox.url}/stripe/v1"
    return session


@pytest.fixture
def current(sandbox):
    session = stripe_session()
    session.base = f"{sandbox.url}/stripe/v1"
    return session


LIST_PATHS = ["/v1/customers", "/v1/subscriptions", "/v1/invoices", "/v1/prices", "/v1/products", "/v1/events"]


@pytest.mark.parametrize("path", LIST_PATHS)
def test_list_response_matches_spec(spec, components, legacy, path):
    body = legacy.get(f"{legacy.base}{path.removeprefix('/v1')}", params={"limit": 100}).json()
    assert body["data"]
    validate(components, response_schema(spec, path), body)


def test_customer_list_with_subscriptions_matches_spec(spec, components, legacy):
    body = legacy.get(f"{legacy.base}/customers", params={"limit": 100, "expand[]": "data.subscriptions"}).json()
    validate(components, response_schema(spec, "/v1/customers"), body)


def test_customer_search_matches_spec(spec, components, legacy):
    body = legacy.get(f"{legacy.base}/customers/search", params={"query": "metadata['plan']:'pro'"}).json()
    assert body["data"]
    validate(components, response_schema(spec, "/v1/customers/search"), body)


@pytest.mark.parametrize(("path", "component"), [
    ("customers", "customer"),
    ("subscriptions", "subscription"),
    ("invoices", "invoice"),
    ("prices", "price"),
    ("products", "product"),
    ("events", "event"),
])
def test_retrieved_object_matches_spec(components, legacy, path, component):
    first = legacy.get(f"{legacy.base}/{path}", params={"limit": 1}).json()["data"][0]
    body = legacy.get(f"{legacy.base}/{path}/{first['id']}").json()
    validate_component(components, component, body)


def test_event_objects_match_their_schemas(components, legacy):
    events = legacy.get(f"{legacy.base}/events", params={"limit": 100}).json()["data"]
    kinds = {"customer": "customer", "subscription": "subscription", "invoice": "invoice"}
    checked = 0
    for event in events:
        component = kinds.get(event["data"]["object"]["object"])
        if component:
            validate_component(components, component, event["data"]["object"])
            checked += 1
    assert checked


def test_deleted_customer_matches_spec(components, legacy, sandbox):
    customer = sandbox.state.stripe_account().create_customer(email="gone@example.test")
    body = legacy.delete(f"{legacy.base}/customers/{customer.id}").json()
    validate_component(components, "deleted_customer", body)


def test_error_body_matches_spec(components, legacy):
    body = legacy.get(f"{legacy.base}/customers/cus_nothing").json()
    validate_component(components, "error", body)


@pytest.mark.parametrize(("path", "resource"), [
    ("customers", "customer"),
    ("subscriptions", "subscription"),
    ("invoices", "invoice"),
    ("prices", "price"),
    ("products", "product"),
    ("events", "event"),
])
def test_current_shape_has_fixture_fields(fixtures, current, path, resource):
    body = current.get(f"{current.base}/{path}", params={"limit": 1}).json()["data"][0]
    assert set(body) == set(fixtures[resource])


def test_account_has_fixture_fields(fixtures, current):
    body = current.get(f"{current.base}/account").json()
    assert set(body) == set(fixtures["account"])
