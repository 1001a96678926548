"""Mailchimp errors: problem-details bodies, bodies that are not JSON, timeouts and retries."""

import pytest
import requests
import responses

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory

from .mailchimp_support import API, FIXTURES, MEMBERS_URL, OBJECT, add_merge_fields, make_connection, make_provider

ROOT = f"{API}/3.0/"


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def answer(status, fixture=None, body="", content_type="application/problem+json"):
    """Return a requests.Response as Mailchimp would send it, for classify_error."""
    response = requests.Response()
    response.status_code = status
    response._content = (FIXTURES / fixture).read_bytes() if fixture else body.encode()
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    ("status", "fixture", "category", "words"),
    [
        (401, "error_api_key_invalid.json", FailureCategory.AUTHORISATION, "wrong datacenter"),
        (403, "error_forbidden.json", FailureCategory.AUTHORISATION, "Manager or Admin role"),
        (403, "error_user_disabled.json", FailureCategory.AUTHORISATION, "suspended or disabled"),
        (404, "error_not_found.json", FailureCategory.NOT_FOUND, "could not be found"),
        (400, "error_invalid_resource.json", FailureCategory.REJECTED_VALUE, "PLAN: Please choose one"),
        (400, "error_forgotten.json", FailureCategory.REJECTED_VALUE, "permanently deleted"),
        (400, "error_compliance.json", FailureCategory.REJECTED_VALUE, "only the person can re-subscribe"),
        (429, "error_too_many_requests.json", FailureCategory.RATE_LIMITED, "10 simultaneous connections"),
        (500, "error_internal.json", FailureCategory.TOOL_ERROR, "internal error (HTTP 500)"),
    ],
)
def test_classify_reads_problem_details(provider, status, fixture, category, words):
    error = provider.classify_error(answer(status, fixture))

    assert error.category == category
    assert words in error.message
    assert error.status == status


def test_classify_lists_every_field_error(provider):
    error = provider.classify_error(answer(400, "error_invalid_resource.json"))

    assert "Your merge fields were invalid." in error.message
    assert "BIRTHDAY: Please enter a month (01-12) and a day (01-31)" in error.message
    assert not error.is_transient


def test_classify_redacts_api_key(provider):
    body = '{"title": "API Key Invalid", "status": 401, "detail": "Invalid key 0123456789abcdef0123456789abcdef-us6"}'

    error = provider.classify_error(answer(401, body=body))

    assert "0123456789abcdef0123456789abcdef" not in error.message
    assert "0123456789abcdef0123456789abcdef" not in error.response


def test_classify_plain_text_429(provider):
    error = provider.classify_error(answer(429, body="Too Many Requests", content_type="text/plain"))

    assert error.category == FailureCategory.RATE_LIMITED
    assert error.is_transient


def test_classify_403_without_json_is_rate_limit(provider):
    error = provider.classify_error(answer(403, body="<html>Access Denied</html>", content_type="text/html"))

    assert error.category == FailureCategory.RATE_LIMITED
    assert error.is_transient


def test_classify_502_html(provider):
    error = provider.classify_error(answer(502, body="<html>Bad Gateway</html>", content_type="text/html"))

    assert error.category == FailureCategory.TOOL_ERROR
    assert error.message == "Mailchimp had an internal error (HTTP 502)."


# Through the session ------------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(provider):
    responses.add(
        responses.GET, ROOT, status=429, body="Too Many Requests", content_type="text/plain", headers={"Retry-After": "7"}
    )
    responses.add(responses.GET, ROOT, json={"account_id": "8d3a3db4d97663a9074efcc16", "account_name": "Acme"})

    identity = provider.verify()

    assert identity.account_name == "Acme"
    assert len(responses.calls) == 2
    assert provider.delays[0] >= 7


def test_429_after_retries_is_rate_limited(provider):
    for _ in range(5):
        responses.add(
            responses.GET, ROOT, status=429, body="Too Many Requests", content_type="text/plain", headers={"Retry-After": "2"}
        )

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.RATE_LIMITED
    assert raised.value.retry_after == 2
    assert len(provider.delays) == 4


def test_403_raises_authorisation(provider):
    body = (FIXTURES / "error_forbidden.json").read_text()
    responses.add(responses.GET, ROOT, status=403, body=body, content_type="application/problem+json")

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.AUTHORISATION
    assert len(responses.calls) == 1


def test_404_member_read_is_not_found(provider):
    add_merge_fields()
    responses.add(responses.GET, MEMBERS_URL, status=404, body=(FIXTURES / "error_not_found.json").read_text())

    with pytest.raises(ProviderError) as raised:
        list(provider.read_changes(OBJECT, ["email_address"]))

    assert raised.value.category == FailureCategory.NOT_FOUND


def test_5xx_retried_then_tool_error(provider):
    for _ in range(5):
        responses.add(responses.GET, ROOT, status=503, body="Service Unavailable", content_type="text/plain")

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert raised.value.is_transient
    assert len(responses.calls) == 5


def test_timeout_retried_then_timeout_error(provider):
    for _ in range(5):
        responses.add(responses.GET, ROOT, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.TIMEOUT
    assert len(responses.calls) == 5
    assert len(provider.delays) == 4


def test_malformed_json_is_tool_error(provider):
    responses.add(responses.GET, ROOT, body='{"account_id": "8d3a', content_type="application/json")

    with pytest.raises(ProviderError) as raised:
        provider.verify()

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert "not valid JSON" in raised.value.message
