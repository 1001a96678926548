"""Zendesk errors and limits: classification, retries of 429 and 5xx, timeouts, bad JSON and throttling."""

import pytest
import requests
import responses

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory

from .zendesk_support import API, FIXTURES, load, make_connection, make_provider

EXPORT_URL = f"{API}/api/v2/incremental/users/cursor.json"
C18_CURSOR = '{"start_time":1733270400}'


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def answer(status, fixture=None, body="", content_type="application/json", headers=None):
    """Return a requests.Response as Zendesk would send it, for classify_error and throttle."""
    response = requests.Response()
    response.status_code = status
    response._content = (FIXTURES / f"{fixture}.json").read_bytes() if fixture else body.encode()
    response.headers["Content-Type"] = content_type
    response.headers.update(headers or {})
    return response


# Classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fixture", "category", "words"),
    [
        (401, "error_invalid_token", FailureCategory.AUTHORISATION, "rejected the connection's credentials"),
        (403, "error_forbidden", FailureCategory.AUTHORISATION, "denied access: You do not have access"),
        (404, "error_not_found", FailureCategory.NOT_FOUND, "no such record: Not found"),
        (422, "error_record_invalid", FailureCategory.REJECTED_VALUE, "rejected time_zone: Time zone: Mars/Olympus"),
        (422, "error_duplicate_email", FailureCategory.DUPLICATE, "rejected email: Email: ivy@example.com is already"),
        (400, "error_offset_limit", FailureCategory.REJECTED_VALUE, "Pagination limit reached"),
        (400, "error_search_invalid", FailureCategory.REJECTED_VALUE, "unsupported field"),
        (409, None, FailureCategory.TOOL_ERROR, "conflicting change"),
        (500, None, FailureCategory.TOOL_ERROR, "internal error (HTTP 500)"),
    ],
)
def test_classify_error_reads_zendesk_body(provider, status, fixture, category, words):
    error = provider.classify_error(answer(status, fixture, body="{}"))

    assert error.category == category
    assert words in error.message
    assert error.status == status


def test_classify_error_keeps_zendesk_code(provider):
    error = provider.classify_error(answer(422, "error_record_invalid"))

    assert error.code == "RecordInvalid"


def test_classify_plain_text_429_is_rate_limited(provider):
    error = provider.classify_error(answer(429, body="Rate limit exceeded. Please retry.", content_type="text/plain"))

    assert error.category == FailureCategory.RATE_LIMITED
    assert error.is_transient
    assert error.response == "Rate limit exceeded. Please retry."


def test_classify_redacts_basic_credentials(provider):
    body = '{"error": "Unauthorized", "description": "Basic YXZlcnlAYWNtZS50ZXN0L3Rva2VuOnNlY3JldA== was refused"}'

    error = provider.classify_error(answer(401, body=body))

    assert "YXZlcnlAYWNtZS50ZXN0L3Rva2VuOnNlY3JldA" not in error.message
    assert "YXZlcnlAYWNtZS50ZXN0L3Rva2VuOnNlY3JldA" not in error.response


# Retries through a read ----------------------------------------------------------


def test_plain_text_429_waits_retry_after_then_reads(provider):
    responses.add(
        responses.GET,
        EXPORT_URL,
        status=429,
        body="Number of allowed API requests per minute exceeded: 0",
        content_type="text/plain",
        headers={"Retry-After": "27"},
    )
    responses.add(
        responses.GET, EXPORT_URL, json={"end_of_stream": True, "users": [{"id": 901, "email": "v901@example.com"}]}
    )

    pages = list(provider.read_changes("user", ["email"], C18_CURSOR))

    assert [record.id for record in pages[0].records] == ["901"]
    assert provider.delays[0] >= 27
    assert len(responses.calls) == 2
    assert "start_time=1733270400" in responses.calls[1].request.url


def test_persistent_429_raises_rate_limited(provider):
    responses.add(responses.GET, EXPORT_URL, status=429, body="Rate limit exceeded", content_type="text/plain", headers={"Retry-After": "5"})

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("user", ["email"]))

    assert raised.value.category == FailureCategory.RATE_LIMITED
    assert raised.value.retry_after == 5
    assert len(responses.calls) == provider.http.max_retries + 1


def test_5xx_is_retried_then_reads(provider):
    responses.add(responses.GET, EXPORT_URL, status=503, body="<html>Service Unavailable</html>", content_type="text/html")
    responses.add(responses.GET, EXPORT_URL, json=load("users_export_empty"))

    pages = list(provider.read_changes("user", ["email"]))

    assert pages[0].records == []
    assert len(responses.calls) == 2
    assert len(provider.delays) == 1


def test_persistent_5xx_raises_tool_error(provider):
    responses.add(responses.GET, EXPORT_URL, status=502, body="<html>Bad Gateway</html>", content_type="text/html")

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("user", ["email"]))

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert raised.value.message == "Zendesk had an internal error (HTTP 502)."


def test_timeout_raises_timeout_after_retries(provider):
    responses.add(responses.GET, EXPORT_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("user", ["email"]))

    assert raised.value.category == FailureCategory.TIMEOUT
    assert len(responses.calls) == provider.http.max_retries + 1


def test_malformed_json_raises_tool_error(provider):
    responses.add(responses.GET, EXPORT_URL, body='{"users": [{"id": 1,', content_type="application/json")

    with pytest.raises(ProviderError, match="not valid JSON") as raised:
        list(provider.read_changes("user", ["email"]))

    assert raised.value.category == FailureCategory.TOOL_ERROR


def test_403_is_not_retried(provider):
    responses.add(responses.GET, EXPORT_URL, status=403, json=load("error_forbidden"))

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes("user", ["email"]))

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 1


# Throttling ---------------------------------------------------------------------


def test_throttle_pauses_until_reset_when_few_requests_left(provider):
    headers = {"ratelimit-limit": "200", "ratelimit-remaining": "12", "ratelimit-reset": "41"}

    assert provider.throttle(answer(200, body="{}", headers=headers)) == 41


def test_throttle_does_not_pause_with_room_left(provider):
    headers = {"ratelimit-limit": "200", "ratelimit-remaining": "150", "ratelimit-reset": "41"}

    assert provider.throttle(answer(200, body="{}", headers=headers)) == 0


def test_throttle_reads_x_rate_limit_headers(provider):
    headers = {"X-Rate-Limit": "200", "X-Rate-Limit-Remaining": "3"}

    assert provider.throttle(answer(200, body="{}", headers=headers)) == 10


def test_throttle_reads_exhausted_endpoint_limit(provider):
    headers = {"zendesk-ratelimit-tickets-index": "total=100; remaining=0; resets=17"}

    assert provider.throttle(answer(200, body="{}", headers=headers)) == 17


def test_low_remaining_pauses_between_export_pages(provider):
    low = {"ratelimit-limit": "200", "ratelimit-remaining": "4", "ratelimit-reset": "33"}
    responses.add(responses.GET, EXPORT_URL, json=load("users_export_page1"), headers=low)
    responses.add(responses.GET, EXPORT_URL, json=load("users_export_page2"))

    list(provider.read_changes("user", ["email"]))

    assert provider.delays == [33]
