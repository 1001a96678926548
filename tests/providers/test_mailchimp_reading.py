"""Reading Mailchimp members: audiences, merge fields, changes page by page, lookups by email."""

import pytest
import responses
from responses import matchers

from connections.providers.types import FieldType

from .mailchimp_support import (
    API,
    LIST_ID,
    MEMBERS_URL,
    OBJECT,
    add_merge_fields,
    calls_to,
    load,
    make_connection,
    make_provider,
    query,
)

@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def records_by_email(pages):
    return {record.email: record for page in pages for record in page.records}


# Audiences and fields -----------------------------------------------------


def test_list_objects_pages_audiences(provider):
    responses.add(
        responses.GET,
        f"{API}/3.0/lists",
        json=load("lists_page1.json"),
        match=[matchers.query_param_matcher({"count": "1000", "offset": "0", "fields": "lists.id,lists.name,total_items"})],
    )
    responses.add(
        responses.GET,
        f"{API}/3.0/lists",
        json=load("lists_page2.json"),
        match=[matchers.query_param_matcher({"count": "1000", "offset": "2", "fields": "lists.id,lists.name,total_items"})],
    )

    objects = provider.list_objects()

    assert objects == {
        f"members:{LIST_ID}": "Audience “Newsletter” members",
        "members:9c0e7d5a11": "Audience “Customers” members",
        "members:b7e2f0c9aa": "Audience “Événements” members",
    }


def test_list_fields_maps_merge_field_types(provider):
    add_merge_fields()

    fields = {spec.name: spec for spec in provider.list_fields(OBJECT)}

    assert query(responses.calls[0])["count"] == ["1000"]
    assert fields["email_address"].type == FieldType.EMAIL
    assert fields["status"].type == FieldType.ENUMERATION
    assert set(fields["status"].options) == {"subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"}
    assert fields["tags"].type == FieldType.MULTI_SELECT
    assert fields["merge_fields.FNAME"].type == FieldType.STRING
    assert fields["merge_fields.FNAME"].max_length == 255
    assert fields["merge_fields.SEATS"].type == FieldType.NUMBER
    assert fields["merge_fields.RENEWAL"].type == FieldType.DATE
    assert "DD/MM/YYYY" in fields["merge_fields.RENEWAL"].description
    assert fields["merge_fields.BIRTHDAY"].type == FieldType.STRING
    assert "MM/DD" in fields["merge_fields.BIRTHDAY"].description
    assert fields["merge_fields.PLAN"].type == FieldType.ENUMERATION
    assert list(fields["merge_fields.PLAN"].options) == ["Starter", "Team", "Enterprise"]
    assert fields["merge_fields.ADDRESS.city"].type == FieldType.STRING
    assert "merge_fields.ADDRESS" not in fields
    assert fields["merge_fields.PHONE"].type == FieldType.STRING
    assert fields["merge_fields.WEBSITE"].type == FieldType.STRING
    assert fields["member_rating"].writable is False
    assert fields["last_changed"].type == FieldType.DATETIME
    assert fields["last_changed"].writable is False


def test_unknown_object_rejected(provider):
    with pytest.raises(ValueError, match="members:"):
        provider.list_fields("contacts")
    with pytest.raises(ValueError, match="members:"):
        provider.list_fields("members:../../lists")


# Reading changes ------------------------------------------------------------


def add_member_pages():
    for offset, fixture in ((0, "members_page1.json"), (2, "members_page2.json"), (4, "members_page3.json")):
        responses.add(
            responses.GET,
            MEMBERS_URL,
            json=load(fixture),
            match=[matchers.query_param_matcher({"offset": str(offset)}, strict_match=False)],
        )


def test_read_pages_until_total_items(provider):
    add_merge_fields()
    add_member_pages()
    provider.page_size = 3
    provider.page_overlap = 1

    pages = list(provider.read_changes(OBJECT, ["email_address", "merge_fields.FNAME"]))

    member_calls = calls_to(MEMBERS_URL)
    assert [query(call)["offset"] for call in member_calls] == [["0"], ["2"], ["4"]]
    assert all(query(call)["count"] == ["3"] for call in member_calls)
    assert [page.has_more for page in pages] == [True, True, False]
    emails = [record.email for page in pages for record in page.records]
    assert emails == [f"m{number}@example.test" for number in range(1, 8)]


def test_read_always_sends_count_and_fields(provider):
    add_merge_fields()
    responses.add(responses.GET, MEMBERS_URL, json=load("members_changed.json"))

    list(provider.read_changes(OBJECT, ["email_address"]))

    params = query(calls_to(MEMBERS_URL)[0])
    assert params["count"] == ["1000"]
    assert params["offset"] == ["0"]
    assert params["sort_field"] == ["last_changed"]
    assert params["fields"][0].startswith("members.id,members.email_address,")
    assert params["fields"][0].endswith(",total_items")
    assert "since_last_changed" not in params


def test_read_since_cursor_and_new_cursor(provider):
    add_merge_fields()
    responses.add(responses.GET, MEMBERS_URL, json=load("members_changed.json"))

    pages = list(provider.read_changes(OBJECT, ["email_address"], "2024-12-04T10:00:00+00:00"))

    assert query(calls_to(MEMBERS_URL)[0])["since_last_changed"] == ["2024-12-04T10:00:00+00:00"]
    # The read started at 11:40:00Z; the next one starts five minutes earlier.
    assert pages[-1].cursor == "2024-12-04T11:35:00+00:00"


def test_read_earlier_pages_keep_old_cursor(provider):
    add_merge_fields()
    add_member_pages()
    provider.page_size = 3
    provider.page_overlap = 1

    cursors = [page.cursor for page in provider.read_changes(OBJECT, ["email_address"], "2024-12-01T00:00:00+00:00")]

    assert cursors == ["2024-12-01T00:00:00+00:00", "2024-12-01T00:00:00+00:00", "2024-12-04T11:35:00+00:00"]


def test_read_emits_wire_values(provider):
    add_merge_fields()
    responses.add(responses.GET, MEMBERS_URL, json=load("members_changed.json"))
    names = [
        "email_address",
        "status",
        "tags",
        "merge_fields.FNAME",
        "merge_fields.ADDRESS.city",
        "merge_fields.ADDRESS.addr2",
        "merge_fields.BIRTHDAY",
        "merge_fields.RENEWAL",
        "merge_fields.SEATS",
        "merge_fields.PLAN",
        "member_rating",
        "last_changed",
        "avg_open_rate",
    ]

    records = records_by_email(provider.read_changes(OBJECT, names))

    ada = records["ada@lovelace.test"]
    assert ada.id == load("member_ada.json")["id"]
    assert ada.updated_at == "2024-12-04T10:15:00+00:00"
    assert ada.values["status"] == "subscribed"
    assert ada.values["tags"] == ["vip", "beta"]
    assert ada.values["merge_fields.FNAME"] == "Ada"
    assert ada.values["merge_fields.ADDRESS.city"] == "London"
    assert ada.values["merge_fields.ADDRESS.addr2"] is None
    assert ada.values["merge_fields.BIRTHDAY"] == "12/10"
    assert ada.values["merge_fields.RENEWAL"] == "2025-01-31"
    assert ada.values["merge_fields.SEATS"] == 12
    assert ada.values["merge_fields.PLAN"] == "Team"
    assert ada.values["member_rating"] == 4
    assert ada.values["last_changed"] == "2024-12-04T10:15:00+00:00"
    assert ada.values["avg_open_rate"] == 0.5


def test_read_marks_archived_members_deleted(provider):
    add_merge_fields()
    add_member_pages()
    provider.page_size = 3
    provider.page_overlap = 1

    records = records_by_email(provider.read_changes(OBJECT, ["email_address"]))

    assert records["m6@example.test"].deleted is True
    assert records["m5@example.test"].deleted is False


def test_read_rejects_unknown_field(provider):
    add_merge_fields()

    with pytest.raises(ValueError, match="merge_fields.NICKNAME"):
        list(provider.read_changes(OBJECT, ["merge_fields.NICKNAME"]))


# Looking up -------------------------------------------------------------------


def test_lookup_hashes_lower_cased_email(provider):
    add_merge_fields()
    # md5("alice.smith@example.com"), never the hash of the address as typed.
    responses.add(responses.GET, f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7", json=load("member_ada.json"))

    found = provider.lookup_by_email(OBJECT, ["Alice.Smith@Example.com"], ["email_address", "merge_fields.LNAME"])

    assert len(found["Alice.Smith@Example.com"]) == 1
    assert calls_to(f"{MEMBERS_URL}/5d6ccf4b00ab19d9d44b3c8ebf1d06ad") == []
    assert len(calls_to(f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7")) == 1


def test_lookup_404_means_no_member(provider):
    add_merge_fields()
    responses.add(
        responses.GET, f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7", status=404, json=load("error_not_found.json")
    )

    found = provider.lookup_by_email(OBJECT, ["alice.smith@example.com"], ["email_address"])

    assert found == {"alice.smith@example.com": []}


def test_lookup_skips_addresses_mailchimp_rejects(provider):
    add_merge_fields()
    responses.add(responses.GET, f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7", json=load("member_ada.json"))
    emails = ["alice.smith@example.com", "josé@example.com", "liz,ray@example.com", "max@example.com."]

    found = provider.lookup_by_email(OBJECT, emails, ["email_address"])

    member_calls = [call for call in responses.calls if call.request.url.startswith(f"{MEMBERS_URL}/")]
    assert len(member_calls) == 1
    assert found["josé@example.com"] == []
    assert found["liz,ray@example.com"] == []
    assert found["max@example.com."] == []


def test_lookup_sends_member_fields(provider):
    add_merge_fields()
    responses.add(responses.GET, f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7", json=load("member_ada.json"))

    provider.lookup_by_email(OBJECT, ["alice.smith@example.com"], ["email_address"])

    params = query(calls_to(f"{MEMBERS_URL}/54da664132c497d32c7838c96da82ad7")[0])
    assert params["fields"] == ["id,email_address,status,merge_fields,tags,last_changed,member_rating,stats"]


def test_fetch_by_ids_skips_gone_members(provider):
    add_merge_fields()
    ada = load("member_ada.json")
    responses.add(responses.GET, f"{MEMBERS_URL}/{ada['id']}", json=ada)
    responses.add(responses.GET, f"{MEMBERS_URL}/{'0' * 32}", status=404, json=load("error_not_found.json"))

    records = provider.fetch_by_ids(OBJECT, [ada["id"], "0" * 32], ["email_address"])

    assert list(records) == [ada["id"]]
    assert records[ada["id"]].email == "ada@lovelace.test"
