"""Writing Stripe customers: one form-encoded POST per record, with per-record outcomes."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from connections.providers.types import FailureCategory, RecordWrite

from .stripe_support import API, load, make_connection, make_provider, request_form

ADA_URL = f"{API}/v1/customers/cus_Ada01"


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def ada_change(values=None, idempotency_key="sync-7-cus_Ada01-change-1"):
    return RecordWrite(
        key="ada@lovelace.test",
        record_id="cus_Ada01",
        values=values if values is not None else {"metadata.plan_tier": "enterprise"},
        idempotency_key=idempotency_key,
    )


def test_write_sends_bracketed_form_with_idempotency_key(provider):
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    outcomes = provider.write(
        "customer", [ada_change({"metadata.plan_tier": "enterprise", "name": "Ada King", "address.city": None})]
    )

    assert outcomes[0].ok is True
    assert outcomes[0].record_id == "cus_Ada01"
    sent = responses.calls[0].request
    assert sent.headers["Idempotency-Key"] == "sync-7-cus_Ada01-change-1"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request_form(responses.calls[0]) == {
        "metadata[plan_tier]": ["enterprise"],
        "name": ["Ada King"],
        "address[city]": [""],
    }


def test_write_retry_after_500_keeps_idempotency_key(provider):
    responses.add(responses.POST, ADA_URL, status=500, json=load("error_api.json"))
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    outcomes = provider.write("customer", [ada_change()])

    assert outcomes[0].ok is True
    assert len(responses.calls) == 2
    keys = [call.request.headers["Idempotency-Key"] for call in responses.calls]
    assert keys == ["sync-7-cus_Ada01-change-1", "sync-7-cus_Ada01-change-1"]
    assert len(provider.delays) == 1


def test_write_without_key_still_sends_one_per_change(provider):
    responses.add(responses.POST, ADA_URL, status=500, json=load("error_api.json"))
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    provider.write("customer", [ada_change(idempotency_key="")])

    keys = [call.request.headers["Idempotency-Key"] for call in responses.calls]
    assert keys[0]
    assert keys[0] == keys[1]


def test_metadata_over_500_characters_rejected_without_call(provider):
    outcomes = provider.write("customer", [ada_change({"metadata.notes": "x" * 600, "name": "Ada"})])

    assert len(responses.calls) == 0
    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert "metadata[notes]" in outcomes[0].message
    assert "600" in outcomes[0].message


def test_metadata_list_value_rejected_without_call(provider):
    outcomes = provider.write("customer", [ada_change({"metadata.interests": ["vip", "beta"]})])

    assert len(responses.calls) == 0
    assert outcomes[0].category == FailureCategory.TYPE_MISMATCH
    assert "metadata[interests]" in outcomes[0].message


def test_metadata_number_is_sent_as_string(provider):
    from decimal import Decimal

    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    provider.write("customer", [ada_change({"metadata.num_seats": Decimal("12")})])

    assert request_form(responses.calls[0]) == {"metadata[num_seats]": ["12"]}


def test_read_only_field_rejected_without_call(provider):
    outcomes = provider.write("customer", [ada_change({"mrr": {"amount": 100, "currency": "usd"}})])

    assert len(responses.calls) == 0
    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert "'mrr'" in outcomes[0].message


def test_one_failed_record_does_not_stop_others(provider):
    responses.add(
        responses.POST, f"{API}/v1/customers/cus_Gone99", status=404, json=load("error_no_such_customer.json")
    )
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))
    gone = RecordWrite(key="gone@example.test", record_id="cus_Gone99", values={"name": "X"}, idempotency_key="k1")

    outcomes = provider.write("customer", [gone, ada_change()])

    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.NOT_FOUND
    assert "No such customer: 'cus_Gone99'" in outcomes[0].message
    assert outcomes[1].ok is True


def test_400_names_stripe_param(provider):
    responses.add(responses.POST, ADA_URL, status=400, json=load("error_invalid_metadata.json"))

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.category == FailureCategory.REJECTED_VALUE
    assert outcome.message.startswith("Stripe rejected metadata[plan_tier]: Invalid string")
    assert len(responses.calls) == 1


def test_409_idempotency_conflict_is_transient(provider):
    responses.add(responses.POST, ADA_URL, status=409, json=load("error_idempotency.json"))

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.category == FailureCategory.TOOL_ERROR
    assert outcome.category.is_transient
    assert "another in-progress request" in outcome.message


def test_403_stops_calls_for_later_records(provider):
    responses.add(responses.POST, ADA_URL, status=403, json=load("error_permission.json"))
    other = RecordWrite(key="bo@kyoto.test", record_id="cus_Bo002", values={"name": "Bo"}, idempotency_key="k2")

    outcomes = provider.write("customer", [ada_change(), other])

    assert len(responses.calls) == 1
    assert outcomes[0].category == FailureCategory.AUTHORISATION
    assert "rak_customer_write" in outcomes[0].message
    assert outcomes[1].category == FailureCategory.AUTHORISATION
    assert outcomes[1].ok is False


def test_429_waits_retry_after_seconds(provider):
    responses.add(responses.POST, ADA_URL, status=429, json=load("error_rate_limit.json"), headers={"Retry-After": "3"})
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.ok is True
    assert len(responses.calls) == 2
    assert provider.delays[0] >= 3


def test_429_waits_retry_after_http_date(provider):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    responses.add(responses.POST, ADA_URL, status=429, json=load("error_rate_limit.json"), headers={"Retry-After": later})
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.ok is True
    assert 25 <= provider.delays[0] <= 30


def test_429_with_plain_text_body_ends_rate_limited(provider):
    responses.add(responses.POST, ADA_URL, status=429, body="Too Many Requests", content_type="text/plain")

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.ok is False
    assert outcome.category == FailureCategory.RATE_LIMITED
    assert len(responses.calls) == provider.http.max_retries + 1
    assert outcome.response == "Too Many Requests"


def test_429_lock_timeout_is_retried(provider):
    responses.add(responses.POST, ADA_URL, status=429, json=load("error_lock_timeout.json"))
    responses.add(responses.POST, ADA_URL, json=load("customer_ada_written.json"))

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.ok is True
    assert len(responses.calls) == 2


def test_persistent_5xx_ends_as_tool_error(provider):
    responses.add(responses.POST, ADA_URL, status=502, body="<html><body>Bad Gateway</body></html>", content_type="text/html")

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.category == FailureCategory.TOOL_ERROR
    assert "HTTP 502" in outcome.message
    assert len(responses.calls) == provider.http.max_retries + 1


def test_timeout_ends_as_timeout(provider):
    responses.add(responses.POST, ADA_URL, body=requests.exceptions.ReadTimeout())

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.category == FailureCategory.TIMEOUT
    assert len(responses.calls) == provider.http.max_retries + 1


def test_malformed_json_answer_is_tool_error(provider):
    responses.add(responses.POST, ADA_URL, body='{"id": "cus_Ada01", ', content_type="application/json")

    outcome = provider.write("customer", [ada_change()])[0]

    assert outcome.ok is False
    assert outcome.category == FailureCategory.TOOL_ERROR
    assert "not valid JSON" in outcome.message


def test_update_without_record_id_is_not_sent(provider):
    change = RecordWrite(key="x@example.test", record_id=None, values={"name": "X"})

    outcome = provider.write("customer", [change])[0]

    assert outcome.category == FailureCategory.NOT_FOUND
    assert len(responses.calls) == 0


def test_create_posts_match_key_as_email(provider):
    responses.add(responses.POST, f"{API}/v1/customers", json=load("customer_created.json"))
    change = RecordWrite(key="new@example.test", record_id=None, values={"name": "Nia New"}, idempotency_key="create-1")

    outcome = provider.create("customer", [change])[0]

    assert outcome.ok is True
    assert outcome.record_id == "cus_New08"
    assert request_form(responses.calls[0]) == {"name": ["Nia New"], "email": ["new@example.test"]}
    assert responses.calls[0].request.headers["Idempotency-Key"] == "create-1"


def test_unlisted_metadata_key_is_a_string_field(workspace):
    provider = make_provider(make_connection(workspace))

    spec = provider.field_spec("customer", "metadata.hubspot_owner")

    assert spec.type == "string"
    assert spec.max_length == 500
    assert provider.field_spec("customer", "metadata.bad[key]") is None
    assert provider.field_spec("customer", "nickname") is None
