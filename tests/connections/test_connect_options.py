"""Connecting Zendesk and Mailchimp: connect options, email with API token, data centres, on the pages and the API."""

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.urls import reverse

from connections import oauth
from connections.models import Connection

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "providers" / "fixtures"
LIST_URL = "/api/v1/connections/"

ZENDESK = "https://acme.zendesk.com"
ZENDESK_ME = f"{ZENDESK}/api/v2/users/me.json"
ZENDESK_TOKEN_URL = f"{ZENDESK}/oauth/tokens"
AGENT_EMAIL = "avery@acme.test"
ZENDESK_API_TOKEN = "zd-api-token-7f3a9c"

MAILCHIMP_API = "https://us6.api.mailchimp.com"
MAILCHIMP_LOGIN = "https://login.mailchimp.com"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
MAILCHIMP_KEY_WITHOUT_DC = "0123456789abcdef0123456789abcdef"

REDIRECT_URI = "https://oneprofile.example/connections/oauth/{}/callback/"


def load(provider, name):
    return json.loads((FIXTURES / provider / name).read_text())


@pytest.fixture(autouse=True)
def real_tools(settings):
    """Give Zendesk and Mailchimp OAuth clients, and point both at their real API addresses."""
    settings.OAUTH_CLIENTS = {
        **settings.OAUTH_CLIENTS,
        "zendesk": {"client_id": "zendesk-client", "client_secret": "zendesk-secret"},
        "mailchimp": {"client_id": "mailchimp-client", "client_secret": "mailchimp-secret"},
    }
    settings.PROVIDER_BASE_URLS = {**settings.PROVIDER_BASE_URLS, "zendesk": "", "mailchimp": ""}


def api_key_url(workspace, provider):
    return reverse("connections:connect_api_key", args=[workspace.public_id, provider])


def oauth_start_url(workspace, provider):
    return reverse("connections:oauth_start", args=[workspace.public_id, provider])


def callback_url(provider):
    return reverse("connections:oauth_callback", args=[provider])


def zendesk_form(**overrides):
    return {"subdomain": "acme", "email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN, "display_name": "", **overrides}


def mock_zendesk_me(status=200, body=None):
    responses.add(responses.GET, ZENDESK_ME, status=status, json=body or load("zendesk", "users_me.json"))


def mock_mailchimp_root():
    responses.add(responses.GET, f"{MAILCHIMP_API}/3.0/", json=load("mailchimp", "root.json"))


def query_params(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# Zendesk with an agent email and API token, on the pages


def test_zendesk_api_key_page_asks_subdomain_first(owner_client, workspace):
    page = owner_client.get(api_key_url(workspace, "zendesk")).content.decode()

    assert "Zendesk subdomain" in page
    assert "The part before .zendesk.com in your Zendesk address." in page
    assert page.index('name="subdomain"') < page.index('name="email"') < page.index('name="api_token"')


def test_zendesk_api_token_connects(owner_client, workspace):
    mock_zendesk_me()

    response = owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form())

    connection = Connection.objects.get()
    assert response.status_code == 302
    assert connection.provider == "zendesk"
    assert connection.options == {"subdomain": "acme"}
    assert connection.base_url == ""
    assert connection.api_base_url() == ZENDESK
    assert connection.account_id == "acme"
    assert connection.get_credentials() == {"email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN}


def test_zendesk_api_token_is_checked_at_subdomain(owner_client, workspace):
    mock_zendesk_me()

    owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form(subdomain=" Acme "))

    expected = base64.b64encode(f"{AGENT_EMAIL}/token:{ZENDESK_API_TOKEN}".encode()).decode()
    assert [call.request.url for call in responses.calls] == [ZENDESK_ME]
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_zendesk_bad_subdomain_shows_provider_message(owner_client, workspace):
    response = owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form(subdomain="evil.com/x"))

    page = response.content.decode()
    assert response.status_code == 400
    assert "The Zendesk subdomain &#x27;evil.com/x&#x27; is invalid" in page
    assert len(responses.calls) == 0
    assert Connection.objects.count() == 0


def test_zendesk_form_never_echoes_token(owner_client, workspace):
    response = owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form(subdomain="evil.com/x"))

    page = response.content.decode()
    assert ZENDESK_API_TOKEN not in page
    assert f'value="{AGENT_EMAIL}"' in page


def test_zendesk_invalid_email_makes_no_call(owner_client, workspace):
    response = owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form(email="avery"))

    assert response.status_code == 400
    assert "Agent email" in response.content.decode()
    assert len(responses.calls) == 0


def test_zendesk_rejected_token_saves_nothing(owner_client, workspace):
    mock_zendesk_me(status=401, body=load("zendesk", "error_invalid_token.json"))

    response = owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form())

    page = response.content.decode()
    assert response.status_code == 400
    assert "Zendesk rejected this agent email and API token" in page
    assert ZENDESK_API_TOKEN not in page
    assert Connection.objects.count() == 0


def test_zendesk_detail_page_shows_subdomain(owner_client, workspace):
    mock_zendesk_me()
    owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form())

    page = owner_client.get(Connection.objects.get().get_absolute_url()).content.decode()

    assert "<dt>Zendesk subdomain</dt><dd>acme</dd>" in page


def test_zendesk_reconnect_keeps_subdomain(owner_client, workspace):
    mock_zendesk_me()
    owner_client.post(api_key_url(workspace, "zendesk"), zendesk_form())
    connection = Connection.objects.get()
    url = reverse("connections:reconnect", args=[workspace.public_id, connection.public_id])

    form_page = owner_client.get(url).content.decode()
    response = owner_client.post(url, {"email": AGENT_EMAIL, "api_token": "zd-api-token-new-0002"})

    connection.refresh_from_db()
    assert 'name="subdomain"' not in form_page
    assert response.status_code == 302
    assert responses.calls[-1].request.url == ZENDESK_ME
    assert connection.options == {"subdomain": "acme"}
    assert connection.get_credentials()["api_token"] == "zd-api-token-new-0002"


# Zendesk with OAuth


def test_zendesk_oauth_page_asks_subdomain(owner_client, workspace):
    response = owner_client.get(oauth_start_url(workspace, "zendesk"))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="subdomain"' in page
    assert "The part before .zendesk.com in your Zendesk address." in page


def test_connect_page_links_zendesk_oauth_to_options(owner_client, workspace):
    page = owner_client.get(reverse("connections:new", args=[workspace.public_id])).content.decode()

    assert f'href="{oauth_start_url(workspace, "zendesk")}"' in page


def test_zendesk_oauth_start_redirects_to_account_host(owner_client, workspace):
    response = owner_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "acme"})

    params = query_params(response.url)
    stored = owner_client.session[oauth.SESSION_KEY][params["state"]]
    assert response.status_code == 302
    assert response.url.startswith(f"{ZENDESK}/oauth/authorizations/new?")
    assert params["client_id"] == "zendesk-client"
    assert params["redirect_uri"] == REDIRECT_URI.format("zendesk")
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == oauth.code_challenge(stored["code_verifier"])
    assert stored["options"] == {"subdomain": "acme"}


def test_zendesk_oauth_bad_subdomain_starts_nothing(owner_client, workspace):
    response = owner_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "evil.com/x"})

    assert response.status_code == 400
    assert "The Zendesk subdomain &#x27;evil.com/x&#x27; is invalid" in response.content.decode()
    assert owner_client.session.get(oauth.SESSION_KEY, {}) == {}


def test_zendesk_oauth_callback_exchanges_at_account_host(owner_client, workspace):
    start = owner_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "acme"})
    state = query_params(start.url)["state"]
    verifier = owner_client.session[oauth.SESSION_KEY][state]["code_verifier"]
    responses.add(responses.POST, ZENDESK_TOKEN_URL, json=load("zendesk", "oauth_token.json"))
    mock_zendesk_me()

    response = owner_client.get(callback_url("zendesk"), {"code": "zd-code-1", "state": state})

    token_request = responses.calls[0].request
    body = json.loads(token_request.body)
    assert response.status_code == 302
    assert token_request.url == ZENDESK_TOKEN_URL
    assert body["code"] == "zd-code-1"
    assert body["code_verifier"] == verifier
    assert responses.calls[1].request.headers["Authorization"] == "Bearer zd-at-rotated-0002"


def test_zendesk_oauth_connection_stores_subdomain(owner_client, workspace):
    start = owner_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "acme"})
    responses.add(responses.POST, ZENDESK_TOKEN_URL, json=load("zendesk", "oauth_token.json"))
    mock_zendesk_me()

    owner_client.get(callback_url("zendesk"), {"code": "zd-code-1", "state": query_params(start.url)["state"]})

    connection = Connection.objects.get()
    assert connection.auth_method == Connection.AuthMethod.OAUTH
    assert connection.options["subdomain"] == "acme"
    assert connection.options["scope"] == "read write"
    assert connection.base_url == ""
    assert connection.get_credentials() == {"access_token": "zd-at-rotated-0002", "refresh_token": "zd-rt-rotated-0002"}


def test_zendesk_oauth_uses_sandbox_when_set(owner_client, workspace, settings):
    settings.PROVIDER_BASE_URLS = {**settings.PROVIDER_BASE_URLS, "zendesk": "http://sandbox.test/zendesk"}

    response = owner_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "acme"})

    assert response.url.startswith("http://sandbox.test/zendesk/oauth/authorizations/new?")


# Mailchimp


def test_mailchimp_api_key_verifies_at_data_centre(owner_client, workspace):
    mock_mailchimp_root()

    response = owner_client.post(api_key_url(workspace, "mailchimp"), {"api_key": MAILCHIMP_KEY})

    connection = Connection.objects.get()
    assert response.status_code == 302
    assert urlsplit(responses.calls[0].request.url).netloc == "us6.api.mailchimp.com"
    assert urlsplit(responses.calls[0].request.url).path == "/3.0/"
    assert connection.options == {"dc": "us6"}
    assert connection.base_url == ""
    assert connection.account_id == "8d3a3db4d97663a9074efcc16"


def test_mailchimp_key_without_data_centre_makes_no_call(owner_client, workspace):
    response = owner_client.post(api_key_url(workspace, "mailchimp"), {"api_key": MAILCHIMP_KEY_WITHOUT_DC})

    page = response.content.decode()
    assert response.status_code == 400
    assert "The Mailchimp API key has no data centre suffix" in page
    assert MAILCHIMP_KEY_WITHOUT_DC not in page
    assert len(responses.calls) == 0
    assert Connection.objects.count() == 0


def test_mailchimp_oauth_stores_data_centre_from_metadata(owner_client, workspace):
    start = owner_client.post(oauth_start_url(workspace, "mailchimp"))
    responses.add(responses.POST, f"{MAILCHIMP_LOGIN}/oauth2/token", json=load("mailchimp", "oauth_token.json"))
    responses.add(responses.GET, f"{MAILCHIMP_LOGIN}/oauth2/metadata", json=load("mailchimp", "oauth_metadata.json"))
    mock_mailchimp_root()

    response = owner_client.get(callback_url("mailchimp"), {"code": "mc-code-1", "state": query_params(start.url)["state"]})

    connection = Connection.objects.get()
    metadata_calls = [call for call in responses.calls if call.request.url == f"{MAILCHIMP_LOGIN}/oauth2/metadata"]
    assert response.status_code == 302
    assert start.url.startswith(f"{MAILCHIMP_LOGIN}/oauth2/authorize?")
    assert connection.options == {"dc": "us6"}
    assert metadata_calls[0].request.headers["Authorization"] == "OAuth 5c6ccc561059aa386da9d112215bae55"
    assert urlsplit(responses.calls[-1].request.url).netloc == "us6.api.mailchimp.com"


# Personas on the new pages


@pytest.mark.parametrize("page", ["oauth_start", "connect_api_key"])
def test_zendesk_connect_pages_open_for_owner(owner_client, workspace, page):
    response = owner_client.get(reverse(f"connections:{page}", args=[workspace.public_id, "zendesk"]))

    assert response.status_code == 200


@pytest.mark.parametrize("page", ["oauth_start", "connect_api_key"])
def test_zendesk_connect_pages_forbid_member(member_client, workspace, page):
    response = member_client.get(reverse(f"connections:{page}", args=[workspace.public_id, "zendesk"]))

    assert response.status_code == 403


@pytest.mark.parametrize("page", ["oauth_start", "connect_api_key"])
def test_zendesk_connect_pages_hide_from_outsider(outsider_client, workspace, page):
    response = outsider_client.get(reverse(f"connections:{page}", args=[workspace.public_id, "zendesk"]))

    assert response.status_code == 404


def test_zendesk_oauth_start_member_post_starts_nothing(member_client, workspace):
    response = member_client.post(oauth_start_url(workspace, "zendesk"), {"subdomain": "acme"})

    assert response.status_code == 403
    assert member_client.session.get(oauth.SESSION_KEY, {}) == {}


# The API


def test_api_connects_zendesk_with_subdomain_and_token(api_client, workspace):
    mock_zendesk_me()

    response = api_client.post(
        LIST_URL,
        {"provider": "zendesk", "options": {"subdomain": "acme"}, "email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN},
        format="json",
    )

    connection = Connection.objects.get()
    assert response.status_code == 201
    assert responses.calls[0].request.url == ZENDESK_ME
    assert connection.options == {"subdomain": "acme"}
    assert connection.base_url == ""
    assert connection.get_credentials() == {"email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN}
    assert ZENDESK_API_TOKEN not in response.content.decode()


def test_api_bad_subdomain_is_400_without_call(api_client, workspace):
    response = api_client.post(
        LIST_URL,
        {"provider": "zendesk", "options": {"subdomain": "evil.com/x"}, "email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN},
        format="json",
    )

    assert response.status_code == 400
    assert "The Zendesk subdomain 'evil.com/x' is invalid" in response.json()["options"]["subdomain"][0]
    assert len(responses.calls) == 0


def test_api_missing_subdomain_is_400(api_client, workspace):
    response = api_client.post(
        LIST_URL, {"provider": "zendesk", "email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN}, format="json"
    )

    assert response.status_code == 400
    assert "The Zendesk subdomain is missing" in response.json()["options"]["subdomain"][0]


def test_api_zendesk_with_api_key_names_right_fields(api_client, workspace):
    response = api_client.post(
        LIST_URL, {"provider": "zendesk", "options": {"subdomain": "acme"}, "api_key": "x"}, format="json"
    )

    body = response.json()
    assert response.status_code == 400
    assert body["api_key"] == ["Zendesk doesn't take api_key. Send email and api_token to connect it."]
    assert "api_token is required to connect Zendesk" in body["api_token"][0]
    assert len(responses.calls) == 0


def test_api_unknown_option_is_400(api_client, workspace):
    response = api_client.post(
        LIST_URL, {"provider": "mailchimp", "options": {"subdomain": "acme"}, "api_key": MAILCHIMP_KEY}, format="json"
    )

    assert response.status_code == 400
    assert "Mailchimp has no connect option 'subdomain'" in response.json()["options"]["subdomain"][0]
    assert len(responses.calls) == 0


def test_api_connects_mailchimp_with_data_centre(api_client, workspace):
    mock_mailchimp_root()

    response = api_client.post(LIST_URL, {"provider": "mailchimp", "api_key": MAILCHIMP_KEY}, format="json")

    assert response.status_code == 201
    assert Connection.objects.get().options == {"dc": "us6"}
    assert urlsplit(responses.calls[0].request.url).netloc == "us6.api.mailchimp.com"


def test_api_mailchimp_key_without_data_centre_is_400(api_client, workspace):
    response = api_client.post(
        LIST_URL, {"provider": "mailchimp", "api_key": MAILCHIMP_KEY_WITHOUT_DC}, format="json"
    )

    assert response.status_code == 400
    assert "has no data centre suffix" in response.json()["api_key"][0]
    assert len(responses.calls) == 0
    assert Connection.objects.count() == 0


def test_api_rejected_zendesk_token_names_token_field(api_client, workspace):
    mock_zendesk_me(status=401, body=load("zendesk", "error_invalid_token.json"))

    response = api_client.post(
        LIST_URL,
        {"provider": "zendesk", "options": {"subdomain": "acme"}, "email": AGENT_EMAIL, "api_token": ZENDESK_API_TOKEN},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["api_token"][0].startswith("Zendesk rejected this agent email and API token:")
    assert ZENDESK_API_TOKEN not in response.content.decode()
    assert Connection.objects.count() == 0
