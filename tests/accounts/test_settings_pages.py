import pytest
from django.urls import reverse

from accounts.models import Workspace

SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"


def settings_url(workspace):
    return reverse("accounts:settings", args=[workspace.public_id])


def test_settings_page_shows_current_values(owner_client, workspace):
    workspace.slack_webhook_url = SLACK_URL
    workspace.save()

    content = owner_client.get(settings_url(workspace)).content.decode()

    assert 'value="Acme"' in content
    assert f'value="{SLACK_URL}"' in content


def test_settings_renames_workspace(owner_client, workspace):
    response = owner_client.post(settings_url(workspace), {"name": "Acme Corp", "slack_webhook_url": ""})

    workspace.refresh_from_db()
    assert response.status_code == 302
    assert workspace.name == "Acme Corp"


def test_rename_keeps_slug_and_public_id(owner_client, workspace):
    slug, public_id = workspace.slug, workspace.public_id

    owner_client.post(settings_url(workspace), {"name": "Acme Corp", "slack_webhook_url": ""})

    workspace.refresh_from_db()
    assert workspace.slug == slug
    assert workspace.public_id == public_id


def test_settings_saves_slack_webhook(owner_client, workspace):
    owner_client.post(settings_url(workspace), {"name": "Acme", "slack_webhook_url": f"  {SLACK_URL} "})

    workspace.refresh_from_db()
    assert workspace.slack_webhook_url == SLACK_URL


def test_settings_clears_slack_webhook(owner_client, workspace):
    workspace.slack_webhook_url = SLACK_URL
    workspace.save()

    owner_client.post(settings_url(workspace), {"name": "Acme", "slack_webhook_url": ""})

    workspace.refresh_from_db()
    assert workspace.slack_webhook_url == ""


@pytest.mark.parametrize(
    "bad_url",
    [
        "http://hooks.slack.com/services/T0000/B0000/XXXX",
        "https://example.com/services/T0000/B0000/XXXX",
        "https://hooks.slack.com.evil.test/services/T0000",
        "https://hooks.slack.com/",
        "https://hooks.slack.com:8443/services/T0000",
        "hooks.slack.com/services/T0000/B0000/XXXX",
        "not a url",
    ],
)
def test_settings_rejects_malformed_slack_url(owner_client, workspace, bad_url):
    workspace.slack_webhook_url = SLACK_URL
    workspace.save()

    response = owner_client.post(settings_url(workspace), {"name": "Renamed", "slack_webhook_url": bad_url})

    content = response.content.decode()
    workspace.refresh_from_db()
    assert response.status_code == 400
    assert "Slack webhook URL:" in content
    assert "must start with https://hooks.slack.com/" in content
    assert workspace.slack_webhook_url == SLACK_URL
    assert workspace.name == "Acme"


def test_rejected_settings_keep_stored_name_in_header(owner_client, workspace):
    response = owner_client.post(settings_url(workspace), {"name": "Renamed", "slack_webhook_url": "not a url"})

    assert "<summary>Acme</summary>" in response.content.decode()


def test_settings_rejects_blank_name(owner_client, workspace):
    response = owner_client.post(settings_url(workspace), {"name": " ", "slack_webhook_url": ""})

    assert response.status_code == 400
    assert "Workspace name: This field is required." in response.content.decode()
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"


def test_member_cannot_open_settings(member_client, workspace):
    response = member_client.get(settings_url(workspace))

    assert response.status_code == 403


def test_member_cannot_rename(member_client, workspace):
    response = member_client.post(settings_url(workspace), {"name": "Hijacked", "slack_webhook_url": ""})

    workspace.refresh_from_db()
    assert response.status_code == 403
    assert workspace.name == "Acme"


def test_rename_with_invisible_characters_is_rejected(owner_client, workspace):
    from django.urls import reverse

    response = owner_client.post(
        reverse("accounts:settings", args=[workspace.public_id]),
        {"name": "Acme\u202e\u200b", "slack_webhook_url": ""},
    )

    workspace.refresh_from_db()
    assert response.status_code == 400
    assert "invisible or control characters (U+200B, U+202E)" in response.content.decode()
    assert workspace.name == "Acme"
