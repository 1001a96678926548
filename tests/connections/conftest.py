"""Fixtures of the connection tests: the made-up tools, connections and a staff client."""

import pytest
from django.test import Client

from accounts.models import User
from connections import providers
from connections.models import Connection
from tests.connections.fake_provider import CLIENT_ID, CLIENT_SECRET, FAKE_PROVIDERS


@pytest.fixture(autouse=True)
def fake_providers(settings):
    """Register Faketool and Othertool with OAuth clients for one test, and remove them afterwards."""
    try:
        # Load the real providers first: the registry loads them only while it is empty.
        providers.all_providers()
    except ImportError:
        pass
    for provider_class in FAKE_PROVIDERS:
        providers.register(provider_class)
    settings.OAUTH_CLIENTS = {
        **settings.OAUTH_CLIENTS,
        **{
            provider_class.name: {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            for provider_class in FAKE_PROVIDERS
        },
    }
    settings.PROVIDER_BASE_URLS = {
        **settings.PROVIDER_BASE_URLS,
        **{provider_class.name: "" for provider_class in FAKE_PROVIDERS},
    }
    settings.SITE_URL = "https://oneprofile.example"
    yield
    for provider_class in FAKE_PROVIDERS:
        providers._registry.pop(provider_class.name, None)


def create_connection(workspace, **fields):
    """Store a Faketool connection, with an API key unless `fields` set other credentials."""
    credentials = fields.pop("credentials", {"api_key": "stored-key-0001"})
    expires_in = fields.pop("expires_in", None)
    values = {
        "provider": "faketool",
        "display_name": "Faketool EU",
        "account_id": "acct_1",
        "account_name": "Acme on Faketool",
        "auth_method": Connection.AuthMethod.API_KEY,
        **fields,
    }
    connection = Connection(workspace=workspace, **values)
    connection.set_credentials(credentials, expires_in)
    connection.save()
    return connection


@pytest.fixture
def connection(workspace, owner):
    return create_connection(workspace, created_by=owner)


@pytest.fixture
def oauth_connection(workspace, owner):
    return create_connection(
        workspace,
        display_name="Faketool OAuth",
        auth_method=Connection.AuthMethod.OAUTH,
        credentials={"access_token": "stored-access-0001", "refresh_token": "stored-refresh-0001"},
        expires_in=3600,
        created_by=owner,
    )


@pytest.fixture
def other_connection(other_workspace, outsider):
    return create_connection(other_workspace, display_name="Globex Faketool", account_id="acct_9", created_by=outsider)


@pytest.fixture
def staff_client(db):
    user = User.objects.create_superuser(email="staff@oneprofile.test", password="staff-password-1234")
    client = Client()
    client.force_login(user)
    return client
