"""Writing Zendesk users: bulk jobs polled to the end, per-record outcomes, email changes and creates."""

from datetime import date
from decimal import Decimal

import pytest
import responses
from responses import matchers

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, RecordWrite

from .zendesk_support import API, calls_to, load, make_connection, make_provider, sent_json

JOB_ID = "8b726e606741012ffc2d782bcb7848fe"
CREATE_JOB_ID = "c3a1f0e2d4b6012ffc2d782bcb7800aa"
UPDATE_MANY = f"{API}/api/v2/users/update_many.json"
CREATE_OR_UPDATE_MANY = f"{API}/api/v2/users/create_or_update_many.json"


@pytest.fixture
def provider(workspace):
    provider = make_provider(make_connection(workspace))
    responses.add(responses.GET, f"{API}/api/v2/user_fields.json", json=load("user_fields"))
    return provider


def change(record_id, values, key=None):
    return RecordWrite(key=key or f"user{record_id}@example.com", record_id=record_id, values=values)


def add_job(final="job_status_update_mixed", job_id=JOB_ID):
    working = load("job_status_working")
    working["job_status"]["id"] = job_id
    responses.add(responses.GET, f"{API}/api/v2/job_statuses/{job_id}.json", json=working)
    responses.add(responses.GET, f"{API}/api/v2/job_statuses/{job_id}.json", json=load(final))


def test_bulk_update_maps_mixed_results(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job()
    writes = [change("502", {"name": "Gina R."}), change("503", {"phone": "+1 555"}), change("504", {"name": "Ivy"})]

    outcomes = provider.write("user", writes)

    assert outcomes[0].ok is True
    assert outcomes[1].ok is False
    assert outcomes[1].category == FailureCategory.REJECTED_VALUE
    assert "Phone: +1 555 is not a valid phone number" in outcomes[1].message
    assert outcomes[2].category == FailureCategory.NOT_FOUND


def test_bulk_update_sends_one_request_for_the_batch(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job()
    writes = [change("502", {"name": "Gina R."}), change("503", {"phone": "+1 555"}), change("504", {"name": "Ivy"})]

    provider.write("user", writes)

    assert len(calls_to("/api/v2/users/update_many.json")) == 1
    assert sent_json(calls_to("/api/v2/users/update_many.json")[0]) == {
        "users": [{"id": 502, "name": "Gina R."}, {"id": 503, "phone": "+1 555"}, {"id": 504, "name": "Ivy"}]
    }


def test_job_polled_with_growing_delays(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job()

    provider.write("user", [change("502", {"name": "Gina R."})])

    assert provider.delays == [1, 2]
    assert len(calls_to(f"/api/v2/job_statuses/{JOB_ID}.json")) == 2


def test_unfinished_job_fails_records_as_transient(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    responses.add(responses.GET, f"{API}/api/v2/job_statuses/{JOB_ID}.json", json=load("job_status_working"))

    outcome = provider.write("user", [change("502", {"name": "Gina R."})])[0]

    assert outcome.ok is False
    assert outcome.category == FailureCategory.TOOL_ERROR
    assert outcome.category.is_transient
    assert "still working" in outcome.message
    assert len(calls_to(f"/api/v2/job_statuses/{JOB_ID}.json")) == 10


def test_failed_job_fails_each_record_with_its_message(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job("job_status_failed")

    outcomes = provider.write("user", [change("502", {"name": "Gina R."}), change("503", {"name": "Hal"})])

    assert [outcome.category for outcome in outcomes] == [FailureCategory.TOOL_ERROR, FailureCategory.TOOL_ERROR]
    assert "too many jobs running" in outcomes[0].message


def test_custom_fields_nested_and_encoded(provider):
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job()
    values = {
        "user_fields.plan_tier": "pro",
        "user_fields.seats": Decimal("12"),
        "user_fields.renewal_date": date(2025, 3, 1),
        "user_fields.beta_opt_in": True,
        "user_fields.interests": ["vip", "beta"],
        "user_fields.mrr": Decimal("49.50"),
        "tags": ["vip"],
    }

    provider.write("user", [change("502", values)])

    assert sent_json(responses.calls[1])["users"][0] == {
        "id": 502,
        "tags": ["vip"],
        "user_fields": {
            "plan_tier": "pro",
            "seats": 12,
            "renewal_date": "2025-03-01",
            "beta_opt_in": True,
            "interests": ["vip", "beta"],
            "mrr": 49.5,
        },
    }


def test_regexp_mismatch_rejected_without_request(provider):
    outcome = provider.write("user", [change("502", {"user_fields.vat_number": "not-a-vat"})])[0]

    assert outcome.category == FailureCategory.REJECTED_VALUE
    assert "^[A-Z]{2}[0-9A-Z]{8,12}$" in outcome.message
    assert calls_to("/api/v2/users/update_many.json") == []


def test_fraction_in_integer_field_is_type_mismatch(provider):
    outcome = provider.write("user", [change("502", {"user_fields.seats": Decimal("2.5")})])[0]

    assert outcome.category == FailureCategory.TYPE_MISMATCH
    assert "whole number" in outcome.message


def test_read_only_field_rejected_without_request(provider):
    outcome = provider.write("user", [change("502", {"ticket_count": 3})])[0]

    assert outcome.category == FailureCategory.REJECTED_VALUE
    assert "'ticket_count'" in outcome.message
    assert calls_to("/api/v2/users/update_many.json") == []


def test_update_without_record_id_not_sent(provider):
    outcome = provider.write("user", [RecordWrite(key="x@example.com", record_id=None, values={"name": "X"})])[0]

    assert outcome.category == FailureCategory.NOT_FOUND
    assert len(responses.calls) == 0


def test_rate_limited_bulk_request_fails_batch_as_retryable(provider):
    responses.add(responses.PUT, UPDATE_MANY, status=429, body="Rate limit exceeded", content_type="text/plain")

    outcomes = provider.write("user", [change("502", {"name": "Gina R."}), change("503", {"name": "Hal"})])

    assert [outcome.category for outcome in outcomes] == [FailureCategory.RATE_LIMITED] * 2
    assert len(calls_to("/api/v2/users/update_many.json")) == provider.http.max_retries + 1


def test_rejected_credentials_stop_the_write(provider):
    responses.add(responses.PUT, UPDATE_MANY, status=401, json=load("error_invalid_token"))

    with pytest.raises(ProviderError) as raised:
        provider.write("user", [change("502", {"name": "Gina R."})])

    assert raised.value.category == FailureCategory.AUTHORISATION


# Email changes -------------------------------------------------------------------


def test_email_change_goes_through_identities(provider):
    responses.add(
        responses.POST, f"{API}/api/v2/users/502/identities.json", json=load("identity_created"),
        match=[matchers.json_params_matcher({"identity": {"type": "email", "value": "gina@new.example.com"}})],
    )
    responses.add(responses.PUT, f"{API}/api/v2/users/502/identities/45010/make_primary.json", json=load("identities_made_primary"))
    responses.add(responses.PUT, UPDATE_MANY, json=load("job_status_queued"))
    add_job()

    outcome = provider.write("user", [change("502", {"email": "gina@new.example.com", "name": "Gina R."})])[0]

    assert outcome.ok is True
    assert len(calls_to("/api/v2/users/502/identities/45010/make_primary.json", "PUT")) == 1
    assert sent_json(calls_to("/api/v2/users/update_many.json")[0]) == {"users": [{"id": 502, "name": "Gina R."}]}


def test_email_only_change_sends_no_bulk_job(provider):
    responses.add(responses.POST, f"{API}/api/v2/users/502/identities.json", json=load("identity_created"))
    responses.add(responses.PUT, f"{API}/api/v2/users/502/identities/45010/make_primary.json", json=load("identities_made_primary"))

    outcome = provider.write("user", [change("502", {"email": "gina@new.example.com"})])[0]

    assert outcome.ok is True
    assert calls_to("/api/v2/users/update_many.json") == []


def test_email_held_as_secondary_is_made_primary(provider):
    responses.add(responses.POST, f"{API}/api/v2/users/9602/identities.json", status=422, json=load("error_identity_taken"))
    responses.add(responses.GET, f"{API}/api/v2/users/9602/identities.json", json=load("identities_9602"))
    responses.add(responses.PUT, f"{API}/api/v2/users/9602/identities/44002/make_primary.json", json={"identities": []})

    outcome = provider.write("user", [change("9602", {"email": "jon@example.com"})])[0]

    assert outcome.ok is True
    assert len(calls_to("/api/v2/users/9602/identities/44002/make_primary.json")) == 1


def test_email_held_by_another_user_is_duplicate(provider):
    responses.add(responses.POST, f"{API}/api/v2/users/502/identities.json", status=422, json=load("error_identity_taken"))
    responses.add(responses.GET, f"{API}/api/v2/users/502/identities.json", json={"identities": [], "meta": {"has_more": False}})

    outcome = provider.write("user", [change("502", {"email": "ivy@example.com", "name": "Gina"})])[0]

    assert outcome.category == FailureCategory.DUPLICATE
    assert "already being used by another user" in outcome.message
    assert calls_to("/api/v2/users/update_many.json") == []


# Creates ------------------------------------------------------------------------


def test_create_with_taken_email_updates_existing_user(provider):
    responses.add(responses.POST, CREATE_OR_UPDATE_MANY, json=load("job_status_create_queued"))
    add_job("job_status_create_or_update", CREATE_JOB_ID)
    writes = [
        RecordWrite(key="ivy@example.com", record_id=None, values={"name": "Ivy Chen"}),
        RecordWrite(key="lena@example.com", record_id=None, values={"name": "Lena Park"}),
    ]

    outcomes = provider.create("user", writes)

    assert [(outcome.ok, outcome.record_id) for outcome in outcomes] == [(True, "9601"), (True, "9710")]
    assert calls_to("/api/v2/users.json") == []
    assert sent_json(calls_to("/api/v2/users/create_or_update_many.json")[0]) == {
        "users": [{"name": "Ivy Chen", "email": "ivy@example.com"}, {"name": "Lena Park", "email": "lena@example.com"}]
    }


def test_create_job_result_failure_by_index(provider):
    job = load("job_status_create_or_update")
    job["job_status"]["results"] = [
        {"index": 1, "error": "UserCreateError", "details": "Email: lena@example is not properly formatted", "status": "Failed"},
        {"index": 0, "id": 9601, "status": "Updated", "email": "ivy@example.com"},
    ]
    responses.add(responses.POST, CREATE_OR_UPDATE_MANY, json=load("job_status_create_queued"))
    responses.add(responses.GET, f"{API}/api/v2/job_statuses/{CREATE_JOB_ID}.json", json=job)
    writes = [
        RecordWrite(key="ivy@example.com", record_id=None, values={"name": "Ivy Chen"}),
        RecordWrite(key="lena@example", record_id=None, values={"name": "Lena"}),
    ]

    outcomes = provider.create("user", writes)

    assert outcomes[0].ok is True
    assert outcomes[0].record_id == "9601"
    assert outcomes[1].ok is False
    assert "not properly formatted" in outcomes[1].message
