"""HubSpot field discovery, full listing, incremental search windows, archived records and lookup by email."""

import json

import pytest
import responses

from connections.providers.errors import ProviderError
from connections.providers.hubspot.reading import ReadCursor
from connections.providers.types import FailureCategory, FieldType
from tests.providers.hubspot_support import API, calls_to, create_connection, load, make_provider, sent_json

CONTACTS = f"{API}/crm/v3/objects/contacts"
SEARCH = f"{CONTACTS}/search"
DEC_4_MS = 1733270400000  # 2024-12-04T00:00:00Z


@pytest.fixture
def provider(workspace):
    return make_provider(create_connection(workspace))


# Fields -------------------------------------------------------------------


@pytest.fixture
def fields(provider):
    responses.add(responses.GET, f"{API}/crm/v3/properties/contacts", json=load("properties_contacts"))
    return {spec.name: spec for spec in provider.list_fields("contact")}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("firstname", FieldType.STRING),
        ("phone", FieldType.STRING),
        ("notes_about", FieldType.STRING),
        ("email", FieldType.EMAIL),
        ("num_seats", FieldType.NUMBER),
        ("customer_since", FieldType.DATE),
        ("stripe_created_at", FieldType.DATETIME),
        ("is_vip", FieldType.BOOLEAN),
        ("plan_tier", FieldType.ENUMERATION),
        ("region", FieldType.ENUMERATION),
        ("interests", FieldType.MULTI_SELECT),
    ],
)
def test_list_fields_maps_property_types(fields, name, expected):
    assert fields[name].type == expected


def test_list_fields_options_exclude_hidden(fields):
    assert fields["plan_tier"].options == {"pro": "Pro", "starter": "Starter"}


def test_list_fields_read_only_and_calculated_not_writable(fields):
    assert fields["lastmodifieddate"].writable is False
    assert fields["hs_lifetime_value"].writable is False
    assert fields["plan_tier"].writable is True


def test_list_fields_string_limit_and_archived_skipped(fields):
    assert fields["firstname"].max_length == 65_536
    assert fields["num_seats"].max_length is None
    assert "old_score" not in fields


def test_list_fields_fetched_once_per_provider(provider, fields):
    provider.list_fields("contact")

    assert len(calls_to("/crm/v3/properties/contacts")) == 1


def test_unknown_object_rejected(provider):
    with pytest.raises(ValueError, match="use one of contact, company"):
        provider.list_fields("deal")


# Full listing -------------------------------------------------------------


def test_first_read_lists_every_page_by_property_name(provider):
    responses.add(
        responses.GET, CONTACTS, json=load("contacts_page1"), headers={"Date": "Wed, 04 Dec 2024 00:00:00 GMT"}
    )
    responses.add(responses.GET, CONTACTS, json=load("contacts_page2"))

    pages = list(provider.read_changes("contact", ["firstname", "plan_tier"]))

    first, second = calls_to("/crm/v3/objects/contacts")
    assert first.request.params == {
        "limit": "100",
        "properties": "email,hs_additional_emails,lastmodifieddate,firstname,plan_tier",
        "archived": "false",
    }
    assert second.request.params["after"] == "103"
    assert [record.id for page in pages for record in page.records] == ["101", "102", "103"]
    assert [page.has_more for page in pages] == [True, False]
    assert json.loads(pages[-1].cursor) == {"modified_ms": DEC_4_MS, "ids": []}


def test_first_read_records_carry_emails_values_and_time(provider):
    responses.add(responses.GET, CONTACTS, json=load("contacts_page2") | {"results": load("contacts_page1")["results"]})

    page = next(provider.read_changes("contact", ["firstname", "plan_tier"]))

    ben = page.records[1]
    assert ben.email == "Ben@Example.com"
    assert ben.secondary_emails == ("ben.work@example.com", "ben@old.example.com")
    assert ben.values == {"firstname": "Ben", "plan_tier": "starter"}
    assert ben.updated_at == "2024-12-02T11:30:00.000Z"


def test_interrupted_listing_resumes_after_stored_page(provider):
    responses.add(responses.GET, CONTACTS, json=load("contacts_page2"))
    cursor = ReadCursor(list_after="103", since_ms=DEC_4_MS).dumps()

    pages = list(provider.read_changes("contact", ["firstname"], cursor))

    assert responses.calls[0].request.params["after"] == "103"
    assert json.loads(pages[-1].cursor) == {"modified_ms": DEC_4_MS, "ids": []}


# Incremental search -------------------------------------------------------


def test_incremental_read_searches_modified_since_cursor(provider):
    responses.add(responses.POST, SEARCH, json=load("search_changes"))

    pages = list(provider.read_changes("contact", ["firstname"], str(DEC_4_MS)))

    assert sent_json(responses.calls[0]) == {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(DEC_4_MS)}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "hs_additional_emails", "lastmodifieddate", "firstname"],
        "limit": 200,
    }
    assert [record.id for record in pages[0].records] == ["201", "202", "203"]
    assert json.loads(pages[0].cursor) == {"modified_ms": 1733304600500, "ids": ["203"]}


def test_incremental_read_skips_ids_handled_at_cursor_time(provider):
    responses.add(responses.POST, SEARCH, json=load("search_changes"))
    cursor = json.dumps({"modified_ms": DEC_4_MS, "ids": ["201"]})

    page = next(provider.read_changes("contact", ["firstname"], cursor))

    assert [record.id for record in page.records] == ["202", "203"]


def test_company_changes_use_hs_lastmodifieddate(provider):
    responses.add(responses.POST, f"{API}/crm/v3/objects/companies/search", json=load("search_empty"))

    list(provider.read_changes("company", ["name"], str(DEC_4_MS)))

    query = sent_json(responses.calls[0])
    assert query["filterGroups"][0]["filters"][0]["propertyName"] == "hs_lastmodifieddate"
    assert query["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]


def changes_search(total, start_ms, same_time_every=1):
    """Return a search callback over `total` contacts modified 1 ms apart (or in groups), paged by `after`."""

    def reply(request):
        query = json.loads(request.body)
        since = int(query["filterGroups"][0]["filters"][0]["value"])
        matching = [
            index for index in range(total) if start_ms + index // same_time_every >= since
        ]
        offset = int(query.get("after", 0))
        if offset >= 10_000:
            return 400, {}, json.dumps(load("error_search_past_limit"))
        chunk = matching[offset : offset + query["limit"]]
        body = {
            "total": len(matching),
            "results": [
                {
                    "id": str(1000 + index),
                    "properties": {
                        "email": f"c{index}@example.com",
                        "lastmodifieddate": f"{start_ms + index // same_time_every}",
                    },
                    "createdAt": "2024-12-01T00:00:00.000Z",
                    "updatedAt": "2024-12-01T00:00:00.000Z",
                    "archived": False,
                }
                for index in chunk
            ],
        }
        if offset + len(chunk) < len(matching):
            body["paging"] = {"next": {"after": str(offset + len(chunk))}}
        return 200, {}, json.dumps(body)

    return reply


def test_incremental_read_opens_new_window_before_10000_results(provider):
    responses.add_callback(responses.POST, SEARCH, callback=changes_search(10_050, DEC_4_MS))

    pages = list(provider.read_changes("contact", [], str(DEC_4_MS)))

    ids = [record.id for page in pages for record in page.records]
    queries = [sent_json(call) for call in calls_to("/crm/v3/objects/contacts/search")]
    window_two = queries[50]
    assert len(ids) == 10_050
    assert len(set(ids)) == 10_050
    assert "after" not in window_two
    assert window_two["filterGroups"][0]["filters"][0]["value"] == str(DEC_4_MS + 9_999)
    assert max(int(query.get("after", 0)) for query in queries) < 10_000
    assert json.loads(pages[-1].cursor) == {"modified_ms": DEC_4_MS + 10_049, "ids": ["11049"]}


def test_new_window_skips_records_at_boundary_time(provider):
    # Pairs of contacts share a modification time, so the first window ends inside a pair.
    responses.add_callback(responses.POST, SEARCH, callback=changes_search(10_001, DEC_4_MS, same_time_every=2))

    pages = list(provider.read_changes("contact", [], str(DEC_4_MS)))

    ids = [record.id for page in pages for record in page.records]
    assert len(ids) == 10_001
    assert len(set(ids)) == 10_001


def test_window_of_one_millisecond_stops_with_clear_error(provider):
    responses.add_callback(responses.POST, SEARCH, callback=changes_search(10_200, DEC_4_MS, same_time_every=20_000))

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("contact", [], str(DEC_4_MS)))

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert "share the modification time 2024-12-04T00:00:00.000Z" in raised.value.message


def test_search_requests_paced_to_four_in_any_second(provider):
    # 1,000 changes are five pages of 200: four searches go at once, the fifth waits.
    responses.add_callback(responses.POST, SEARCH, callback=changes_search(1000, DEC_4_MS))

    list(provider.read_changes("contact", [], str(DEC_4_MS)))

    assert len(responses.calls) == 5
    assert len(provider.sleeps) == 1
    assert 0 < provider.sleeps[0] <= 1.0


def test_unreadable_cursor_rejected(provider):
    with pytest.raises(ValueError, match="Reset the sync's cursor"):
        next(provider.read_changes("contact", [], "not-a-cursor"))


def test_archived_records_listed_as_deleted(provider):
    responses.add(responses.GET, CONTACTS, json=load("contacts_archived"))

    page = next(provider.read_archived("contact", ["firstname"]))

    assert responses.calls[0].request.params["archived"] == "true"
    assert [record.id for record in page.records] == ["3000"]
    assert page.records[0].deleted is True


# Lookup by email ----------------------------------------------------------


def test_lookup_by_email_uses_primary_then_secondary(provider):
    responses.add(responses.POST, f"{CONTACTS}/batch/read", status=207, json=load("batch_read_by_email"))
    responses.add(responses.POST, SEARCH, json=load("search_secondary_emails"))

    found = provider.lookup_by_email("contact", [" Gus@Example.com", "erin@example.com", "HAL@example.com"], ["firstname"])

    batch_read = sent_json(calls_to("/crm/v3/objects/contacts/batch/read")[0])
    searches = calls_to("/crm/v3/objects/contacts/search")
    search = sent_json(searches[0])
    # Two unknown emails take one search, too few to probe for an index.
    assert len(searches) == 1
    assert batch_read["idProperty"] == "email"
    assert batch_read["inputs"] == [{"id": "gus@example.com"}, {"id": "erin@example.com"}, {"id": "hal@example.com"}]
    assert batch_read["properties"] == ["email", "hs_additional_emails", "lastmodifieddate", "firstname"]
    assert search["filterGroups"] == [
        {"filters": [{"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": "erin@example.com"}]},
        {"filters": [{"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": "hal@example.com"}]},
    ]
    assert [record.id for record in found["gus@example.com"]] == ["301"]
    assert [record.id for record in found["erin@example.com"]] == ["401", "402"]
    assert "hal@example.com" not in found


def test_lookup_by_email_batches_of_100(provider):
    responses.add(responses.POST, f"{CONTACTS}/batch/read", json={"status": "COMPLETE", "results": []})
    responses.add(responses.POST, SEARCH, json=load("search_empty"))
    emails = [f"person{number}@example.com" for number in range(150)]

    provider.lookup_by_email("contact", emails, [])

    sizes = [len(sent_json(call)["inputs"]) for call in calls_to("/crm/v3/objects/contacts/batch/read")]
    groups = [len(sent_json(call)["filterGroups"]) for call in calls_to("/crm/v3/objects/contacts/search")]
    assert sizes == [100, 50]
    # 100 unknown emails would take 20 searches, so one probe comes first: it
    # finds no contact with an additional email, and nothing more is searched.
    assert groups == [1]


def test_lookup_by_email_for_companies_rejected(provider):
    with pytest.raises(ProviderError, match="no email property"):
        provider.lookup_by_email("company", ["a@example.com"], [])


def test_lookup_by_email_indexes_additional_emails_once_cheaper(provider):
    responses.add(responses.POST, f"{CONTACTS}/batch/read", json={"status": "COMPLETE", "results": []})
    responses.add(
        responses.POST,
        SEARCH,
        json={
            "total": 1,
            "results": [{"id": "77", "properties": {"email": "main@example.com", "hs_additional_emails": "Person60@example.com;other@example.com"}}],
        },
    )
    emails = [f"person{number}@example.com" for number in range(100)]

    found = provider.lookup_by_email("contact", emails, [])

    searches = [sent_json(call) for call in calls_to("/crm/v3/objects/contacts/search")]
    # A probe of one result, then the index's one page, instead of 20 searches of five emails.
    assert [search["limit"] for search in searches] == [1, 200]
    assert [record.id for record in found["person60@example.com"]] == ["77"]
    assert searches[-1]["filterGroups"] == [{"filters": [{"propertyName": "hs_additional_emails", "operator": "HAS_PROPERTY"}]}]


def test_lookup_by_email_searches_unknown_emails_together(provider):
    unknown = {f"person{number}@example.com" for number in range(5, 300, 20)}

    def batch_read(request):
        inputs = [item["id"] for item in json.loads(request.body)["inputs"]]
        results = [
            {"id": str(1000 + index), "properties": {"email": email}}
            for index, email in enumerate(inputs)
            if email not in unknown
        ]
        return 200, {}, json.dumps({"status": "COMPLETE", "results": results})

    responses.add_callback(responses.POST, f"{CONTACTS}/batch/read", callback=batch_read)
    responses.add(responses.POST, SEARCH, json={"total": 0, "results": []})
    emails = [f"person{number}@example.com" for number in range(300)]

    found = provider.lookup_by_email("contact", emails, [])

    # Fifteen unknown emails, five in each batch read, are three searches of
    # five together, so a probe for the additional-email index comes first
    # and finds none. Batch by batch, they would have cost two searches more.
    searches = [sent_json(call) for call in calls_to("/crm/v3/objects/contacts/search")]
    assert [search["limit"] for search in searches] == [1]
    assert len(calls_to("/crm/v3/objects/contacts/batch/read")) == 3
    assert len(found) == 285
