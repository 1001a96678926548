"""Reading Stripe customers: full reads page by page, incremental reads through events, lookups by email."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from connections.providers.errors import ProviderError
from connections.providers.stripe import STRIPE_VERSION
from connections.providers.types import FailureCategory

from .stripe_support import API, API_KEY, NOW, load, make_connection, make_provider

DAY = 24 * 3600
OWN_FIELDS = ["email", "name", "created", "balance", "address.city", "metadata.plan_tier"]
DERIVED_FIELDS = ["subscription_status", "plan", "mrr", "lifetime_revenue", "next_renewal_date", "customer_since"]


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def query(call):
    return parse_qs(urlsplit(call.request.url).query)


def paths(calls):
    return [urlsplit(call.request.url).path for call in calls]


def add_customer_pages():
    pages = [
        ({"limit": "100"}, "customers_page1.json"),
        ({"limit": "100", "starting_after": "cus_Eli05"}, "customers_page2.json"),
        ({"limit": "100", "starting_after": "cus_Cy003"}, "customers_page3.json"),
    ]
    for params, fixture in pages:
        responses.add(
            responses.GET, f"{API}/v1/customers", json=load(fixture), match=[matchers.query_param_matcher(params)]
        )


def add_billing_lists():
    responses.add(responses.GET, f"{API}/v1/subscriptions", json=load("subscriptions.json"))
    responses.add(responses.GET, f"{API}/v1/invoices", json=load("invoices_paid.json"))
    responses.add(responses.GET, f"{API}/v1/products", json=load("products.json"))


def records_by_id(pages):
    return {record.id: record for page in pages for record in page.records}


# Full reads ------------------------------------------------------------


def test_full_read_follows_pages_to_the_last(provider):
    add_customer_pages()

    pages = list(provider.read_changes("customer", ["email"]))

    assert [len(page.records) for page in pages] == [2, 2, 2]
    assert [page.has_more for page in pages] == [True, True, False]
    assert len(responses.calls) == 3
    assert query(responses.calls[1])["starting_after"] == ["cus_Eli05"]
    assert query(responses.calls[2])["starting_after"] == ["cus_Cy003"]


def test_full_read_cursors_resume_until_the_last_page(provider):
    add_customer_pages()

    cursors = [json.loads(page.cursor) for page in provider.read_changes("customer", ["email"])]

    assert cursors[0] == {"since": NOW - 300, "after": "cus_Eli05"}
    assert cursors[1] == {"since": NOW - 300, "after": "cus_Cy003"}
    assert cursors[2] == {"since": NOW - 300}


def test_full_read_sends_key_and_pinned_version(provider):
    add_customer_pages()

    list(provider.read_changes("customer", ["email"]))

    headers = responses.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Stripe-Version"] == STRIPE_VERSION


def test_full_read_emits_wire_values(provider):
    add_customer_pages()

    records = records_by_id(provider.read_changes("customer", OWN_FIELDS))

    ada = records["cus_Ada01"]
    assert ada.email == "ada@lovelace.test"
    assert ada.values["created"] == "2024-01-01T00:00:00Z"
    assert ada.values["balance"] == {"amount": 0, "currency": "usd"}
    assert ada.values["address.city"] == "London"
    assert ada.values["metadata.plan_tier"] == "pro"
    assert records["cus_Dee04"].values["balance"] == {"amount": -500, "currency": "usd"}
    assert records["cus_Cy003"].values["balance"] is None
    assert records["cus_Cy003"].values["metadata.plan_tier"] is None
    assert records["cus_Fay06"].email is None


def test_full_read_of_own_fields_skips_billing_lists(provider):
    add_customer_pages()

    list(provider.read_changes("customer", OWN_FIELDS))

    assert set(paths(responses.calls)) == {"/v1/customers"}


def test_full_read_joins_billing_lists_in_memory(provider):
    add_customer_pages()
    add_billing_lists()

    records = records_by_id(provider.read_changes("customer", ["email", *DERIVED_FIELDS]))

    assert sorted(paths(responses.calls)) == sorted(
        ["/v1/customers"] * 3 + ["/v1/subscriptions", "/v1/invoices", "/v1/products"]
    )
    ada = records["cus_Ada01"].values
    assert ada["subscription_status"] == "active"
    assert ada["plan"] == "Team, Seats (yearly)"
    # 2 × 25.00 a month + 3 × 120.00 a year = 80.00 a month.
    assert ada["mrr"] == {"amount": 8000, "currency": "usd"}
    # The EUR invoice is left out of a USD customer's lifetime revenue.
    assert ada["lifetime_revenue"] == {"amount": 46000, "currency": "usd"}
    assert ada["next_renewal_date"] == "2025-01-01"
    assert ada["customer_since"] == "2024-01-01"


def test_full_read_derives_zero_decimal_and_empty_billing(provider):
    add_customer_pages()
    add_billing_lists()

    records = records_by_id(provider.read_changes("customer", DERIVED_FIELDS))

    bo = records["cus_Bo002"].values
    assert bo["subscription_status"] == "trialing"
    assert bo["mrr"] == {"amount": 3000, "currency": "jpy"}
    assert bo["lifetime_revenue"] == {"amount": 0, "currency": "jpy"}
    assert bo["next_renewal_date"] == "2025-01-05"
    cy = records["cus_Cy003"].values
    assert cy["subscription_status"] is None
    assert cy["plan"] is None
    assert cy["mrr"] is None
    assert cy["lifetime_revenue"] is None
    assert records["cus_Dee04"].values["mrr"] == {"amount": 0, "currency": "usd"}


def test_full_read_takes_expanded_objects_and_legacy_plans(provider):
    add_customer_pages()
    subscriptions = load("subscriptions.json")
    for subscription in subscriptions["data"]:
        subscription["customer"] = {"id": subscription["customer"], "object": "customer"}
        for item in subscription["items"]["data"]:
            # API versions before 2018-02 put the price under `plan`, with `amount` and `interval`.
            price = item.pop("price")
            item["plan"] = {
                "id": price["id"],
                "object": "plan",
                "nickname": None,
                "amount": price["unit_amount"],
                "interval": price["recurring"]["interval"],
                "interval_count": price["recurring"]["interval_count"],
                "product": {"id": price["product"], "object": "product", "name": f"Product {price['product']}"},
            }
    invoices = load("invoices_paid.json")
    for invoice in invoices["data"]:
        invoice["customer"] = {"id": invoice["customer"], "object": "customer"}
    responses.add(responses.GET, f"{API}/v1/subscriptions", json=subscriptions)
    responses.add(responses.GET, f"{API}/v1/invoices", json=invoices)
    responses.add(responses.GET, f"{API}/v1/products", json=load("products.json"))

    ada = records_by_id(provider.read_changes("customer", DERIVED_FIELDS))["cus_Ada01"].values

    assert ada["subscription_status"] == "active"
    assert ada["plan"] == "Product prod_Team, Product prod_Seats"
    assert ada["mrr"] == {"amount": 8000, "currency": "usd"}
    assert ada["lifetime_revenue"] == {"amount": 46000, "currency": "usd"}


def test_billing_page_of_unexpected_shape_stops_the_read(provider):
    add_customer_pages()
    invoices = load("invoices_paid.json")
    invoices["data"][1]["amount_paid"] = "5000"
    responses.add(responses.GET, f"{API}/v1/invoices", json=invoices)

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("customer", ["lifetime_revenue"]))

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert raised.value.message.startswith(
        "Stripe sent a response in an unexpected shape: Expected `int | null`, got `str` - at `$.data[1].amount_paid`."
    )


def test_billing_lists_are_paged_with_status_filters(provider):
    add_customer_pages()
    first = load("subscriptions.json")
    first["has_more"] = True
    responses.add(
        responses.GET,
        f"{API}/v1/subscriptions",
        json=first,
        match=[matchers.query_param_matcher({"status": "all", "limit": "100"})],
    )
    responses.add(
        responses.GET,
        f"{API}/v1/subscriptions",
        json={"object": "list", "url": "/v1/subscriptions", "has_more": False, "data": []},
        match=[matchers.query_param_matcher({"status": "all", "limit": "100", "starting_after": "sub_Bo1Trial"})],
    )
    responses.add(
        responses.GET,
        f"{API}/v1/invoices",
        json=load("invoices_paid.json"),
        match=[matchers.query_param_matcher({"status": "paid", "limit": "100"})],
    )

    records = records_by_id(provider.read_changes("customer", ["subscription_status", "lifetime_revenue"]))

    assert paths(responses.calls).count("/v1/subscriptions") == 2
    assert records["cus_Ada01"].values["subscription_status"] == "active"


def test_resumed_full_read_starts_after_stored_customer(provider):
    responses.add(
        responses.GET,
        f"{API}/v1/customers",
        json=load("customers_page3.json"),
        match=[matchers.query_param_matcher({"limit": "100", "starting_after": "cus_Cy003"})],
    )
    cursor = json.dumps({"since": NOW - DAY, "after": "cus_Cy003"})

    pages = list(provider.read_changes("customer", ["email"], cursor))

    assert [record.id for record in pages[0].records] == ["cus_Bo002", "cus_Ada01"]
    assert json.loads(pages[-1].cursor) == {"since": NOW - DAY}


def test_resume_after_deleted_customer_reads_from_start(provider):
    responses.add(
        responses.GET,
        f"{API}/v1/customers",
        status=400,
        json=load("error_no_such_customer.json"),
        match=[matchers.query_param_matcher({"limit": "100", "starting_after": "cus_Gone99"})],
    )
    add_customer_pages()
    cursor = json.dumps({"since": NOW - DAY, "after": "cus_Gone99"})

    pages = list(provider.read_changes("customer", ["email"], cursor))

    assert sum(len(page.records) for page in pages) == 6


def test_unreadable_cursor_reads_everything(provider):
    add_customer_pages()

    pages = list(provider.read_changes("customer", ["email"], "not a cursor"))

    assert sum(len(page.records) for page in pages) == 6


def test_unknown_field_is_rejected_before_any_call(provider):
    with pytest.raises(ValueError, match="no field shoe_size"):
        list(provider.read_changes("customer", ["email", "shoe_size"]))

    assert len(responses.calls) == 0


# Incremental reads through events ---------------------------------------


def add_events_and_customers():
    responses.add(responses.GET, f"{API}/v1/events", json=load("events.json"))
    responses.add(responses.GET, f"{API}/v1/customers/cus_Ada01", json=load("customer_ada_updated.json"))
    responses.add(responses.GET, f"{API}/v1/customers/cus_Bo002", json=load("customer_bo.json"))
    responses.add(
        responses.GET,
        f"{API}/v1/subscriptions",
        json=load("subscriptions_bo.json"),
        match=[matchers.query_param_matcher({"customer": "cus_Bo002"}, strict_match=False)],
    )
    responses.add(
        responses.GET,
        f"{API}/v1/subscriptions",
        json={"object": "list", "url": "/v1/subscriptions", "has_more": False, "data": []},
        match=[matchers.query_param_matcher({"customer": "cus_Ada01"}, strict_match=False)],
    )


def test_incremental_read_fetches_customers_named_by_events(provider):
    add_events_and_customers()
    cursor = json.dumps({"since": NOW - DAY, "event": "evt_0Older"})

    pages = list(provider.read_changes("customer", ["email", "name", "subscription_status"], cursor))

    events_call = responses.calls[0]
    assert urlsplit(events_call.request.url).path == "/v1/events"
    assert query(events_call)["created[gte]"] == [str(NOW - DAY)]
    assert "customer.deleted" in query(events_call)["types[]"]
    assert "customer.subscription.updated" in query(events_call)["types[]"]
    assert "/v1/customers" not in paths(responses.calls)
    records = records_by_id(pages)
    assert records["cus_Ada01"].values["name"] == "Ada King"
    assert records["cus_Ada01"].updated_at == "2024-12-04T11:40:00Z"
    assert records["cus_Bo002"].values["subscription_status"] == "active"


def test_incremental_read_lists_billing_per_changed_customer(provider):
    add_events_and_customers()
    cursor = json.dumps({"since": NOW - DAY})

    list(provider.read_changes("customer", ["subscription_status"], cursor))

    subscription_queries = [query(call) for call in responses.calls if "/v1/subscriptions" in call.request.url]
    assert [q["customer"] for q in subscription_queries] == [["cus_Ada01"], ["cus_Bo002"]]
    assert all(q["status"] == ["all"] for q in subscription_queries)


def test_customer_deleted_event_yields_deleted_record(provider):
    add_events_and_customers()
    cursor = json.dumps({"since": NOW - DAY})

    records = records_by_id(provider.read_changes("customer", ["email", "name"], cursor))

    olga = records["cus_Olga07"]
    assert olga.deleted is True
    assert olga.values == {}
    assert olga.email == "olga@example.test"
    assert "/v1/customers/cus_Olga07" not in paths(responses.calls)
    assert records["cus_Ada01"].deleted is False


def test_incremental_read_stores_new_cursor_on_last_page(provider):
    add_events_and_customers()
    cursor = json.dumps({"since": NOW - DAY})

    pages = list(provider.read_changes("customer", ["email"], cursor))

    assert json.loads(pages[-1].cursor) == {"since": NOW - 300, "event": "evt_3Newest"}
    assert pages[-1].has_more is False


def test_incremental_read_of_own_fields_asks_only_customer_events(provider):
    add_events_and_customers()

    list(provider.read_changes("customer", ["email"], json.dumps({"since": NOW - DAY})))

    assert query(responses.calls[0])["types[]"] == ["customer.created", "customer.updated", "customer.deleted"]


def test_incremental_read_without_events_advances_cursor(provider):
    responses.add(responses.GET, f"{API}/v1/events", json={"object": "list", "url": "/v1/events", "has_more": False, "data": []})

    pages = list(provider.read_changes("customer", ["email"], json.dumps({"since": NOW - DAY, "event": "evt_0Older"})))

    assert len(pages) == 1
    assert pages[0].records == []
    assert json.loads(pages[0].cursor) == {"since": NOW - 300, "event": "evt_0Older"}


def test_cursor_older_than_event_window_reads_everything(provider):
    add_customer_pages()
    cursor = json.dumps({"since": NOW - 31 * DAY, "event": "evt_0Older"})

    pages = list(provider.read_changes("customer", ["email"], cursor))

    assert "/v1/events" not in paths(responses.calls)
    assert sum(len(page.records) for page in pages) == 6


# Fields ----------------------------------------------------------------


def test_list_fields_discovers_metadata_keys(provider):
    responses.add(responses.GET, f"{API}/v1/customers", json=load("customers_sample.json"))

    fields = {spec.name: spec for spec in provider.list_fields("customer")}

    assert fields["metadata.plan_tier"].max_length == 500
    assert fields["metadata.plan_tier"].writable is True
    assert "metadata.hubspot_id" in fields
    assert fields["mrr"].derived is True
    assert fields["mrr"].writable is False
    assert fields["created"].writable is False
    assert "past_due" in fields["subscription_status"].options


def test_list_fields_rejects_unknown_object(provider):
    with pytest.raises(ValueError, match="no object 'invoice'"):
        provider.list_fields("invoice")


# Lookup by email --------------------------------------------------------


def test_lookup_matches_letter_case_and_keeps_duplicates(provider):
    responses.add(responses.GET, f"{API}/v1/customers/search", json=load("search_customers.json"))

    found = provider.lookup_by_email(
        "customer", ["ann.lee@example.test", "sam@example.test", "zed@example.test"], ["email", "name"]
    )

    assert query(responses.calls[0])["query"] == [
        "email:'ann.lee@example.test' OR email:'sam@example.test' OR email:'zed@example.test'"
    ]
    assert [record.id for record in found["ann.lee@example.test"]] == ["cus_Mix01"]
    assert [record.id for record in found["sam@example.test"]] == ["cus_Dup01", "cus_Dup02"]
    assert found["zed@example.test"] == []


def test_lookup_sends_ten_emails_per_search(provider):
    empty = {"object": "search_result", "url": "/v1/customers/search", "has_more": False, "next_page": None, "data": []}
    responses.add(responses.GET, f"{API}/v1/customers/search", json=empty)
    emails = [f"user{number}@example.test" for number in range(12)]

    provider.lookup_by_email("customer", emails, ["email"])

    assert len(responses.calls) == 2
    assert query(responses.calls[0])["query"][0].count(" OR ") == 9
    assert query(responses.calls[1])["query"][0].count(" OR ") == 1


def test_lookup_escapes_quotes_in_emails(provider):
    empty = {"object": "search_result", "url": "/v1/customers/search", "has_more": False, "next_page": None, "data": []}
    responses.add(responses.GET, f"{API}/v1/customers/search", json=empty)

    provider.lookup_by_email("customer", ["o'neil@example.test"], ["email"])

    assert query(responses.calls[0])["query"] == ["email:'o\\'neil@example.test'"]


def test_lookup_follows_search_pages(provider):
    first = load("search_customers.json")
    first.update(has_more=True, next_page="page_Inv3nted2")
    second = {
        "object": "search_result",
        "url": "/v1/customers/search",
        "has_more": False,
        "next_page": None,
        "data": [load("customer_bo.json") | {"id": "cus_Dup03", "email": "Sam@Example.test"}],
    }
    responses.add(
        responses.GET,
        f"{API}/v1/customers/search",
        json=first,
        match=[matchers.query_param_matcher({"limit": "100", "query": "email:'sam@example.test'"})],
    )
    responses.add(
        responses.GET,
        f"{API}/v1/customers/search",
        json=second,
        match=[matchers.query_param_matcher({"page": "page_Inv3nted2"}, strict_match=False)],
    )

    found = provider.lookup_by_email("customer", ["sam@example.test"], ["email"])

    assert [record.id for record in found["sam@example.test"]] == ["cus_Dup01", "cus_Dup02", "cus_Dup03"]
    assert query(responses.calls[1])["page"] == ["page_Inv3nted2"]


def test_lookup_derives_billing_for_found_customers_only(provider):
    responses.add(responses.GET, f"{API}/v1/customers/search", json=load("search_customers.json"))
    responses.add(responses.GET, f"{API}/v1/subscriptions", json={"object": "list", "url": "/v1/subscriptions", "has_more": False, "data": []})

    provider.lookup_by_email("customer", ["ann.lee@example.test"], ["subscription_status"])

    subscription_calls = [call for call in responses.calls if "/v1/subscriptions" in call.request.url]
    assert [query(call)["customer"] for call in subscription_calls] == [["cus_Mix01"]]
