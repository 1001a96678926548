"""HubSpot error responses: categories, member messages, retries and throttling."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory
from tests.providers.hubspot_support import API, calls_to, create_connection, load, make_provider

DETAILS = f"{API}/account-info/v3/details"


@pytest.fixture
def provider(workspace):
    return make_provider(create_connection(workspace))


def failure_of(provider):
    with pytest.raises(ProviderError) as raised:
        provider.verify()
    return raised.value


def test_validation_error_is_rejected_value_quoting_hubspot(provider):
    responses.add(responses.GET, DETAILS, status=400, json=load("error_invalid_email"))

    error = failure_of(provider)

    assert error.category == FailureCategory.REJECTED_VALUE
    assert "Email address uma@example.comm is invalid" in error.message
    assert "(correlation id 6a1b0a43-7a9c-4f36-9f7b-1c3e0c2f0a23)" in error.message
    assert error.code == "VALIDATION_ERROR"


def test_not_found_is_not_found(provider):
    responses.add(responses.GET, DETAILS, status=404, json=load("error_not_found"))

    error = failure_of(provider)

    assert error.category == FailureCategory.NOT_FOUND
    assert '"resource not found"' in error.message


def test_conflict_is_duplicate(provider):
    responses.add(responses.GET, DETAILS, status=409, json=load("error_conflict"))

    assert failure_of(provider).category == FailureCategory.DUPLICATE


def test_unauthorised_without_refresh_is_authorisation(provider):
    responses.add(responses.GET, DETAILS, status=401, json=load("error_expired_token"))

    error = failure_of(provider)

    assert error.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 1


def test_rate_limit_retried_after_retry_after_seconds(provider):
    responses.add(responses.GET, DETAILS, status=429, json=load("error_rate_limit_rolling"), headers={"Retry-After": "7"})
    responses.add(responses.GET, DETAILS, json=load("account_details"))

    identity = provider.verify()

    assert identity.account_id == "62515"
    assert provider.sleeps == [7.0]
    assert len(calls_to("/account-info/v3/details")) == 2


def test_rate_limit_retried_after_retry_after_date(provider):
    when = datetime.now(UTC) + timedelta(seconds=30)
    responses.add(
        responses.GET,
        DETAILS,
        status=429,
        json=load("error_rate_limit_rolling"),
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    responses.add(responses.GET, DETAILS, json=load("account_details"))

    provider.verify()

    assert len(provider.sleeps) == 1
    assert 25 <= provider.sleeps[0] <= 30


def test_rate_limit_plain_text_body(provider):
    responses.add(responses.GET, DETAILS, status=429, body="Too Many Requests", content_type="text/plain")

    error = failure_of(provider)

    assert error.category == FailureCategory.RATE_LIMITED
    assert "HTTP 429 with no JSON body" in error.message
    assert len(calls_to("/account-info/v3/details")) == 5


def test_rolling_rate_limit_names_policy(provider):
    responses.add(responses.GET, DETAILS, status=429, json=load("error_rate_limit_rolling"))

    error = failure_of(provider)

    assert error.code == "TEN_SECONDLY_ROLLING"
    assert "00000000-0000-0000-0000-000000000017" in error.message


def test_daily_limit_stops_requests_for_the_run(provider):
    responses.add(responses.GET, DETAILS, status=429, json=load("error_rate_limit_daily"))

    first = failure_of(provider)
    second = failure_of(provider)

    assert first.category == FailureCategory.RATE_LIMITED
    assert first.code == "DAILY"
    assert "daily API limit" in first.message
    assert second.code == "DAILY"
    assert len(responses.calls) == 1
    assert provider.sleeps == []


def test_server_error_retried_then_tool_error(provider):
    responses.add(responses.GET, DETAILS, status=502, json=load("error_server"))

    error = failure_of(provider)

    assert error.category == FailureCategory.TOOL_ERROR
    assert error.is_transient is True
    assert "HTTP 502" in error.message
    assert len(responses.calls) == 5


def test_server_error_then_success_returns_answer(provider):
    responses.add(responses.GET, DETAILS, status=500, json=load("error_server"))
    responses.add(responses.GET, DETAILS, json=load("account_details"))

    assert provider.verify().account_id == "62515"


def test_timeout_is_timeout_after_retries(provider):
    responses.add(responses.GET, DETAILS, body=requests.exceptions.ReadTimeout())

    error = failure_of(provider)

    assert error.category == FailureCategory.TIMEOUT
    assert len(responses.calls) == 5


def test_malformed_json_is_tool_error(provider):
    responses.add(responses.GET, DETAILS, body='{"portalId": 625', content_type="application/json")

    error = failure_of(provider)

    assert error.category == FailureCategory.TOOL_ERROR
    assert "not valid JSON" in error.message


def test_error_response_excerpt_redacts_tokens(provider):
    body = {"status": "error", "message": "bad token pat-na1-11111111-2222", "category": "VALIDATION_ERROR"}
    responses.add(responses.GET, DETAILS, status=400, json=body)

    error = failure_of(provider)

    assert "pat-na1-11111111-2222" not in error.response


def test_throttle_pauses_when_few_requests_remain(provider):
    headers = {
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "4",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    responses.add(responses.GET, DETAILS, json=load("account_details"), headers=headers)

    provider.verify()

    assert provider.sleeps == [10.0]


def test_throttle_does_not_pause_with_budget_left(provider):
    headers = {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "6"}
    responses.add(responses.GET, DETAILS, json=load("account_details"), headers=headers)

    provider.verify()

    assert provider.sleeps == []
