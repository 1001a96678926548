"""Authentication of API requests: which credentials are accepted and what a rejected client reads."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey

WORKSPACE_URL = reverse("api:workspace")


def client_with_header(value):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


@pytest.fixture
def key_and_raw(workspace, owner):
    return ApiKey.create_key(workspace, "CI", created_by=owner)


def test_anonymous_request_gets_401(db):
    response = APIClient().get(WORKSPACE_URL)

    assert response.status_code == 401
    assert "Authorization: Bearer op_" in response.json()["detail"]


def test_anonymous_request_gets_www_authenticate_header(db):
    response = APIClient().get(WORKSPACE_URL)

    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_valid_key_is_accepted(key_and_raw):
    _, raw_key = key_and_raw

    response = client_with_header(f"Bearer {raw_key}").get(WORKSPACE_URL)

    assert response.status_code == 200


def test_revoked_key_gets_401_naming_its_prefix(key_and_raw):
    api_key, raw_key = key_and_raw
    api_key.revoke()

    response = client_with_header(f"Bearer {raw_key}").get(WORKSPACE_URL)

    assert response.status_code == 401
    assert response.json()["detail"].startswith(f"The API key {api_key.prefix}… was revoked.")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Token op_abc",
        "Bearer op_abc extra",
    ],
)
def test_malformed_authorization_header_gets_401(db, header):
    response = client_with_header(header).get(WORKSPACE_URL)

    assert response.status_code == 401
    assert response.json()["detail"] == (
        "Malformed Authorization header: expected 'Bearer <API key>'."
    )


def test_key_without_op_prefix_gets_401(key_and_raw):
    _, raw_key = key_and_raw

    response = client_with_header(f"Bearer {raw_key.removeprefix('op_')}").get(WORKSPACE_URL)

    assert response.status_code == 401
    assert "Oneprofile keys start with 'op_'" in response.json()["detail"]


def test_unknown_key_gets_401(key_and_raw):
    _, raw_key = key_and_raw

    response = client_with_header(f"Bearer {raw_key}x").get(WORKSPACE_URL)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid API key.")


def test_error_body_has_only_detail(db):
    response = client_with_header("Bearer op_unknown").get(WORKSPACE_URL)

    assert set(response.json()) == {"detail"}


def test_request_records_last_used_at(key_and_raw):
    api_key, raw_key = key_and_raw

    client_with_header(f"Bearer {raw_key}").get(WORKSPACE_URL)

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_recent_last_used_at_is_not_rewritten(key_and_raw):
    api_key, raw_key = key_and_raw
    recently = timezone.now() - timedelta(seconds=5)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=recently)

    client_with_header(f"Bearer {raw_key}").get(WORKSPACE_URL)

    api_key.refresh_from_db()
    assert api_key.last_used_at == recently


def test_session_login_does_not_authenticate_api(owner_client):
    response = owner_client.get(WORKSPACE_URL)

    assert response.status_code == 401
