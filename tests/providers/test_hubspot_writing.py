"""HubSpot batch updates and creates: wire formats, per-record outcomes and isolating the records at fault."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
import responses

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, RecordWrite
from tests.providers.hubspot_support import API, calls_to, create_connection, load, make_provider, sent_json

UPDATE = f"{API}/crm/v3/objects/contacts/batch/update"
CREATE = f"{API}/crm/v3/objects/contacts/batch/create"


@pytest.fixture
def provider(workspace):
    responses.add(responses.GET, f"{API}/crm/v3/properties/contacts", json=load("properties_contacts"))
    return make_provider(create_connection(workspace))


def updated(request):
    """Respond to a batch update with every input written."""
    inputs = json.loads(request.body)["inputs"]
    results = [{"id": item["id"], "properties": item["properties"], "archived": False} for item in inputs]
    return 200, {}, json.dumps({"status": "COMPLETE", "results": results})


def write(record_id, **values):
    return RecordWrite(key=f"{record_id}@example.com", record_id=record_id, values=values)


def sent_properties(call, index=0):
    return sent_json(call)["inputs"][index]["properties"]


# Wire formats -------------------------------------------------------------


def test_update_encodes_python_values_as_hubspot_strings(provider):
    responses.add_callback(responses.POST, UPDATE, callback=updated)

    outcomes = provider.write(
        "contact",
        [
            write(
                "601",
                customer_since=date(2024, 12, 4),
                stripe_created_at=datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC),
                num_seats=Decimal("1E+3"),
                is_vip=False,
                interests=["vip", "beta"],
                plan_tier="pro",
                firstname=None,
            )
        ],
    )

    assert outcomes[0].ok is True
    assert sent_json(responses.calls[-1])["inputs"][0] == {
        "id": "601",
        "properties": {
            "customer_since": "1733270400000",
            "stripe_created_at": "1733312345000",
            "num_seats": "1000",
            "is_vip": "false",
            "interests": "vip;beta",
            "plan_tier": "pro",
            "firstname": "",
        },
    }


def test_multi_select_joined_with_semicolons(provider):
    responses.add_callback(responses.POST, UPDATE, callback=updated)

    provider.write("contact", [write("601", interests=("beta", "churned"))])

    assert sent_properties(calls_to("/crm/v3/objects/contacts/batch/update")[0])["interests"] == "beta;churned"


def test_date_not_at_midnight_rejected_before_sending(provider):
    responses.add_callback(responses.POST, UPDATE, callback=updated)

    outcomes = provider.write(
        "contact",
        [
            write("601", customer_since=datetime(2024, 12, 4, 11, 39, 5, tzinfo=UTC)),
            write("602", customer_since=datetime(2024, 12, 4, tzinfo=UTC)),
        ],
    )

    update_calls = calls_to("/crm/v3/objects/contacts/batch/update")
    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert "customer_since takes a date at midnight UTC" in outcomes[0].message
    assert "2024-12-04T11:39:05Z" in outcomes[0].message
    assert outcomes[1].ok is True
    assert [item["id"] for item in sent_json(update_calls[0])["inputs"]] == ["602"]
    assert sent_properties(update_calls[0])["customer_since"] == "1733270400000"


def test_unknown_option_rejected_before_sending(provider):
    outcomes = provider.write("contact", [write("601", plan_tier="Pro ")])

    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert outcomes[0].message == (
        "HubSpot rejected 'Pro ' for the enumeration property plan_tier: allowed values are pro, starter."
    )
    assert calls_to("/crm/v3/objects/contacts/batch/update") == []


def test_read_only_property_not_written(provider):
    outcomes = provider.write("contact", [write("601", hs_lifetime_value=Decimal("12"))])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "hs_lifetime_value is read-only" in outcomes[0].message
    assert calls_to("/crm/v3/objects/contacts/batch/update") == []


def test_updates_sent_in_batches_of_100(provider):
    responses.add_callback(responses.POST, UPDATE, callback=updated)

    outcomes = provider.write("contact", [write(str(700 + number), firstname="Kim") for number in range(250)])

    sizes = [len(sent_json(call)["inputs"]) for call in calls_to("/crm/v3/objects/contacts/batch/update")]
    assert sizes == [100, 100, 50]
    assert all(outcome.ok for outcome in outcomes)


# Per-record outcomes ------------------------------------------------------


def test_multi_status_split_into_record_outcomes(provider):
    responses.add(responses.POST, UPDATE, status=207, json=load("batch_update_mixed"))

    outcomes = provider.write(
        "contact", [write("501", plan_tier="pro"), write("502", plan_tier="starter"), write("503", plan_tier="pro")]
    )

    ok, rejected, missing = outcomes
    assert ok.ok is True
    assert ok.record_id == "501"
    assert rejected.ok is False
    assert rejected.category == FailureCategory.REJECTED_VALUE
    assert rejected.message == (
        "HubSpot rejected 'starter' for the enumeration property plan_tier: allowed values are pro, starter."
    )
    assert missing.ok is False
    assert missing.category == FailureCategory.NOT_FOUND
    assert "Could not get some CONTACT objects" in missing.message
    assert len(responses.calls) == 2


def test_multi_status_unnamed_error_assigned(provider):
    body = {
        "status": "COMPLETE",
        "results": [{"id": "21", "properties": {}}],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": 'Property values were not valid: [{"isValid":false,"message":"12.5 is not a valid integer","error":"INVALID_INTEGER","name":"num_seats"}]',
            }
        ],
    }
    responses.add(responses.POST, UPDATE, status=207, json=body)

    outcomes = provider.write("contact", [write("21", num_seats=10), write("22", num_seats=Decimal("12.5"))])

    assert outcomes[0].ok is True
    assert outcomes[1].category == FailureCategory.REJECTED_VALUE
    assert outcomes[1].message == "HubSpot rejected '12.5' for the property num_seats: 12.5 is not a valid integer."


def test_one_invalid_record_does_not_fail_its_batch(provider):
    def reply(request):
        inputs = json.loads(request.body)["inputs"]
        if any(item["id"] == "802" for item in inputs):
            return 400, {}, json.dumps(load("error_invalid_email"))
        return updated(request)

    responses.add_callback(responses.POST, UPDATE, callback=reply)

    outcomes = provider.write(
        "contact",
        [
            write("801", email="ulf@example.com"),
            write("802", email="uma@example.comm"),
            write("803", email="una@example.com"),
            write("804", email="uli@example.com"),
        ],
    )

    written = {item["id"] for call in calls_to("/crm/v3/objects/contacts/batch/update") for item in sent_json(call)["inputs"] if call.response.status_code == 200}
    assert [outcome.ok for outcome in outcomes] == [True, False, True, True]
    assert written == {"801", "803", "804"}
    assert outcomes[1].category == FailureCategory.REJECTED_VALUE
    assert "uma@example.comm" in outcomes[1].message
    assert "6a1b0a43-7a9c-4f36-9f7b-1c3e0c2f0a23" in outcomes[1].message


def test_batch_error_naming_ids_resends_the_others_once(provider):
    error = load("error_not_found") | {"context": {"ids": ["902"]}}

    def reply(request):
        inputs = json.loads(request.body)["inputs"]
        if any(item["id"] == "902" for item in inputs):
            return 400, {}, json.dumps(error)
        return updated(request)

    responses.add_callback(responses.POST, UPDATE, callback=reply)

    outcomes = provider.write("contact", [write("901", firstname="A"), write("902", firstname="B"), write("903", firstname="C")])

    update_calls = calls_to("/crm/v3/objects/contacts/batch/update")
    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert outcomes[1].category == FailureCategory.NOT_FOUND
    assert len(update_calls) == 2
    assert [item["id"] for item in sent_json(update_calls[1])["inputs"]] == ["901", "903"]


def test_batch_wide_validation_error_fails_every_record(provider):
    error = {
        "status": "error",
        "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"favourite\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"favourite\"}]",
        "correlationId": "aa11bb22-0000-4000-8000-000000000001",
        "category": "VALIDATION_ERROR",
    }
    responses.add(responses.POST, UPDATE, status=400, json=error)

    outcomes = provider.write("contact", [write(str(number), favourite="x") for number in range(1, 9)])

    assert all(outcome.category == FailureCategory.REJECTED_VALUE for outcome in outcomes)
    assert len(calls_to("/crm/v3/objects/contacts/batch/update")) == 3
    assert "favourite" in outcomes[0].message


def test_rate_limit_fails_whole_batch(provider):
    responses.add(responses.POST, UPDATE, status=429, json=load("error_rate_limit_rolling"))

    outcomes = provider.write("contact", [write("601", firstname="A"), write("602", firstname="B")])

    assert [outcome.category for outcome in outcomes] == [FailureCategory.RATE_LIMITED] * 2
    assert len(calls_to("/crm/v3/objects/contacts/batch/update")) == 5
    assert len(provider.sleeps) == 4


def test_daily_limit_not_retried_within_run(provider):
    responses.add(responses.POST, UPDATE, status=429, json=load("error_rate_limit_daily"))

    outcomes = provider.write("contact", [write(str(number), firstname="A") for number in range(150)])

    assert {outcome.category for outcome in outcomes} == {FailureCategory.RATE_LIMITED}
    assert "daily API limit" in outcomes[149].message
    assert len(calls_to("/crm/v3/objects/contacts/batch/update")) == 1
    assert provider.sleeps == []


def test_update_timeout_retried_then_reported_per_record(provider):
    responses.add(responses.POST, UPDATE, body=requests.exceptions.ReadTimeout())

    outcomes = provider.write("contact", [write("601", firstname="A")])

    assert outcomes[0].category == FailureCategory.TIMEOUT
    assert len(calls_to("/crm/v3/objects/contacts/batch/update")) == 5


def test_outage_fails_batch_without_splitting_to_records(provider):
    responses.add(responses.POST, UPDATE, status=503, json=load("error_server"))

    outcomes = provider.write("contact", [write(str(number), firstname="A") for number in range(1, 9)])

    assert {outcome.category for outcome in outcomes} == {FailureCategory.TOOL_ERROR}
    assert len(calls_to("/crm/v3/objects/contacts/batch/update")) == 3 * 5


def test_missing_scope_stops_the_write(provider):
    responses.add(responses.POST, UPDATE, status=403, json=load("error_missing_scopes"))

    with pytest.raises(ProviderError) as raised:
        provider.write("contact", [write("601", firstname="A")])

    assert raised.value.category == FailureCategory.AUTHORISATION


def test_malformed_email_answered_500_is_rejected_value(provider):
    def reply(request):
        inputs = json.loads(request.body)["inputs"]
        if any(item["properties"].get("email") == "liz,ray@example.com" for item in inputs):
            return 500, {}, json.dumps(load("error_server"))
        return updated(request)

    responses.add_callback(responses.POST, UPDATE, callback=reply)

    outcomes = provider.write("contact", [write("1", email="liz,ray@example.com"), write("2", email="ned@example.com")])

    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "'liz,ray@example.com', which is malformed" in outcomes[0].message
    assert outcomes[1].ok is True


# Creating -----------------------------------------------------------------


def test_create_returns_new_ids_by_email(provider):
    responses.add(responses.POST, CREATE, status=201, json=load("batch_create_created"))

    outcomes = provider.create("contact", [RecordWrite(key="ivy@example.com", record_id=None, values={"email": "Ivy@example.com", "firstname": "Ivy"})])

    assert outcomes[0].ok is True
    assert outcomes[0].record_id == "7001"
    assert sent_json(responses.calls[-1]) == {"inputs": [{"properties": {"email": "Ivy@example.com", "firstname": "Ivy"}}]}


def test_create_conflict_updates_existing_contact(provider):
    responses.add(responses.POST, CREATE, status=409, json=load("error_conflict"))
    responses.add(responses.POST, UPDATE, json=load("batch_update_6001"))

    outcomes = provider.create(
        "contact", [RecordWrite(key="hank@example.com", record_id=None, values={"email": "hank@example.com", "phone": "+15550107"})]
    )

    update_calls = calls_to("/crm/v3/objects/contacts/batch/update")
    assert outcomes[0].ok is True
    assert outcomes[0].record_id == "6001"
    assert len(calls_to("/crm/v3/objects/contacts/batch/create")) == 1
    assert len(update_calls) == 1
    assert sent_json(update_calls[0]) == {"inputs": [{"id": "6001", "properties": {"phone": "+15550107"}}]}


def test_create_conflict_in_batch_isolates_existing_contact(provider):
    def reply(request):
        inputs = json.loads(request.body)["inputs"]
        if any(item["properties"]["email"] == "hank@example.com" for item in inputs):
            return 409, {}, json.dumps(load("error_conflict"))
        results = [{"id": "70" + item["properties"]["email"][0], "properties": item["properties"]} for item in inputs]
        return 201, {}, json.dumps({"status": "COMPLETE", "results": results})

    responses.add_callback(responses.POST, CREATE, callback=reply)
    responses.add(responses.POST, UPDATE, json=load("batch_update_6001"))
    writes = [
        RecordWrite(key=email, record_id=None, values={"email": email, "phone": "+15550100"})
        for email in ("ann@example.com", "hank@example.com", "ivo@example.com")
    ]

    outcomes = provider.create("contact", writes)

    assert [outcome.record_id for outcome in outcomes] == ["70a", "6001", "70i"]
    assert all(outcome.ok for outcome in outcomes)


PHONE_ERROR = {
    "status": "error",
    "category": "VALIDATION_ERROR",
    "message": 'Property values were not valid: [{"isValid":false,"message":"Phone number is invalid","error":"INVALID_PHONE_NUMBER","name":"phone"}]',
}


def test_repeated_rejection_fails_bad_records_only(workspace):
    responses.add(responses.GET, f"{API}/crm/v3/properties/contacts", json=load("properties_contacts"))
    provider = make_provider(create_connection(workspace))

    def reply(request):
        inputs = json.loads(request.body)["inputs"]
        if any(item["properties"].get("phone") == "bad" for item in inputs):
            return 400, {}, json.dumps(PHONE_ERROR)
        results = [{"id": item["id"], "properties": item["properties"]} for item in inputs]
        return 200, {}, json.dumps({"status": "COMPLETE", "results": results})

    responses.add_callback(responses.POST, f"{API}/crm/v3/objects/contacts/batch/update", callback=reply)
    writes = [
        RecordWrite(key="a@example.com", record_id="1", values={"phone": "bad"}),
        RecordWrite(key="b@example.com", record_id="2", values={"phone": "+15550102"}),
        RecordWrite(key="c@example.com", record_id="3", values={"phone": "bad"}),
        RecordWrite(key="d@example.com", record_id="4", values={"phone": "+15550104"}),
    ]

    outcomes = provider.write("contact", writes)

    assert [outcome.ok for outcome in outcomes] == [False, True, False, True]
