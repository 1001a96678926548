"""The API keys endpoints: list, detail and revoke, scoped to the request's workspace."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey

LIST_URL = reverse("api:api-key-list")


def detail_url(api_key):
    return reverse("api:api-key-detail", args=[api_key.pk])


def revoke_url(api_key):
    return reverse("api:api-key-revoke", args=[api_key.pk])


@pytest.fixture
def ci_key(workspace, owner):
    api_key, _ = ApiKey.create_key(workspace, "CI", created_by=owner)
    return api_key


@pytest.fixture
def outsider_key(other_workspace, outsider):
    api_key, _ = ApiKey.create_key(other_workspace, "Globex CI", created_by=outsider)
    return api_key


def current_key(workspace):
    return ApiKey.objects.get(workspace=workspace, name="Test key")


def test_list_returns_workspace_keys(api_client, ci_key, outsider_key):
    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert sorted(row["name"] for row in response.json()["results"]) == ["CI", "Test key"]


def test_list_returns_key_fields(api_client, ci_key):
    rows = {row["name"]: row for row in api_client.get(LIST_URL).json()["results"]}

    assert rows["CI"]["prefix"] == ci_key.prefix
    assert rows["CI"]["created_by"] == "owner@acme.test"
    assert rows["CI"]["is_active"] is True
    assert rows["CI"]["revoked_at"] is None


def test_list_marks_current_key(api_client, ci_key):
    rows = {row["name"]: row for row in api_client.get(LIST_URL).json()["results"]}

    assert rows["Test key"]["is_current"] is True
    assert rows["CI"]["is_current"] is False


def test_list_never_returns_hash(api_client, ci_key, workspace):
    content = api_client.get(LIST_URL).content.decode()

    assert ci_key.hashed_key not in content
    assert current_key(workspace).hashed_key not in content
    assert "hashed_key" not in content


def test_detail_never_returns_hash(api_client, ci_key):
    content = api_client.get(detail_url(ci_key)).content.decode()

    assert ci_key.hashed_key not in content


def test_command_key_has_null_creator(api_client, workspace):
    api_key, _ = ApiKey.create_key(workspace, "From the shell")

    response = api_client.get(detail_url(api_key))

    assert response.json()["created_by"] is None


def test_outsider_key_lists_only_its_keys(outsider_api_client, ci_key, outsider_key):
    names = sorted(row["name"] for row in outsider_api_client.get(LIST_URL).json()["results"])

    assert names == ["Globex CI", "Test key"]


def test_anonymous_list_gets_401(ci_key):
    response = APIClient().get(LIST_URL)

    assert response.status_code == 401


def test_outsider_detail_of_owner_key_gets_404(outsider_api_client, ci_key):
    response = outsider_api_client.get(detail_url(ci_key))

    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"No API key with id '{ci_key.pk}' exists in this workspace. List them to find the right id."
    )


def test_revoke_sets_revoked_at(api_client, ci_key):
    response = api_client.post(revoke_url(ci_key))

    assert response.status_code == 200
    ci_key.refresh_from_db()
    assert ci_key.revoked_at is not None


def test_revoke_returns_revoked_key(api_client, ci_key):
    body = api_client.post(revoke_url(ci_key)).json()

    assert body["is_active"] is False
    assert body["revoked_at"] is not None


def test_revoked_key_is_rejected_afterwards(api_client, workspace, owner):
    api_key, raw_key = ApiKey.create_key(workspace, "Doomed", created_by=owner)
    api_client.post(revoke_url(api_key))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.get(LIST_URL)

    assert response.status_code == 401


def test_revoke_of_revoked_key_keeps_revoked_at(api_client, ci_key):
    ci_key.revoke()
    first_revoked_at = ci_key.revoked_at

    response = api_client.post(revoke_url(ci_key))

    assert response.status_code == 200
    ci_key.refresh_from_db()
    assert ci_key.revoked_at == first_revoked_at


def test_delete_revokes_and_keeps_row(api_client, ci_key):
    response = api_client.delete(detail_url(ci_key))

    assert response.status_code == 204
    ci_key.refresh_from_db()
    assert ci_key.revoked_at is not None


def test_key_may_revoke_itself(api_client, workspace):
    api_key = current_key(workspace)

    response = api_client.post(revoke_url(api_key))

    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_self_revoked_key_gets_401_on_next_request(api_client, workspace):
    api_client.post(revoke_url(current_key(workspace)))

    response = api_client.get(LIST_URL)

    assert response.status_code == 401
    assert "was revoked" in response.json()["detail"]


def test_outsider_revoke_of_owner_key_gets_404(outsider_api_client, ci_key):
    response = outsider_api_client.post(revoke_url(ci_key))

    assert response.status_code == 404
    ci_key.refresh_from_db()
    assert ci_key.revoked_at is None


def test_outsider_delete_of_owner_key_gets_404(outsider_api_client, ci_key):
    response = outsider_api_client.delete(detail_url(ci_key))

    assert response.status_code == 404
    ci_key.refresh_from_db()
    assert ci_key.revoked_at is None


def test_anonymous_revoke_gets_401(ci_key):
    response = APIClient().post(revoke_url(ci_key))

    assert response.status_code == 401
    ci_key.refresh_from_db()
    assert ci_key.revoked_at is None


def test_revoke_of_unknown_id_gets_404(api_client):
    response = api_client.post(reverse("api:api-key-revoke", args=[999999]))

    assert response.status_code == 404


def test_keys_cannot_be_created_through_api(api_client, workspace):
    response = api_client.post(LIST_URL, {"name": "New"}, format="json")

    assert response.status_code == 405
    assert not ApiKey.objects.filter(workspace=workspace, name="New").exists()
