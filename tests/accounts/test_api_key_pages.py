import re

from django.urls import reverse

from accounts.models import ApiKey


def url(name, workspace, *args):
    return reverse(f"accounts:{name}", args=[workspace.public_id, *args])


def shown_raw_key(response):
    match = re.search(r'id="new-api-key"[^>]*value="(op_[^"]+)"', response.content.decode())
    return match.group(1) if match else None


def test_api_keys_page_lists_keys(owner_client, workspace, owner):
    api_key, _ = ApiKey.create_key(workspace, "Nightly export", created_by=owner)

    content = owner_client.get(url("api_keys", workspace)).content.decode()

    assert "Nightly export" in content
    assert f"{api_key.prefix}…" in content
    assert "never" in content


def test_create_key_shows_raw_key_once(owner_client, workspace, owner):
    response = owner_client.post(url("api_keys", workspace), {"name": "CRM script"})

    api_key = ApiKey.objects.get(workspace=workspace, name="CRM script")
    raw_key = shown_raw_key(response)
    assert response.status_code == 200
    assert raw_key.startswith(api_key.prefix)
    assert ApiKey.hash(raw_key) == api_key.hashed_key
    assert api_key.created_by == owner


def test_created_key_page_is_not_cached(owner_client, workspace):
    response = owner_client.post(url("api_keys", workspace), {"name": "CRM script"})

    assert "no-store" in response["Cache-Control"]


def test_raw_key_is_not_shown_again(owner_client, workspace):
    raw_key = shown_raw_key(owner_client.post(url("api_keys", workspace), {"name": "CRM script"}))

    content = owner_client.get(url("api_keys", workspace)).content.decode()

    assert raw_key not in content


def test_create_key_rejects_blank_name(owner_client, workspace):
    response = owner_client.post(url("api_keys", workspace), {"name": "  "})

    assert response.status_code == 400
    assert "Key name: This field is required." in response.content.decode()
    assert not ApiKey.objects.filter(workspace=workspace).exists()


def test_revoke_marks_key_revoked(owner_client, workspace, owner):
    api_key, _ = ApiKey.create_key(workspace, "Old script", created_by=owner)

    response = owner_client.post(url("revoke_api_key", workspace, api_key.pk))

    api_key.refresh_from_db()
    assert response.status_code == 302
    assert api_key.revoked_at is not None


def test_revoked_key_is_listed_as_revoked(owner_client, workspace, owner):
    api_key, _ = ApiKey.create_key(workspace, "Old script", created_by=owner)
    api_key.revoke()

    content = owner_client.get(url("api_keys", workspace)).content.decode()

    assert "revoked" in content
    assert url("revoke_api_key", workspace, api_key.pk) not in content


def test_member_cannot_see_api_keys(member_client, workspace):
    response = member_client.get(url("api_keys", workspace))

    assert response.status_code == 403


def test_member_cannot_create_key(member_client, workspace):
    response = member_client.post(url("api_keys", workspace), {"name": "Sneaky"})

    assert response.status_code == 403
    assert not ApiKey.objects.filter(name="Sneaky").exists()


def test_member_cannot_revoke_key(member_client, workspace, owner):
    api_key, _ = ApiKey.create_key(workspace, "Old script", created_by=owner)

    response = member_client.post(url("revoke_api_key", workspace, api_key.pk))

    api_key.refresh_from_db()
    assert response.status_code == 403
    assert api_key.revoked_at is None


def test_revoke_of_other_workspace_key_is_404(owner_client, workspace, other_workspace, outsider):
    api_key, _ = ApiKey.create_key(other_workspace, "Globex script", created_by=outsider)

    response = owner_client.post(url("revoke_api_key", workspace, api_key.pk))

    api_key.refresh_from_db()
    assert response.status_code == 404
    assert api_key.revoked_at is None


def test_keys_of_other_workspace_are_not_listed(owner_client, workspace, other_workspace, outsider):
    ApiKey.create_key(other_workspace, "Globex script", created_by=outsider)

    content = owner_client.get(url("api_keys", workspace)).content.decode()

    assert "Globex script" not in content
