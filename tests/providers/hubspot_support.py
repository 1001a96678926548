"""
Shared helpers of the HubSpot provider tests: fixtures on disk, connections and a provider that never sleeps.

This module contains no tests; the test_hubspot_*.py modules import from it.
"""

import json
from pathlib import Path

import responses

from connections.models import Connection
from connections.providers.hubspot import HubSpotProvider

API = "https://api.hubapi.com"
FIXTURES = Path(__file__).parent / "fixtures" / "hubspot"
CLIENT = {"client_id": "client-id-0001", "client_secret": "client-secret-0001"}


def load(name):
    """Return the parsed JSON fixture tests/providers/fixtures/hubspot/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def create_connection(workspace, **fields):
    """Store a HubSpot connection with a private-app token unless `fields` set other values."""
    credentials = fields.pop("credentials", {"api_key": "pat-na1-00000000-test"})
    expires_in = fields.pop("expires_in", None)
    values = {
        "provider": "hubspot",
        "display_name": "Acme HubSpot",
        "account_id": "62515",
        "auth_method": Connection.AuthMethod.API_KEY,
        **fields,
    }
    connection = Connection(workspace=workspace, **values)
    connection.set_credentials(credentials, expires_in)
    connection.save()
    return connection


def create_oauth_connection(workspace, access_token="at-1-invented", expires_in=1800):
    return create_connection(
        workspace,
        auth_method=Connection.AuthMethod.OAUTH,
        credentials={"access_token": access_token, "refresh_token": "rt-0001-invented"},
        expires_in=expires_in,
    )


def make_provider(connection):
    """Return a HubSpotProvider whose session records the delays it would sleep in `provider.sleeps`."""
    provider = HubSpotProvider(connection)
    provider.sleeps = []
    provider.http.sleep = provider.sleeps.append
    return provider


def sent_json(call):
    """Return the JSON body of a request recorded by `responses`."""
    return json.loads(call.request.body)


def calls_to(path, method=None):
    """Return the recorded calls whose URL path is `path` (and whose method is `method`, when given)."""
    return [
        call
        for call in responses.calls
        if call.request.url.split("?")[0] == f"{API}{path}" and (method is None or call.request.method == method)
    ]
