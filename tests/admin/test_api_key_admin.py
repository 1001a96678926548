"""The API key admin: no digest on any page, no add form, and the revoke action."""

import pytest
from django.urls import reverse

from accounts.models import ApiKey
from tests.admin import staff_client, staff_user  # noqa: F401

CHANGELIST = reverse("admin:accounts_apikey_changelist")


@pytest.fixture
def api_key(workspace, owner):
    key, _ = ApiKey.create_key(workspace, "CI", created_by=owner)
    return key


@pytest.fixture
def raw_key(workspace, owner):
    _, raw = ApiKey.create_key(workspace, "Deploy", created_by=owner)
    return raw


def test_changelist_never_contains_hash(staff_client, api_key):
    content = staff_client.get(CHANGELIST).content.decode()

    assert api_key.hashed_key not in content


def test_changelist_shows_prefix_and_workspace(staff_client, api_key):
    content = staff_client.get(CHANGELIST).content.decode()

    assert api_key.prefix in content
    assert "Acme" in content


def test_change_page_never_contains_hash(staff_client, api_key):
    response = staff_client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))

    assert response.status_code == 200
    assert api_key.hashed_key not in response.content.decode()


def test_change_page_has_no_hashed_key_field(staff_client, api_key):
    response = staff_client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk]))

    assert "hashed_key" not in response.content.decode()


def test_search_by_hash_finds_nothing(staff_client, api_key):
    response = staff_client.get(CHANGELIST, {"q": api_key.hashed_key})

    assert list(response.context["cl"].result_list) == []


def test_search_by_raw_key_secret_finds_nothing(staff_client, raw_key):
    response = staff_client.get(CHANGELIST, {"q": raw_key})

    assert list(response.context["cl"].result_list) == []


def test_filter_by_hash_is_rejected(staff_client, api_key):
    response = staff_client.get(CHANGELIST, {"hashed_key": api_key.hashed_key})

    assert response.status_code == 400


def test_search_by_prefix_finds_key(staff_client, api_key):
    response = staff_client.get(CHANGELIST, {"q": api_key.prefix})

    assert list(response.context["cl"].result_list) == [api_key]


def test_add_page_is_forbidden(staff_client, db):
    response = staff_client.get(reverse("admin:accounts_apikey_add"))

    assert response.status_code == 403


def test_revoke_action_revokes_selected_keys(staff_client, api_key, workspace):
    other, _ = ApiKey.create_key(workspace, "Other")

    response = staff_client.post(
        CHANGELIST, {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )

    api_key.refresh_from_db()
    other.refresh_from_db()
    assert api_key.revoked_at is not None
    assert other.revoked_at is None
    assert "Revoked 1 API key(s)." in response.content.decode()


def test_revoke_action_keeps_earlier_revoked_at(staff_client, api_key):
    api_key.revoke()
    first_revoked_at = api_key.revoked_at

    response = staff_client.post(
        CHANGELIST, {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at == first_revoked_at
    assert "1 selected key(s) were already revoked" in response.content.decode()


def test_filter_by_status_lists_revoked_keys(staff_client, api_key, workspace):
    revoked, _ = ApiKey.create_key(workspace, "Old")
    revoked.revoke()

    response = staff_client.get(CHANGELIST, {"status": "revoked"})

    assert list(response.context["cl"].result_list) == [revoked]


def test_rename_keeps_hash(staff_client, api_key):
    hashed_key = api_key.hashed_key

    response = staff_client.post(
        reverse("admin:accounts_apikey_change", args=[api_key.pk]), {"name": "Renamed"}
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.name == "Renamed"
    assert api_key.hashed_key == hashed_key
