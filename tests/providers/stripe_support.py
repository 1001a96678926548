"""Helpers shared by the Stripe provider tests: fixture payloads, connections and providers."""

import json
from pathlib import Path

from connections.http import ProviderSession
from connections.models import Connection
from connections.providers.stripe import StripeProvider

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
API = "https://api.stripe.com"
TOKEN_URL = "https://connect.stripe.com/oauth/token"
API_KEY = "rk_test_Inv3ntedRestrictedKey01"
# 2024-12-04T11:40:00Z, the clock of the tests that read through events.
NOW = 1733312400


def load(name):
    """Return the JSON payload of a fixture file."""
    return json.loads((FIXTURES / name).read_text())


def make_connection(workspace, *, credentials=None, auth_method=Connection.AuthMethod.API_KEY, base_url=""):
    connection = Connection(
        workspace=workspace,
        provider="stripe",
        display_name="Acme Stripe",
        auth_method=auth_method,
        base_url=base_url,
    )
    connection.set_credentials(credentials or {"api_key": API_KEY})
    connection.save()
    return connection


def make_provider(connection, clock=None):
    """Return a provider whose session records its waits in `provider.delays` instead of sleeping."""
    provider = StripeProvider(connection, clock=clock or (lambda: NOW))
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


def request_form(call):
    """Return the form fields of a recorded request as a dict of lists."""
    from urllib.parse import parse_qs

    return parse_qs(call.request.body or "", keep_blank_values=True)
