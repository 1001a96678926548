"""How the provider session reads and decodes response bodies."""

import io

import msgspec
import requests
import pytest
import responses

from connections.http import ProviderSession
from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory

URL = "https://api.example.test/items"


class Page(msgspec.Struct):
    data: list[int]
    has_more: bool = False


class BrokenStream(io.RawIOBase):
    """A body whose connection drops after the headers."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise ConnectionResetError("connection reset by peer")


def session():
    delays = []
    return ProviderSession("tool", 1, label="Tool", sleep=delays.append)


def test_large_body_read_whole():
    items = [{"id": f"obj_{number:06d}", "note": "x" * 200} for number in range(2000)]
    responses.add(responses.GET, URL, json={"data": items})
    provider_session = session()

    body = provider_session.json(provider_session.get(URL))

    assert body["data"] == items


def test_body_read_by_a_response_hook_is_kept():
    # A provider's hook that classifies a 429 reads the body before the session does.
    responses.add(responses.GET, URL, json={"data": [1, 2]})
    provider_session = session()
    read = []

    def read_first(response, *args, **kwargs):
        read.append(response.content)

    provider_session.session.hooks["response"].append(read_first)

    body = provider_session.json(provider_session.get(URL))

    assert read == [b'{"data": [1, 2]}']
    assert body == {"data": [1, 2]}


def test_body_cut_short_fails_after_retries():
    for _attempt in range(5):
        responses.add(responses.GET, URL, body=io.BufferedReader(BrokenStream()))
    provider_session = session()

    with pytest.raises(ProviderError) as raised:
        provider_session.get(URL)

    assert raised.value.category == FailureCategory.TIMEOUT
    assert raised.value.message == "Could not reach Tool: the connection failed"
    assert len(responses.calls) == 5


def test_typed_decoding_reads_the_declared_shape():
    responses.add(responses.GET, URL, json={"data": [1, 2], "has_more": True, "url": "/v1/items"})
    provider_session = session()

    page = provider_session.json(provider_session.get(URL), msgspec.json.Decoder(Page))

    assert page == Page(data=[1, 2], has_more=True)


def test_typed_decoding_names_the_unexpected_attribute():
    responses.add(responses.GET, URL, json={"data": [1, "two"]})
    provider_session = session()

    with pytest.raises(ProviderError) as raised:
        provider_session.json(provider_session.get(URL), msgspec.json.Decoder(Page))

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert "Tool sent a response in an unexpected shape" in raised.value.message
    assert "$.data[1]" in raised.value.message


def test_typed_decoding_fails_on_a_body_not_json():
    responses.add(responses.GET, URL, body="<html>Bad gateway</html>", content_type="text/html")
    provider_session = session()

    with pytest.raises(ProviderError, match="Tool sent an answer that is not valid JSON"):
        provider_session.json(provider_session.get(URL), msgspec.json.Decoder(Page))


def test_json_request_body_encoded_compact_with_its_type():
    responses.add(responses.POST, URL, json={})
    provider_session = session()

    provider_session.post(URL, json={"inputs": [{"id": "1", "properties": {"plan": "Zoë"}}]})

    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == '{"inputs":[{"id":"1","properties":{"plan":"Zoë"}}]}'.encode()


def test_json_request_body_keeps_the_caller_content_type():
    responses.add(responses.POST, URL, json={})
    provider_session = session()

    provider_session.post(URL, json={"seats": 2**70}, headers={"Content-Type": "application/json; charset=utf-8"})

    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.body == b'{"seats":1180591620717411303424}'


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 100, "starting_after": "cus_1"},
        {"types[]": ["customer.updated", "invoice.paid"], "created[gte]": 1733270400},
        {"email": "zoë+1@example.com", "empty": None},
        [("status", "paid"), ("status", "open")],
    ],
)
def test_query_string_matches_what_requests_sends(params):
    responses.add(responses.GET, URL, json={})
    responses.add(responses.GET, URL, json={})

    session().get(URL, params=params)
    requests.get(URL, params=params)

    ours, theirs = (call.request.url for call in responses.calls)
    assert ours == theirs


def test_netrc_entry_never_replaces_the_authorization_header(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example.test login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    responses.add(responses.GET, URL, json={})

    session().get(URL, headers={"Authorization": "Bearer tool-token"})

    assert responses.calls[0].request.headers["Authorization"] == "Bearer tool-token"


def test_redirect_is_an_error_and_not_followed():
    responses.add(responses.GET, URL, status=301, headers={"Location": "https://elsewhere.example.test/items"})

    with pytest.raises(ProviderError) as raised:
        session().get(URL, headers={"Authorization": "Bearer tool-token"})

    assert raised.value.category == FailureCategory.TOOL_ERROR
    assert raised.value.message == "The tool answered HTTP 301"
    assert [call.request.url for call in responses.calls] == [URL]
