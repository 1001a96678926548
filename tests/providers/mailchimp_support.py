"""Helpers shared by the Mailchimp provider tests: fixture payloads, connections and providers."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import responses

from connections.http import ProviderSession
from connections.models import Connection
from connections.providers.mailchimp import MailchimpProvider

FIXTURES = Path(__file__).parent / "fixtures" / "mailchimp"
API = "https://us6.api.mailchimp.com"
LOGIN = "https://login.mailchimp.com"
API_KEY = "0123456789abcdef0123456789abcdef-us6"
ACCESS_TOKEN = "5c6ccc561059aa386da9d112215bae55"
LIST_ID = "4f8a1c2b3d"
OBJECT = f"members:{LIST_ID}"
MEMBERS_URL = f"{API}/3.0/lists/{LIST_ID}/members"
BATCH_URL = f"{API}/3.0/lists/{LIST_ID}"
MERGE_FIELDS_URL = f"{API}/3.0/lists/{LIST_ID}/merge-fields"
# 2024-12-04T11:40:00Z, the clock of the reading tests.
NOW = 1733312400


def load(name):
    """Return the JSON payload of a fixture file."""
    return json.loads((FIXTURES / name).read_text())


def make_connection(
    workspace, *, credentials=None, auth_method=Connection.AuthMethod.API_KEY, base_url="", options=None
):
    connection = Connection(
        workspace=workspace,
        provider="mailchimp",
        display_name="Acme Mailchimp",
        auth_method=auth_method,
        base_url=base_url,
        options=options if options is not None else {},
    )
    connection.set_credentials(credentials or {"api_key": API_KEY})
    connection.save()
    return connection


def make_provider(connection, clock=None):
    """Return a provider whose session records its waits in `provider.delays` instead of sleeping."""
    provider = MailchimpProvider(connection, clock=clock or (lambda: NOW))
    provider.delays = []
    provider.http = ProviderSession(
        provider.name,
        connection.pk,
        label=provider.label,
        auth=provider.auth_headers,
        refresh=provider.refresh_credentials,
        classify=provider.classify_error,
        sleep=provider.delays.append,
    )
    return provider


def add_merge_fields():
    responses.add(responses.GET, MERGE_FIELDS_URL, json=load("merge_fields.json"))


def query(call):
    """Return the query parameters of a recorded request as a dict of lists."""
    return parse_qs(urlsplit(call.request.url).query)


def request_json(call):
    """Return the decoded JSON body of a recorded request."""
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body)


def calls_to(url_prefix, method=None):
    return [
        call
        for call in responses.calls
        if call.request.url.split("?")[0] == url_prefix and (method is None or call.request.method == method)
    ]
