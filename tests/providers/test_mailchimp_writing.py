"""Writing Mailchimp members: batch subscribe, per-member outcomes, consent and encodings."""

import json
from datetime import date
from decimal import Decimal

import pytest
import requests
import responses

from connections.providers.mailchimp.wire import subscriber_hash
from connections.providers.types import FailureCategory, RecordWrite

from .mailchimp_support import (
    BATCH_URL,
    MEMBERS_URL,
    OBJECT,
    add_merge_fields,
    calls_to,
    load,
    make_connection,
    make_provider,
    request_json,
)


@pytest.fixture
def provider(workspace):
    add_merge_fields()
    return make_provider(make_connection(workspace))


def update(email, values):
    return RecordWrite(key=email, record_id=subscriber_hash(email), values=values)


def new(email, values):
    return RecordWrite(key=email, record_id=None, values=values)


def sent_members(url=BATCH_URL):
    return [member for call in calls_to(url, "POST") for member in request_json(call)["members"]]


# Identity -----------------------------------------------------------------------


def test_subscriber_hash_lower_cases_email():
    assert subscriber_hash("Alice.Smith@Example.com") == "54da664132c497d32c7838c96da82ad7"
    assert subscriber_hash(" alice.smith@example.com ") == "54da664132c497d32c7838c96da82ad7"


def test_subscriber_hash_of_non_ascii_address():
    # MD5 over the UTF-8 bytes of "josé@example.com".
    assert subscriber_hash("JOSÉ@example.com") == "f3e3d6d619238617fee6765e45961da5"


# Batch subscribe ----------------------------------------------------------------


def test_mixed_batch_maps_each_member(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))
    writes = [
        new("lena@example.test", {"merge_fields.FNAME": "Lena"}),
        update("liam@example.test", {"merge_fields.FNAME": "Liam"}),
        new("kate@example.test", {"merge_fields.FNAME": "Kate"}),
        new("john.doe@example.com", {"merge_fields.FNAME": "John"}),
        update("sam@example.test", {"merge_fields.PLAN": "Team"}),
    ]

    outcomes = provider.create(OBJECT, writes)

    lena, liam, kate, john, sam = outcomes
    assert lena.ok is True
    assert lena.record_id == subscriber_hash("lena@example.test")
    assert liam.ok is True
    assert liam.record_id == subscriber_hash("liam@example.test")
    assert kate.ok is False
    assert kate.category == FailureCategory.REJECTED_VALUE
    assert not kate.category.is_transient
    assert "permanently deleted" in kate.message
    assert "kate@example.test" in kate.message
    assert john.ok is False
    assert john.category == FailureCategory.REJECTED_VALUE
    assert "looks fake or invalid" in john.message
    assert sam.category == FailureCategory.REJECTED_VALUE
    assert "PLAN" in sam.message
    assert len(calls_to(BATCH_URL, "POST")) == 1


def test_batch_request_updates_existing_members(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))

    provider.write(OBJECT, [update("liam@example.test", {"merge_fields.FNAME": "Liam"})])

    body = request_json(calls_to(BATCH_URL, "POST")[0])
    assert body["update_existing"] is True
    assert body["sync_tags"] is False
    assert body["members"] == [{"email_address": "liam@example.test", "merge_fields": {"FNAME": "Liam"}}]


def test_member_missing_from_answer_is_retryable(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mona_updated.json"))

    outcomes = provider.write(OBJECT, [update("liam@example.test", {"merge_fields.FNAME": "Liam"})])

    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.TOOL_ERROR
    assert outcomes[0].category.is_transient


def test_batches_hold_at_most_500_members(provider):
    responses.add(responses.POST, BATCH_URL, json={"new_members": [], "updated_members": [], "errors": []})
    writes = [new(f"p{number}@example.test", {"merge_fields.FNAME": "P"}) for number in range(501)]

    provider.create(OBJECT, writes)

    sizes = [len(request_json(call)["members"]) for call in calls_to(BATCH_URL, "POST")]
    assert sizes == [500, 1]


def test_batch_400_resends_unnamed_members(provider):
    responses.add(responses.POST, BATCH_URL, status=400, json=load("error_batch_item.json"))
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))
    writes = [new("lena@example.test", {}), new("zed@example.test", {}), new("liam@example.test", {})]

    outcomes = provider.create(OBJECT, writes)

    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert outcomes[1].category == FailureCategory.REJECTED_VALUE
    assert "accepted values" in outcomes[1].message
    resent = request_json(calls_to(BATCH_URL, "POST")[1])["members"]
    assert [member["email_address"] for member in resent] == ["lena@example.test", "liam@example.test"]


def test_batch_500_fails_every_member_as_transient(provider):
    for _ in range(5):
        responses.add(responses.POST, BATCH_URL, status=500, json=load("error_internal.json"))

    outcomes = provider.write(OBJECT, [update("liam@example.test", {"merge_fields.FNAME": "Liam"})])

    assert outcomes[0].category == FailureCategory.TOOL_ERROR
    assert len(calls_to(BATCH_URL, "POST")) == 5
    assert len(provider.delays) == 4


def fails_for(*bad_emails):
    """Return a batch subscribe callback that responds with 500 to any batch holding one of `bad_emails`."""

    def reply(request):
        members = json.loads(request.body)["members"]
        if any(member["email_address"] in bad_emails for member in members):
            return 500, {}, json.dumps(load("error_internal.json"))
        updated = [{"id": subscriber_hash(m["email_address"]), "email_address": m["email_address"]} for m in members]
        return 200, {}, json.dumps({"new_members": [], "updated_members": updated, "errors": [], "error_count": 0})

    return reply


def sent_batches():
    return [[member["email_address"] for member in request_json(call)["members"]] for call in calls_to(BATCH_URL, "POST")]


def test_batch_500_fails_only_member_at_fault(provider):
    responses.add_callback(responses.POST, BATCH_URL, callback=fails_for("liz@blocked.example.test"))
    emails = ["ada@example.test", "bo@example.test", "liz@blocked.example.test", "ned@example.test"]

    outcomes = provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    assert [outcome.ok for outcome in outcomes] == [True, True, False, True]
    assert outcomes[2].category == FailureCategory.TOOL_ERROR
    assert outcomes[2].category.is_transient
    assert "liz@blocked.example.test sent alone" in outcomes[2].message
    assert outcomes[3].record_id == subscriber_hash("ned@example.test")


def test_batch_500_resends_halves_down_to_member(provider):
    responses.add_callback(responses.POST, BATCH_URL, callback=fails_for("liz@blocked.example.test"))
    emails = ["ada@example.test", "bo@example.test", "liz@blocked.example.test", "ned@example.test"]

    provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    distinct = []
    for batch in sent_batches():
        if batch not in distinct:
            distinct.append(batch)
    assert distinct == [
        emails,
        ["ada@example.test", "bo@example.test"],
        ["liz@blocked.example.test", "ned@example.test"],
        ["liz@blocked.example.test"],
        ["ned@example.test"],
    ]


def test_batch_500_split_costs_two_requests_a_level(provider):
    bad = "p13@example.test"
    responses.add_callback(responses.POST, BATCH_URL, callback=fails_for(bad))
    emails = [f"p{number}@example.test" for number in range(16)]

    outcomes = provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    failing_sends = provider.http.max_retries + 1
    # 16 members: the batch, then two halves at each of four levels. Every send that contains the bad member is retried.
    assert len(calls_to(BATCH_URL, "POST")) == failing_sends + 4 * (failing_sends + 1)
    assert [outcome.key for outcome in outcomes if not outcome.ok] == [bad]


def test_batch_wide_500_fails_all_after_one_split(provider):
    responses.add(responses.POST, BATCH_URL, status=500, json=load("error_internal.json"))
    emails = [f"p{number}@example.test" for number in range(8)]

    outcomes = provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    sizes = [len(batch) for batch in sent_batches()]
    failing_sends = provider.http.max_retries + 1
    assert sizes == [8] * failing_sends + [4] * failing_sends + [4] * failing_sends
    assert {outcome.category for outcome in outcomes} == {FailureCategory.TOOL_ERROR}
    assert all(outcome.category.is_transient for outcome in outcomes)


def test_batch_500_of_one_member_is_not_split(provider):
    responses.add(responses.POST, BATCH_URL, status=500, json=load("error_internal.json"))

    outcomes = provider.write(OBJECT, [update("liam@example.test", {"merge_fields.FNAME": "Liam"})])

    assert len(calls_to(BATCH_URL, "POST")) == provider.http.max_retries + 1
    assert "sent alone" not in outcomes[0].message


def test_batch_timeout_is_not_split(provider):
    responses.add(responses.POST, BATCH_URL, body=requests.Timeout("read timed out"))
    emails = ["ada@example.test", "bo@example.test"]

    outcomes = provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    assert [len(batch) for batch in sent_batches()] == [2] * (provider.http.max_retries + 1)
    assert {outcome.category for outcome in outcomes} == {FailureCategory.TIMEOUT}


def test_half_400_naming_member_after_split(provider):
    def reply(request):
        members = json.loads(request.body)["members"]
        if len(members) == 4:
            return 500, {}, json.dumps(load("error_internal.json"))
        if [member["email_address"] for member in members] == ["ada@example.test", "bo@example.test"]:
            return 400, {}, json.dumps(load("error_batch_item.json"))
        return fails_for()(request)

    responses.add_callback(responses.POST, BATCH_URL, callback=reply)
    emails = ["ada@example.test", "bo@example.test", "cy@example.test", "ned@example.test"]

    outcomes = provider.write(OBJECT, [update(email, {"merge_fields.FNAME": "X"}) for email in emails])

    assert [outcome.ok for outcome in outcomes] == [True, False, True, True]
    assert outcomes[1].category == FailureCategory.REJECTED_VALUE


# Consent ------------------------------------------------------------------------


def test_update_never_sends_status(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mona_updated.json"))

    outcomes = provider.write(
        OBJECT, [update("mona@example.test", {"merge_fields.FNAME": "Mona", "status": "subscribed"})]
    )

    member = sent_members()[0]
    assert "status" not in member
    assert "status_if_new" not in member
    assert member["merge_fields"] == {"FNAME": "Mona"}
    assert outcomes[0].ok is True


def test_create_uses_status_if_new(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_zoe_created.json"))

    provider.create(OBJECT, [new("zoe@example.test", {"merge_fields.FNAME": "Zoë"})])

    member = sent_members()[0]
    assert member["status_if_new"] == "subscribed"
    assert "status" not in member


def test_create_takes_mapped_status(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_zoe_created.json"))

    provider.create(OBJECT, [new("zoe@example.test", {"status": "pending"})])

    assert sent_members()[0]["status_if_new"] == "pending"


def test_update_applies_unsubscribe(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mona_updated.json"))

    provider.write(OBJECT, [update("mona@example.test", {"status": "unsubscribed"})])

    assert sent_members()[0]["status"] == "unsubscribed"


def test_cleaned_status_rejected_without_call(provider):
    outcomes = provider.write(OBJECT, [update("mona@example.test", {"status": "cleaned"})])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "sets the status 'cleaned' itself" in outcomes[0].message
    assert calls_to(BATCH_URL) == []


def test_compliance_state_error_not_transient(provider):
    body = {
        "new_members": [],
        "updated_members": [],
        "errors": [
            {
                "email_address": "mona@example.test",
                "error": "mona@example.test is in a compliance state due to unsubscribe, bounce, or compliance "
                "review and cannot be subscribed.",
                "error_code": "ERROR_GENERIC",
            }
        ],
    }
    responses.add(responses.POST, BATCH_URL, json=body)

    outcomes = provider.create(OBJECT, [new("mona@example.test", {})])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert not outcomes[0].category.is_transient
    assert "only the person can re-subscribe" in outcomes[0].message


# Addresses Mailchimp rejects ------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "words"),
    [
        ("josé@example.com", "only ASCII"),
        ("liz,ray@example.com", "comma"),
        ("max@example.com.", "no valid domain"),
        ("two@@example.com", "exactly one @"),
    ],
)
def test_invalid_address_rejected_without_call(provider, email, words):
    outcomes = provider.create(OBJECT, [new(email, {"merge_fields.FNAME": "X"})])

    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert words in outcomes[0].message
    assert calls_to(BATCH_URL) == []


def test_invalid_address_does_not_block_others(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))

    outcomes = provider.create(OBJECT, [new("josé@example.com", {}), new("lena@example.test", {})])

    assert outcomes[0].ok is False
    assert outcomes[1].ok is True
    assert [member["email_address"] for member in sent_members()] == ["lena@example.test"]


# Encodings --------------------------------------------------------------------------


def test_non_ascii_names_sent_as_utf8(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_zoe_created.json"))

    provider.create(OBJECT, [new("zoe@example.test", {"merge_fields.FNAME": "Zoë", "merge_fields.LNAME": "Ñúñez"})])

    call = calls_to(BATCH_URL, "POST")[0]
    assert "Zoë".encode() in call.request.body
    assert "Ñúñez".encode() in call.request.body
    assert b"\\u00eb" not in call.request.body
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent_members()[0]["merge_fields"] == {"FNAME": "Zoë", "LNAME": "Ñúñez"}


def test_dates_follow_merge_field_formats(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mona_updated.json"))

    provider.write(
        OBJECT,
        [
            update(
                "mona@example.test",
                {
                    "merge_fields.RENEWAL": date(2025, 1, 31),
                    "merge_fields.BIRTHDAY": "1990-04-12",
                    "merge_fields.SEATS": Decimal("12"),
                },
            )
        ],
    )

    assert sent_members()[0]["merge_fields"] == {"RENEWAL": "31/01/2025", "BIRTHDAY": "04/12", "SEATS": 12}


def test_invalid_birthday_rejected_without_call(provider):
    outcomes = provider.write(OBJECT, [update("mona@example.test", {"merge_fields.BIRTHDAY": "13/40"})])

    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert "merge_fields.BIRTHDAY" in outcomes[0].message
    assert calls_to(BATCH_URL) == []


def test_text_over_255_bytes_rejected(provider):
    outcomes = provider.write(OBJECT, [update("mona@example.test", {"merge_fields.FNAME": "é" * 130})])

    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert "260 bytes" in outcomes[0].message


def test_unknown_choice_rejected(provider):
    outcomes = provider.write(OBJECT, [update("mona@example.test", {"merge_fields.PLAN": "Gold"})])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "Starter, Team, Enterprise" in outcomes[0].message


def test_read_only_field_rejected(provider):
    outcomes = provider.write(OBJECT, [update("mona@example.test", {"member_rating": 5})])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "'member_rating'" in outcomes[0].message


def test_tags_go_in_their_own_synced_batch(provider):
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))
    responses.add(responses.POST, BATCH_URL, json=load("batch_mixed.json"))

    provider.write(
        OBJECT,
        [
            update("liam@example.test", {"merge_fields.FNAME": "Liam"}),
            update("lena@example.test", {"tags": ["vip", "beta"]}),
        ],
    )

    first, second = (request_json(call) for call in calls_to(BATCH_URL, "POST"))
    assert first["sync_tags"] is False
    assert [member["email_address"] for member in first["members"]] == ["liam@example.test"]
    assert second["sync_tags"] is True
    assert second["members"] == [{"email_address": "lena@example.test", "tags": ["vip", "beta"]}]


def test_partial_address_completed_from_member(provider):
    mona = load("member_mona.json")
    mona["merge_fields"]["ADDRESS"] = {
        "addr1": "1 Rue de Rivoli",
        "addr2": "",
        "city": "Paris",
        "state": "IDF",
        "zip": "75001",
        "country": "FR",
    }
    responses.add(responses.GET, f"{MEMBERS_URL}/{mona['id']}", json=mona)
    responses.add(responses.POST, BATCH_URL, json=load("batch_mona_updated.json"))

    provider.write(OBJECT, [update("mona@example.test", {"merge_fields.ADDRESS.city": "Lyon"})])

    assert sent_members()[0]["merge_fields"]["ADDRESS"] == {
        "addr1": "1 Rue de Rivoli",
        "addr2": "",
        "city": "Lyon",
        "state": "IDF",
        "zip": "75001",
        "country": "FR",
    }


# Email changes and linked members ----------------------------------------------------


def test_email_change_patches_linked_member(provider):
    old = subscriber_hash("carol@old.example.test")
    responses.add(responses.PATCH, f"{MEMBERS_URL}/{old}", json=load("member_carol_moved.json"))
    change = RecordWrite(
        key="carol@old.example.test", record_id=old, values={"email_address": "carol@new.example.test"}
    )

    outcomes = provider.write(OBJECT, [change])

    assert outcomes[0].ok is True
    assert outcomes[0].record_id == subscriber_hash("carol@new.example.test")
    assert request_json(calls_to(f"{MEMBERS_URL}/{old}", "PATCH")[0]) == {"email_address": "carol@new.example.test"}
    assert calls_to(BATCH_URL) == []


def test_patch_of_forgotten_member_not_transient(provider):
    old = subscriber_hash("carol@old.example.test")
    responses.add(responses.PATCH, f"{MEMBERS_URL}/{old}", status=400, json=load("error_forgotten.json"))
    change = RecordWrite(key="carol@new.example.test", record_id=old, values={"merge_fields.FNAME": "Carol"})

    outcomes = provider.write(OBJECT, [change])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "permanently deleted" in outcomes[0].message
    assert len(calls_to(f"{MEMBERS_URL}/{old}")) == 1
