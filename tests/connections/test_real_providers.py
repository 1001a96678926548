"""The connection flows with the real Stripe and HubSpot providers, skipped where a provider module is missing."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse

from connections import oauth
from connections.models import Connection
from connections.providers import get_provider_class

pytestmark = pytest.mark.django_db

PROVIDER_NAMES = ["stripe", "hubspot"]
ANY_URL = re.compile(r"https?://.*")


@pytest.fixture(params=PROVIDER_NAMES)
def provider_class(request, settings):
    pytest.importorskip(f"connections.providers.{request.param}")
    try:
        provider_class = get_provider_class(request.param)
    except KeyError:
        pytest.skip(f"the {request.param} provider is not registered")
    settings.OAUTH_CLIENTS = {
        **settings.OAUTH_CLIENTS,
        provider_class.name: {"client_id": f"{provider_class.name}-client", "client_secret": "client-secret"},
    }
    settings.PROVIDER_BASE_URLS = {**settings.PROVIDER_BASE_URLS, provider_class.name: ""}
    return provider_class


def token_url(provider_class):
    return provider_class.oauth_config("").token_url


def test_connect_page_lists_real_provider(owner_client, workspace, provider_class):
    response = owner_client.get(reverse("connections:new", args=[workspace.public_id]))

    assert provider_class.label in response.content.decode()


def test_oauth_start_redirects_to_real_authorize_url(owner_client, workspace, provider_class):
    config = provider_class.oauth_config("")

    response = owner_client.post(reverse("connections:oauth_start", args=[workspace.public_id, provider_class.name]))

    params = parse_qs(urlsplit(response.url).query)
    assert response.url.startswith(config.authorize_url)
    assert params["client_id"] == [f"{provider_class.name}-client"]
    assert params["redirect_uri"] == [f"https://oneprofile.example/connections/oauth/{provider_class.name}/callback/"]
    assert ("code_challenge" in params) == config.pkce


def test_oauth_wrong_state_calls_no_real_token_endpoint(owner_client, workspace, provider_class):
    owner_client.post(reverse("connections:oauth_start", args=[workspace.public_id, provider_class.name]))
    responses.add(responses.POST, token_url(provider_class), json={"access_token": "a"})

    response = owner_client.get(
        reverse("connections:oauth_callback", args=[provider_class.name]), {"code": "c", "state": "forged"}
    )

    assert response.status_code == 400
    assert [call for call in responses.calls if call.request.url.startswith(token_url(provider_class))] == []
    assert Connection.objects.count() == 0


def test_rejected_real_api_key_saves_nothing(owner_client, workspace, provider_class):
    rejection = {
        "error": {"message": "Invalid API Key provided", "type": "invalid_request_error"},
        "status": "error",
        "message": "Authentication credentials not found.",
        "category": "INVALID_AUTHENTICATION",
    }
    responses.add(responses.GET, ANY_URL, status=401, json=rejection)
    responses.add(responses.POST, ANY_URL, status=401, json=rejection)
    url = reverse("connections:connect_api_key", args=[workspace.public_id, provider_class.name])

    response = owner_client.post(url, {"api_key": "rk_test_rejected_key_0000"})

    assert response.status_code == 400
    assert "rk_test_rejected_key_0000" not in response.content.decode()
    assert Connection.objects.count() == 0


def test_state_names_real_provider(owner_client, workspace, provider_class):
    response = owner_client.post(reverse("connections:oauth_start", args=[workspace.public_id, provider_class.name]))

    state = parse_qs(urlsplit(response.url).query)["state"][0]
    assert owner_client.session[oauth.SESSION_KEY][state]["provider"] == provider_class.name
