import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from sandbox.stripe_objects import prerender
from tests.sandbox import stripe_session

pytestmark = pytest.mark.live_http


@pytest.fixture(scope="module")
def sandbox():
    server = SandboxServer(rate_limits=False, seed=7, customers=250, contacts=20)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stripe(sandbox):
    session = stripe_session()
    session.base = f"{sandbox.url}/stripe"
    return session


@pytest.fixture
def account(sandbox):
    return sandbox.state.stripe_account()


def test_customer_list_pages_to_the_last_page(stripe, account):
    seen, starting_after, pages = [], None, 0
    while True:
        params = {"limit": 100, **({"starting_after": starting_after} if starting_after else {})}
        page = stripe.get(f"{stripe.base}/v1/customers", params=params).json()
        pages += 1
        seen += [customer["id"] for customer in page["data"]]
        if not page["has_more"]:
            break
        starting_after = page["data"][-1]["id"]
    assert len(seen) == len(account.customers)
    assert len(set(seen)) == len(seen)
    assert pages == -(-len(account.customers) // 100)
    created = [account.customers.get(i).created for i in seen]
    assert created == sorted(created, reverse=True)


def test_customer_list_ending_before_returns_newer_page(stripe):
    first = stripe.get(f"{stripe.base}/v1/customers", params={"limit": 5}).json()["data"]
    second = stripe.get(f"{stripe.base}/v1/customers", params={"limit": 5, "starting_after": first[-1]["id"]}).json()
    back = stripe.get(f"{stripe.base}/v1/customers", params={"limit": 5, "ending_before": second["data"][0]["id"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first]
    assert back["has_more"] is False
    assert second["url"] == "/v1/customers"


def test_customer_list_expands_subscriptions(stripe, account):
    page = stripe.get(f"{stripe.base}/v1/customers", params={"limit": 100, "expand[]": "data.subscriptions"}).json()
    with_subscription = [c for c in page["data"] if c["subscriptions"]["data"]]
    assert with_subscription
    assert with_subscription[0]["subscriptions"]["data"][0]["customer"] == with_subscription[0]["id"]


def test_customer_list_rejects_limit_over_100(stripe):
    response = stripe.get(f"{stripe.base}/v1/customers", params={"limit": 101})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_unknown_customer_is_404_resource_missing(stripe):
    response = stripe.get(f"{stripe.base}/v1/customers/cus_missing")
    error = response.json()["error"]
    assert response.status_code == 404
    assert error["code"] == "resource_missing"
    assert error["message"] == "No such customer: 'cus_missing'"
    assert error["type"] == "invalid_request_error"


def test_bad_key_is_401(sandbox):
    response = requests.get(f"{sandbox.url}/stripe/v1/customers", headers={"Authorization": "Bearer sk_test_wrong"})
    assert response.status_code == 401
    assert "Invalid API Key" in response.json()["error"]["message"]


def test_basic_auth_with_key_as_user_is_accepted(sandbox):
    response = requests.get(f"{sandbox.url}/stripe/v1/customers", auth=("sk_test_sandbox_demo", ""))
    assert response.status_code == 200


def test_search_matches_email_exactly_and_metadata(stripe, account):
    customer = next(c for c in account.customers.values() if c.email)
    account.update_customer(customer.id, {"metadata": {"hubspot_contact_id": "9001"}})
    by_email = stripe.get(f"{stripe.base}/v1/customers/search", params={"query": f"email:'{customer.email}'"}).json()
    by_metadata = stripe.get(
        f"{stripe.base}/v1/customers/search", params={"query": "metadata['hubspot_contact_id']:'9001'"}
    ).json()
    partial = stripe.get(f"{stripe.base}/v1/customers/search", params={"query": f"email:'{customer.email[:-1]}'"}).json()
    assert [c["id"] for c in by_email["data"]] == [customer.id]
    assert by_email["object"] == "search_result"
    assert [c["id"] for c in by_metadata["data"]] == [customer.id]
    assert partial["data"] == []


def test_search_pages_with_next_page(stripe, account):
    query = {"query": "created>0", "limit": 100}
    first = stripe.get(f"{stripe.base}/v1/customers/search", params=query).json()
    ids = [c["id"] for c in first["data"]]
    page = first
    while page["has_more"]:
        page = stripe.get(f"{stripe.base}/v1/customers/search", params={**query, "page": page["next_page"]}).json()
        ids += [c["id"] for c in page["data"]]
    assert len(ids) == len(account.customers)
    assert page["next_page"] is None


def test_search_rejects_mixed_and_or(stripe):
    response = stripe.get(f"{stripe.base}/v1/customers/search", params={"query": "name:'a' AND name:'b' OR name:'c'"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "query"


def test_update_customer_records_event_with_previous_attributes(stripe, account):
    customer = next(c for c in account.customers.values() if c.name)
    old_name = customer.name
    response = stripe.post(f"{stripe.base}/v1/customers/{customer.id}", data={"name": "Renamed Person"})
    events = stripe.get(f"{stripe.base}/v1/events", params={"type": "customer.updated", "limit": 1}).json()["data"]
    assert response.status_code == 200
    assert account.customers.get(customer.id).name == "Renamed Person"
    assert events[0]["data"]["object"]["id"] == customer.id
    assert events[0]["data"]["previous_attributes"] == {"name": old_name}
    assert events[0]["request"]["id"] == response.headers["Request-Id"]


def test_metadata_empty_value_deletes_key(stripe, account):
    customer = account.create_customer(email="meta@example.test", metadata={"keep": "1", "drop": "2"})
    body = stripe.post(f"{stripe.base}/v1/customers/{customer.id}", data={"metadata[drop]": ""}).json()
    assert body["metadata"] == {"keep": "1"}
    assert account.customers.get(customer.id).metadata == {"keep": "1"}


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"metadata[" + "k" * 41 + "]": "v"}, "metadata[" + "k" * 41 + "]"),
        ({"metadata[note]": "v" * 501}, "metadata[note]"),
        ({"metadata[note][nested]": "v"}, "metadata[note]"),
        ({"email": "not-an-email"}, "email"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_invalid_customer_update_is_400_and_changes_nothing(stripe, account, data, param):
    customer = account.create_customer(email="valid@example.test", metadata={"a": "1"})
    response = stripe.post(f"{stripe.base}/v1/customers/{customer.id}", data=data)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert account.customers.get(customer.id).metadata == {"a": "1"}
    assert account.customers.get(customer.id).email == "valid@example.test"


def test_metadata_over_50_keys_is_rejected(stripe, account):
    customer = account.create_customer(metadata={f"k{i}": "v" for i in range(50)})
    response = stripe.post(f"{stripe.base}/v1/customers/{customer.id}", data={"metadata[one_more]": "v"})
    assert response.status_code == 400
    assert len(account.customers.get(customer.id).metadata) == 50


def test_delete_customer_returns_deleted_and_records_event(stripe, account):
    customer = account.create_customer(email="leaving@example.test")
    response = stripe.delete(f"{stripe.base}/v1/customers/{customer.id}")
    events = stripe.get(f"{stripe.base}/v1/events", params={"types[]": "customer.deleted", "limit": 1}).json()["data"]
    assert response.json() == {"id": customer.id, "object": "customer", "deleted": True}
    assert customer.id not in account.customers
    assert events[0]["data"]["object"]["id"] == customer.id


def test_events_since_a_time_list_only_later_changes(stripe, account):
    cutoff = account.now() + 1
    account.clock.advance(2)
    customer = account.create_customer(email="late@example.test")
    account.update_customer(customer.id, {"email": "later@example.test"})
    response = stripe.get(f"{stripe.base}/v1/events", params={"created[gte]": cutoff, "type": "customer.*"}).json()
    assert [event["type"] for event in response["data"]] == ["customer.updated", "customer.created"]
    assert response["data"][0]["data"]["previous_attributes"] == {"email": "late@example.test"}


def test_events_older_than_30_days_are_dropped():
    state = SandboxState()
    account = state.add_stripe_account("acct_retention", "Retention Ltd", "billing@retention.example.test")
    account.create_customer(email="old@example.test")
    account.clock.advance(31 * 86400)
    account.prune_events()
    assert account.events_of_type("customer.created") == []


def test_subscription_change_emits_event_and_status_filter(stripe, account):
    subscription = next(s for s in account.subscriptions.values() if s.status == "active")
    account.update_subscription(subscription.id, status="past_due")
    past_due = stripe.get(f"{stripe.base}/v1/subscriptions", params={"status": "past_due", "limit": 100}).json()
    default = stripe.get(f"{stripe.base}/v1/subscriptions", params={"limit": 100, "customer": subscription.customer}).json()
    event = stripe.get(f"{stripe.base}/v1/events", params={"type": "customer.subscription.updated", "limit": 1}).json()
    assert subscription.id in [s["id"] for s in past_due["data"]]
    assert all(s["status"] == "past_due" for s in past_due["data"])
    assert [s["id"] for s in default["data"]] == [subscription.id]
    assert event["data"][0]["data"]["previous_attributes"] == {"status": "active"}


def test_listed_subscription_shows_a_later_change(stripe, account):
    subscription = next(s for s in account.subscriptions.values() if s.status == "active")
    params = {"customer": subscription.customer, "status": "all"}

    def listed():
        page = stripe.get(f"{stripe.base}/v1/subscriptions", params=params).json()
        return next(s for s in page["data"] if s["id"] == subscription.id)

    before = listed()
    account.update_subscription(subscription.id, quantity=subscription.quantity + 1)
    after = listed()

    assert after["items"]["data"][0]["quantity"] == before["items"]["data"][0]["quantity"] + 1
    assert after == listed()


def test_listed_customer_shows_a_change_through_the_api(stripe, account):
    customer = next(c for c in account.customers.values() if c.email)

    def listed():
        page = stripe.get(f"{stripe.base}/v1/customers", params={"email": customer.email}).json()
        return next(c for c in page["data"] if c["id"] == customer.id)

    listed()
    stripe.post(f"{stripe.base}/v1/customers/{customer.id}", data={"name": "Renamed Customer"})

    assert listed()["name"] == "Renamed Customer"


def test_prerendered_list_pages_equal_fresh_ones(stripe, account):
    def pages():
        return [
            stripe.get(f"{stripe.base}/v1/{path}", params={"limit": 100, **extra}).json()
            for path, extra in (("customers", {}), ("subscriptions", {"status": "all"}), ("invoices", {}))
        ]

    account.rendered.clear()
    fresh = pages()
    account.rendered.clear()
    prerender(account)

    assert pages() == fresh
    assert len(account.rendered) == len(account.customers) + len(account.subscriptions) + len(account.invoices)


def test_subscription_list_excludes_canceled_unless_all(stripe, account):
    default = stripe.get(f"{stripe.base}/v1/subscriptions", params={"limit": 100}).json()["data"]
    everything = []
    page = {"has_more": True, "data": []}
    params = {"limit": 100, "status": "all"}
    while page["has_more"]:
        page = stripe.get(f"{stripe.base}/v1/subscriptions", params=params).json()
        everything += page["data"]
        params["starting_after"] = page["data"][-1]["id"] if page["data"] else None
    assert all(s["status"] != "canceled" for s in default)
    assert any(s["status"] == "canceled" for s in everything)
    assert len(everything) == len(account.subscriptions)


def test_invoice_list_filters_by_customer_and_status(stripe, account):
    invoice = next(i for i in account.invoices.values() if i.status == "paid")
    body = stripe.get(f"{stripe.base}/v1/invoices", params={"customer": invoice.customer, "status": "paid"}).json()
    assert invoice.id in [i["id"] for i in body["data"]]
    assert {i["customer"] for i in body["data"]} == {invoice.customer}


def test_idempotency_key_replays_same_request(stripe, account):
    headers = {"Idempotency-Key": "create-once"}
    first = stripe.post(f"{stripe.base}/v1/customers", data={"email": "once@example.test"}, headers=headers)
    second = stripe.post(f"{stripe.base}/v1/customers", data={"email": "once@example.test"}, headers=headers)
    stored = [c for c in account.customers.values() if c.email == "once@example.test"]
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(stored) == 1


def test_idempotency_key_with_other_body_is_rejected(stripe):
    headers = {"Idempotency-Key": "create-twice"}
    stripe.post(f"{stripe.base}/v1/customers", data={"email": "a@example.test"}, headers=headers)
    response = stripe.post(f"{stripe.base}/v1/customers", data={"email": "b@example.test"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"


def test_restricted_key_cannot_read_without_permission(sandbox):
    sandbox.state.stripe_keys["rk_test_sandbox_demo"].permissions.pop("invoices")
    headers = {"Authorization": "Bearer rk_test_sandbox_demo"}
    denied = requests.get(f"{sandbox.url}/stripe/v1/invoices", headers=headers)
    allowed = requests.get(f"{sandbox.url}/stripe/v1/customers", headers=headers)
    sandbox.state.stripe_keys["rk_test_sandbox_demo"].permissions["invoices"] = "read"
    assert denied.status_code == 403
    assert allowed.status_code == 200


def test_counters_count_requests_by_kind(stripe, sandbox):
    sandbox.state.counters.reset()
    stripe.get(f"{stripe.base}/v1/customers")
    stripe.get(f"{stripe.base}/v1/customers/search", params={"query": "name:'Nobody'"})
    stripe.post(f"{stripe.base}/v1/customers", data={"name": "Counted"})
    counters = sandbox.state.counters
    assert counters.count("stripe", kind="read") == 1
    assert counters.count("stripe", kind="search") == 1
    assert counters.count("stripe", kind="write") == 1
    assert counters.count("stripe", endpoint="GET /v1/customers") == 1


def test_customer_list_email_filter_is_case_sensitive(stripe, account):
    customer = account.create_customer(email="Exact.Case@example.test")
    exact = stripe.get(f"{stripe.base}/v1/customers", params={"email": "Exact.Case@example.test"}).json()
    lower = stripe.get(f"{stripe.base}/v1/customers", params={"email": "exact.case@example.test"}).json()
    assert [c["id"] for c in exact["data"]] == [customer.id]
    assert lower["data"] == []


def test_older_api_version_renders_legacy_fields(stripe):
    legacy = stripe.get(f"{stripe.base}/v1/subscriptions", params={"limit": 1}, headers={"Stripe-Version": "2023-08-16"})
    current = stripe.get(f"{stripe.base}/v1/subscriptions", params={"limit": 1})
    assert "current_period_end" in legacy.json()["data"][0]
    assert "current_period_end" not in current.json()["data"][0]
    assert "current_period_end" in current.json()["data"][0]["items"]["data"][0]
