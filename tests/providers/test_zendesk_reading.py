"""Reading Zendesk: the users export across cursors, organizations, ticket facts, fields and lookups by email."""

import json

import pytest
import responses
from responses import matchers

from connections.providers.types import FieldType
from syncs.engine.matching import MatchKind, match_batch

from .zendesk_support import API, calls_to, load, make_connection, make_provider, query

EXPORT_URL = f"{API}/api/v2/incremental/users/cursor.json"
TICKETS_URL = f"{API}/api/v2/incremental/tickets/cursor.json"
FIRST_AFTER = "MTczMzMxMjAwMC4wfHw1MDJ8"
LAST_AFTER = "MTczMzMxMjEwMC4wfHw1MDR8"
TICKETS_AFTER = "dGlja2V0czE3MzMzMTIxMDA"
DERIVED = ["ticket_count", "open_ticket_count", "last_ticket_date"]


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def add_user_export():
    responses.add(
        responses.GET, EXPORT_URL, json=load("users_export_page1"),
        match=[matchers.query_param_matcher({"start_time": "0", "per_page": "1000"})],
    )
    responses.add(
        responses.GET, EXPORT_URL, json=load("users_export_page2"),
        match=[matchers.query_param_matcher({"cursor": FIRST_AFTER, "per_page": "1000"})],
    )


def records_by_id(pages):
    return {record.id: record for page in pages for record in page.records}


# Users export ---------------------------------------------------------------


def test_export_follows_cursor_until_end_of_stream(provider):
    add_user_export()

    pages = list(provider.read_changes("user", ["email"]))

    assert [len(page.records) for page in pages] == [2, 2]
    assert [page.has_more for page in pages] == [True, False]
    assert len(responses.calls) == 2


def test_export_pages_carry_resumable_cursors(provider):
    add_user_export()

    cursors = [json.loads(page.cursor) for page in provider.read_changes("user", ["email"])]

    assert cursors == [{"after": FIRST_AFTER}, {"after": LAST_AFTER}]


def test_export_resumes_from_stored_cursor(provider):
    responses.add(
        responses.GET, EXPORT_URL, json=load("users_export_empty"),
        match=[matchers.query_param_matcher({"cursor": LAST_AFTER, "per_page": "1000"})],
    )

    pages = list(provider.read_changes("user", ["email"], json.dumps({"after": LAST_AFTER})))

    assert pages[0].records == []
    assert json.loads(pages[0].cursor) == {"after": LAST_AFTER}


def test_unreadable_cursor_reads_everything(provider):
    add_user_export()

    pages = list(provider.read_changes("user", ["email"], "not-json"))

    assert query(responses.calls[0])["start_time"] == ["0"]
    assert len(pages) == 2


def test_export_reads_standard_and_custom_values(provider):
    add_user_export()

    fields = ["name", "phone", "tags", "organization_id", "user_fields.plan_tier", "user_fields.seats", "user_fields.renewal_date"]
    gina = records_by_id(provider.read_changes("user", fields))["502"]

    assert gina.email == "gina@example.com"
    assert gina.updated_at == "2024-12-04T10:05:00Z"
    assert gina.values == {
        "name": "Gina Roe",
        "phone": "+44 20 7946 0001",
        "tags": ["vip", "beta"],
        "organization_id": 8801,
        "user_fields.plan_tier": "pro",
        "user_fields.seats": 12,
        "user_fields.renewal_date": "2025-03-01",
    }


def test_deactivated_user_is_read_as_deleted(provider):
    add_user_export()

    records = records_by_id(provider.read_changes("user", ["email"]))

    assert records["503"].deleted is True
    assert records["504"].deleted is False


def test_user_without_email_is_a_missing_email_match(provider):
    add_user_export()

    records = [record for page in provider.read_changes("user", ["email"]) for record in page.records]
    results = {result.source.id: result for result in match_batch(records, {})}

    assert records[0].email == ""
    assert results["501"].kind == MatchKind.MISSING_EMAIL
    assert results["502"].kind == MatchKind.UNMATCHED


def test_unknown_field_rejected_before_any_request(provider):
    with pytest.raises(ValueError, match="no field mrr_total"):
        list(provider.read_changes("user", ["email", "mrr_total"]))

    assert len(responses.calls) == 0


# Ticket facts ----------------------------------------------------------------


def test_full_read_counts_tickets_from_one_export(provider):
    add_user_export()
    responses.add(
        responses.GET, TICKETS_URL, json=load("tickets_export_all"),
        match=[matchers.query_param_matcher({"start_time": "0", "per_page": "1000"})],
    )

    records = records_by_id(provider.read_changes("user", ["email", *DERIVED]))

    assert records["502"].values == {"email": "gina@example.com", "ticket_count": 3, "open_ticket_count": 2, "last_ticket_date": "2024-11-28"}
    assert records["504"].values["ticket_count"] == 1
    assert records["504"].values["open_ticket_count"] == 0
    assert records["501"].values["ticket_count"] == 0
    assert records["501"].values["last_ticket_date"] is None


def test_full_read_makes_no_request_per_user(provider):
    add_user_export()
    responses.add(responses.GET, TICKETS_URL, json=load("tickets_export_all"))

    list(provider.read_changes("user", ["email", *DERIVED]))

    assert len(calls_to("/api/v2/incremental/tickets/cursor.json")) == 1
    assert len(responses.calls) == 3


def test_full_read_stores_ticket_cursor_on_last_page(provider):
    add_user_export()
    responses.add(responses.GET, TICKETS_URL, json=load("tickets_export_all"))

    cursors = [json.loads(page.cursor) for page in provider.read_changes("user", ["email", *DERIVED])]

    assert cursors[-1] == {"after": LAST_AFTER, "tickets": TICKETS_AFTER}


def test_ticket_change_rereads_its_requester(provider):
    stored = json.dumps({"after": LAST_AFTER, "tickets": TICKETS_AFTER})
    responses.add(
        responses.GET, TICKETS_URL, json=load("tickets_export_changed"),
        match=[matchers.query_param_matcher({"cursor": TICKETS_AFTER, "per_page": "1000"})],
    )
    responses.add(responses.GET, EXPORT_URL, json=load("users_export_empty"))
    responses.add(
        responses.GET, f"{API}/api/v2/users/show_many.json", json=load("users_show_many_777"),
        match=[matchers.query_param_matcher({"ids": "777"})],
    )
    responses.add(responses.GET, f"{API}/api/v2/search.json", json=load("search_tickets_777"))

    pages = list(provider.read_changes("user", ["email", *DERIVED], stored))

    kai = records_by_id(pages)["777"]
    assert kai.values == {"email": "kai@example.com", "ticket_count": 2, "open_ticket_count": 1, "last_ticket_date": "2024-12-04"}
    assert query(calls_to("/api/v2/search.json")[0])["query"] == ["type:ticket requester_id:777"]


def test_ticket_cursor_advances_only_on_last_page(provider):
    stored = json.dumps({"after": LAST_AFTER, "tickets": TICKETS_AFTER})
    responses.add(responses.GET, TICKETS_URL, json=load("tickets_export_changed"))
    responses.add(responses.GET, EXPORT_URL, json=load("users_export_empty"))
    responses.add(responses.GET, f"{API}/api/v2/users/show_many.json", json=load("users_show_many_777"))
    responses.add(responses.GET, f"{API}/api/v2/search.json", json=load("search_tickets_777"))

    pages = list(provider.read_changes("user", ["email", *DERIVED], stored))

    assert [page.has_more for page in pages] == [True, False]
    assert json.loads(pages[0].cursor)["tickets"] == TICKETS_AFTER
    assert json.loads(pages[1].cursor)["tickets"] == "dGlja2V0czE3MzMzMTU3MDA"


def test_requester_with_many_tickets_counts_open_by_search(provider):
    many = {**load("search_tickets_777"), "count": 340}
    responses.add(responses.GET, f"{API}/api/v2/search.json", json=many)
    responses.add(responses.GET, f"{API}/api/v2/search/count.json", json={"count": 7})

    values = provider.ticket_values(["777"])["777"]

    assert values["ticket_count"] == 340
    assert values["open_ticket_count"] == 7
    assert query(calls_to("/api/v2/search/count.json")[0])["query"] == ["type:ticket requester_id:777 status<solved"]


def test_many_changed_users_count_from_one_export(provider):
    responses.add(responses.GET, TICKETS_URL, json=load("tickets_export_all"))
    user_ids = [str(number) for number in range(1000, 1030)]

    values = provider.ticket_values(user_ids)

    assert len(values) == 30
    assert len(calls_to("/api/v2/search.json")) == 0
    assert len(calls_to("/api/v2/incremental/tickets/cursor.json")) == 1


# Fields ------------------------------------------------------------------------


def test_list_fields_maps_custom_field_types(provider):
    responses.add(responses.GET, f"{API}/api/v2/user_fields.json", json=load("user_fields"))

    specs = {spec.name: spec for spec in provider.list_fields("user")}

    assert specs["user_fields.plan_tier"].type == FieldType.ENUMERATION
    assert specs["user_fields.plan_tier"].options == {"starter": "Starter", "pro": "Pro"}
    assert specs["user_fields.seats"].type == FieldType.NUMBER
    assert specs["user_fields.renewal_date"].type == FieldType.DATE
    assert specs["user_fields.beta_opt_in"].type == FieldType.BOOLEAN
    assert specs["user_fields.interests"].type == FieldType.MULTI_SELECT
    assert specs["user_fields.account_manager"].writable is False
    assert "^[A-Z]{2}" in specs["user_fields.vat_number"].description
    assert "user_fields.old_segment" not in specs


def test_list_fields_includes_standard_and_derived(provider):
    responses.add(responses.GET, f"{API}/api/v2/user_fields.json", json=load("user_fields"))

    specs = {spec.name: spec for spec in provider.list_fields("user")}

    assert specs["tags"].type == FieldType.MULTI_SELECT
    assert specs["role"].writable is False
    assert specs["ticket_count"].derived is True
    assert specs["last_ticket_date"].type == FieldType.DATE
    assert query(responses.calls[0])["page[size]"] == ["100"]


# Organizations -------------------------------------------------------------------


def organization_pages(request):
    """Return GET /organizations.json responses like Zendesk with 12,000 organizations, 100 a page, by cursor."""
    params = dict(pair.split("=", 1) for pair in request.url.split("?", 1)[1].split("&"))
    assert "page" not in params
    page = int(params.get("page%5Bafter%5D", "p0")[1:])
    organizations = [{"id": page * 100 + number + 1, "name": f"Org {page * 100 + number + 1}"} for number in range(100)]
    has_more = page < 119
    body = {
        "organizations": organizations,
        "meta": {"has_more": has_more, "after_cursor": f"p{page + 1}" if has_more else None, "before_cursor": f"p{page}"},
        "links": {"next": f"{API}/api/v2/organizations.json?page[after]=p{page + 1}&page[size]=100" if has_more else None},
    }
    return 200, {}, json.dumps(body)


def test_organizations_full_read_pages_past_offset_limit(provider):
    responses.add_callback(responses.GET, f"{API}/api/v2/organizations.json", callback=organization_pages)

    pages = list(provider.read_changes("organization", ["name"]))

    assert sum(len(page.records) for page in pages) == 12000
    assert len(responses.calls) == 120
    assert all(query(call)["page[size]"] == ["100"] for call in responses.calls)
    assert all("page" not in query(call) for call in responses.calls)
    assert pages[-1].has_more is False


def test_organizations_later_read_uses_time_export(provider):
    responses.add(
        responses.GET, f"{API}/api/v2/incremental/organizations.json",
        json={"organizations": [{"id": 8801, "name": "Acme Ltd", "deleted_at": None}], "next_page": None, "end_time": 1733312340, "end_of_stream": True, "count": 1},
        match=[matchers.query_param_matcher({"start_time": "1733270400"})],
    )

    pages = list(provider.read_changes("organization", ["name"], json.dumps({"start_time": 1733270400})))

    assert pages[0].records[0].values == {"name": "Acme Ltd"}
    assert json.loads(pages[0].cursor) == {"start_time": 1733312340}


# Lookups ----------------------------------------------------------------------


def test_lookup_groups_emails_in_one_search(provider):
    responses.add(responses.GET, f"{API}/api/v2/users/search.json", json=load("users_search_group"))
    responses.add(responses.GET, f"{API}/api/v2/users/9602/identities.json", json=load("identities_9602"))

    found = provider.lookup_by_email("user", ["Ivy@Example.com ", "jon@example.com", "nobody@example.com"], ["name"])

    assert [record.id for record in found["ivy@example.com"]] == ["9601"]
    assert [record.id for record in found["jon@example.com"]] == ["9602"]
    assert found["nobody@example.com"] == []
    searches = calls_to("/api/v2/users/search.json")
    assert len(searches) == 1
    assert query(searches[0])["query"] == ["email:ivy@example.com email:jon@example.com email:nobody@example.com"]


def test_lookup_reports_secondary_email(provider):
    responses.add(responses.GET, f"{API}/api/v2/users/search.json", json=load("users_search_group"))
    responses.add(responses.GET, f"{API}/api/v2/users/9602/identities.json", json=load("identities_9602"))

    found = provider.lookup_by_email("user", ["ivy@example.com", "jon@example.com"], ["name"])

    assert found["jon@example.com"][0].secondary_emails == ("jon@example.com",)
    assert found["jon@example.com"][0].email == "jon.bell@corp.example.com"


def test_lookup_repeats_empty_group_per_email(provider):
    responses.add(
        responses.GET, f"{API}/api/v2/users/search.json", json=load("users_search_empty"),
        match=[matchers.query_param_matcher({"query": "email:ivy@example.com email:new@example.com", "per_page": "100", "page": "1"})],
    )
    responses.add(
        responses.GET, f"{API}/api/v2/users/search.json", json={"users": [load("users_search_group")["users"][0]], "next_page": None, "count": 1},
        match=[matchers.query_param_matcher({"query": "email:ivy@example.com", "per_page": "100", "page": "1"})],
    )
    responses.add(
        responses.GET, f"{API}/api/v2/users/search.json", json=load("users_search_empty"),
        match=[matchers.query_param_matcher({"query": "email:new@example.com", "per_page": "100", "page": "1"})],
    )

    found = provider.lookup_by_email("user", ["ivy@example.com", "new@example.com"], ["name"])

    assert [record.id for record in found["ivy@example.com"]] == ["9601"]
    assert found["new@example.com"] == []
    assert len(responses.calls) == 3


def test_lookup_returns_every_user_holding_an_email(provider):
    twins = {"users": [
        {"id": 9601, "name": "Ivy C.", "email": "ivy@example.com", "active": True},
        {"id": 9650, "name": "Ivy Chen", "email": "IVY@example.com", "active": True},
    ], "next_page": None, "count": 2}
    responses.add(responses.GET, f"{API}/api/v2/users/search.json", json=twins)

    found = provider.lookup_by_email("user", ["ivy@example.com"], ["name"])

    assert sorted(record.id for record in found["ivy@example.com"]) == ["9601", "9650"]


def test_lookup_of_organizations_rejected(provider):
    from connections.providers.errors import ProviderError

    with pytest.raises(ProviderError, match="have no email"):
        provider.lookup_by_email("organization", ["ivy@example.com"], ["name"])


def test_fetch_by_ids_uses_show_many(provider):
    responses.add(
        responses.GET, f"{API}/api/v2/users/show_many.json", json=load("users_show_many_777"),
        match=[matchers.query_param_matcher({"ids": "777,778"})],
    )

    records = provider.fetch_by_ids("user", ["777", "778"], ["name"])

    assert list(records) == ["777"]
    assert records["777"].values == {"name": "Kai Moss"}
