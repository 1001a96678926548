"""
Shared helpers of the Zendesk provider tests: fixtures on disk, connections and a provider that never sleeps.

This module contains no tests; the test_zendesk_*.py modules import from it.
"""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import responses

from connections.http import ProviderSession
from connections.models import Connection
from connections.providers.zendesk import ZendeskProvider

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
API = "https://acme.zendesk.com"
TOKEN_URL = f"{API}/oauth/tokens"
API_TOKEN_CREDENTIALS = {"email": "avery@acme.test", "api_token": "zd-api-token-0001-invented"}
# 2024-12-04T11:40:00Z, the clock of the reading tests.
NOW = 1733312400


def load(name):
    """Return the parsed JSON fixture tests/providers/fixtures/zendesk/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def make_connection(workspace, *, credentials=None, auth_method=Connection.AuthMethod.API_KEY, base_url="", options=None, expires_in=None):
    """Store a Zendesk connection to the subdomain acme, with an API token unless `credentials` is given."""
    connection = Connection(
        workspace=workspace,
        provider="zendesk",
        display_name="Acme Zendesk",
        auth_method=auth_method,
        base_url=base_url,
        options={"subdomain": "acme"} if options is None else options,
    )
    connection.set_credentials(credentials or API_TOKEN_CREDENTIALS, expires_in)
    connection.save()
    return connection


def make_oauth_connection(workspace, access_token="zd-at-expired-0001"):
    # The token endpoint is on the account's host, so the connection stores it as its base URL.
    return make_connection(
        workspace,
        credentials={"access_token": access_token, "refresh_token": "zd-rt-0001"},
        auth_method=Connection.AuthMethod.OAUTH,
        base_url=API,
    )


def make_provider(connection, clock=None):
    """Return a provider whose session records the delays it would sleep in `provider.delays`."""
    provider = ZendeskProvider(connection, clock=clock or (lambda: NOW))
    provider.delays = []
    provider.http = ProviderSession(
        provider.name,
        connection.pk,
        label=provider.label,
        auth=provider.auth_headers,
        refresh=provider.refresh_credentials,
        classify=provider.classify_error,
        throttle=provider.throttle,
        sleep=provider.delays.append,
    )
    return provider


def query(call):
    """Return the query parameters of a recorded request as a dict of lists."""
    return parse_qs(urlsplit(call.request.url).query)


def sent_json(call):
    """Return the JSON body of a recorded request."""
    return json.loads(call.request.body)


def calls_to(path, method=None):
    """Return the recorded calls whose URL path is `path` (and whose method is `method`, when given)."""
    return [
        call
        for call in responses.calls
        if urlsplit(call.request.url).path == path and (method is None or call.request.method == method)
    ]
