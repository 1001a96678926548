"""
No credential ever leaves the encrypted column.

Known secrets (API keys, access and refresh tokens, the OAuth client
secret) go through every flow. The flows are connecting with a key on the
page and through the API, connecting with OAuth, a token refresh,
verification, and failing calls whose bodies quote the token back. Then the
logs, every plain column of every table, the pages, the admin and the API
responses are searched for them.
"""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.apps import apps
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection
from tests.connections.fake_provider import CLIENT_ID, FaketoolProvider

pytestmark = pytest.mark.django_db

PAGE_API_KEY = "fk_live_SECRETpagekey7777"
REJECTED_API_KEY = "fk_live_SECRETrejected5555"
API_API_KEY = "fk_live_SECRETapikey8888"
ACCESS_TOKEN = "SECRETaccess1111"
REFRESH_TOKEN = "SECRETrefresh1111"
REFRESHED_ACCESS_TOKEN = "SECRETaccess2222"
REFRESHED_REFRESH_TOKEN = "SECRETrefresh2222"
CLIENT_SECRET = "SECRETclient9999"
SECRETS = [
    PAGE_API_KEY,
    REJECTED_API_KEY,
    API_API_KEY,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    REFRESHED_ACCESS_TOKEN,
    REFRESHED_REFRESH_TOKEN,
    CLIENT_SECRET,
]


def answer_me(status, body):
    responses.upsert(responses.GET, FaketoolProvider.me_url(), status=status, json=body)


def answer_token(status, body):
    responses.upsert(responses.POST, FaketoolProvider.token_url(), status=status, json=body)


def echo_body(secret):
    """A failure body that quotes a credential back, as some tools do."""
    return {
        "error": "invalid_token",
        "message": f"The token {secret} is not valid",
        "request": {"headers": {"Authorization": f"Bearer {secret}"}},
    }


def plain_column_values():
    """Yield (table, column, text) for every stored value outside the encrypted credentials column."""
    for model in apps.get_models():
        for row in model._base_manager.all():
            for field in model._meta.concrete_fields:
                if model is Connection and field.name == "encrypted_credentials":
                    continue
                yield model._meta.db_table, field.column, str(field.value_from_object(row))
            if model is Session:
                # Session data is signed base64; search the decoded content too.
                yield model._meta.db_table, "decoded session_data", str(row.get_decoded())


def leaks_in(text):
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
def all_loggers_at_debug(caplog):
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_secrets_never_leave_encrypted_column(
    all_loggers_at_debug, owner_client, member_client, api_client, staff_client, workspace, settings
):
    caplog = all_loggers_at_debug
    settings.OAUTH_CLIENTS = {
        **settings.OAUTH_CLIENTS,
        "faketool": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    }
    outputs = []

    # A key the tool rejects, quoting it back.
    answer_me(401, echo_body(REJECTED_API_KEY))
    outputs.append(
        owner_client.post(
            reverse("connections:connect_api_key", args=[workspace.public_id, "faketool"]),
            {"api_key": REJECTED_API_KEY},
        )
    )

    # Connect with a key on the page and through the API.
    answer_me(200, {"account": {"id": "acct_1", "name": "Acme"}})
    outputs.append(
        owner_client.post(
            reverse("connections:connect_api_key", args=[workspace.public_id, "faketool"]),
            {"api_key": PAGE_API_KEY, "display_name": "Page key"},
        )
    )
    outputs.append(
        api_client.post(
            "/api/v1/connections/",
            {"provider": "faketool", "api_key": API_API_KEY, "display_name": "API key"},
            format="json",
        )
    )

    # Connect with OAuth.
    answer_token(200, {"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "expires_in": 1800})
    start = owner_client.post(reverse("connections:oauth_start", args=[workspace.public_id, "faketool"]))
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    outputs.append(
        owner_client.get(
            reverse("connections:oauth_callback", args=["faketool"]), {"code": "auth-code", "state": state}
        )
    )
    oauth_connection = Connection.objects.get(auth_method=Connection.AuthMethod.OAUTH)

    # The access token expires, so verifying refreshes it first.
    Connection.objects.filter(pk=oauth_connection.pk).update(token_expires_at=timezone.now() - timedelta(minutes=1))
    answer_token(
        200, {"access_token": REFRESHED_ACCESS_TOKEN, "refresh_token": REFRESHED_REFRESH_TOKEN, "expires_in": 1800}
    )
    verify_url = reverse("connections:verify", args=[workspace.public_id, oauth_connection.public_id])
    outputs.append(member_client.post(verify_url, follow=True))

    # A 500 quoting the key back, then a 401 quoting the token back whose refresh is refused.
    page_connection = Connection.objects.get(display_name="Page key")
    answer_me(500, echo_body(PAGE_API_KEY))
    outputs.append(api_client.post(f"/api/v1/connections/{page_connection.public_id}/verify/"))
    answer_me(401, echo_body(REFRESHED_ACCESS_TOKEN))
    answer_token(400, {"error": "invalid_grant", "error_description": f"{REFRESHED_REFRESH_TOKEN} was revoked"})
    outputs.append(member_client.post(verify_url, follow=True))

    oauth_connection.refresh_from_db()
    token_requests = [call for call in responses.calls if call.request.url == FaketoolProvider.token_url()]
    assert oauth_connection.status == Connection.Status.NEEDS_REAUTH
    assert len(token_requests) == 3
    assert Connection.objects.count() == 3

    # Pages, admin and API after the flows.
    for connection in Connection.objects.all():
        outputs.append(owner_client.get(connection.get_absolute_url()))
        outputs.append(staff_client.get(reverse("admin:connections_connection_change", args=[connection.pk])))
        outputs.append(api_client.get(f"/api/v1/connections/{connection.public_id}/"))
    outputs.append(owner_client.get(reverse("connections:list", args=[workspace.public_id])))
    outputs.append(staff_client.get(reverse("admin:connections_connection_changelist")))
    outputs.append(api_client.get("/api/v1/connections/"))

    for response in outputs:
        assert leaks_in(response.content.decode()) == [], response.wsgi_request.path
    assert leaks_in(caplog.text) == []
    assert leaks_in("\n".join(caplog.messages)) == []
    for table, column, value in plain_column_values():
        assert leaks_in(value) == [], f"{table}.{column}"
