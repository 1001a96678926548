"""GET and PATCH /api/v1/workspace/: the workspace of the request's API key."""

from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Workspace

URL = reverse("api:workspace")


def test_get_returns_key_workspace(api_client, workspace):
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json()["public_id"] == str(workspace.public_id)
    assert response.json()["name"] == "Acme"
    assert response.json()["slug"] == workspace.slug


def test_get_returns_plan_limits(api_client, workspace):
    plan = workspace.plan

    body = api_client.get(URL).json()

    assert body["plan"] == {
        "code": plan.code,
        "name": plan.name,
        "max_connections": plan.max_connections,
        "max_syncs": plan.max_syncs,
        "min_interval_minutes": plan.min_interval_minutes,
        "max_records_per_month": plan.max_records_per_month,
    }


def test_get_returns_created_at(api_client):
    body = api_client.get(URL).json()

    assert body["created_at"]


def test_get_hides_slack_webhook_url(api_client, workspace):
    workspace.slack_webhook_url = "https://hooks.slack.test/services/T000/B000/secret"
    workspace.save()

    response = api_client.get(URL)

    assert "secret" not in response.content.decode()


def test_outsider_key_gets_its_own_workspace(outsider_api_client, other_workspace, workspace):
    body = outsider_api_client.get(URL).json()

    assert body["public_id"] == str(other_workspace.public_id)
    assert body["name"] == "Globex"


def test_anonymous_get_gets_401(workspace):
    response = APIClient().get(URL)

    assert response.status_code == 401


def test_patch_renames_workspace(api_client, workspace):
    response = api_client.patch(URL, {"name": "Acme Inc"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Acme Inc"
    workspace.refresh_from_db()
    assert workspace.name == "Acme Inc"


def test_patch_strips_surrounding_whitespace(api_client, workspace):
    api_client.patch(URL, {"name": "  Acme Inc  "}, format="json")

    workspace.refresh_from_db()
    assert workspace.name == "Acme Inc"


def test_patch_keeps_slug(api_client, workspace):
    slug = workspace.slug

    api_client.patch(URL, {"name": "Acme Inc"}, format="json")

    workspace.refresh_from_db()
    assert workspace.slug == slug


def test_outsider_patch_renames_only_its_workspace(outsider_api_client, workspace, other_workspace):
    outsider_api_client.patch(URL, {"name": "Renamed"}, format="json")

    workspace.refresh_from_db()
    other_workspace.refresh_from_db()
    assert workspace.name == "Acme"
    assert other_workspace.name == "Renamed"


def test_anonymous_patch_gets_401_and_changes_nothing(workspace):
    response = APIClient().patch(URL, {"name": "Hacked"}, format="json")

    assert response.status_code == 401
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_patch_blank_name_gets_400(api_client, workspace):
    response = api_client.patch(URL, {"name": "   "}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "name": ["The workspace name can't be blank. Send a name of 1 to 100 characters."]
    }
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_patch_null_name_gets_400(api_client, workspace):
    response = api_client.patch(URL, {"name": None}, format="json")

    assert response.status_code == 400
    assert "can't be null" in response.json()["name"][0]


def test_patch_long_name_gets_400_with_its_length(api_client, workspace):
    response = api_client.patch(URL, {"name": "x" * 101}, format="json")

    assert response.status_code == 400
    assert response.json()["name"] == [
        "The workspace name has 101 characters, more than the maximum of 100. Send a shorter name."
    ]
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_patch_name_of_100_characters_is_accepted(api_client, workspace):
    response = api_client.patch(URL, {"name": "x" * 100}, format="json")

    assert response.status_code == 200
    workspace.refresh_from_db()
    assert workspace.name == "x" * 100


def test_patch_read_only_field_gets_400(api_client, workspace):
    slug = workspace.slug

    response = api_client.patch(URL, {"name": "Acme Inc", "slug": "new-slug"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"slug": ["'slug' is read-only. The writable fields are: name."]}
    workspace.refresh_from_db()
    assert workspace.slug == slug
    assert workspace.name == "Acme"


def test_patch_unknown_field_gets_400(api_client):
    response = api_client.patch(URL, {"colour": "red"}, format="json")

    assert response.status_code == 400
    assert response.json()["colour"] == [
        "'colour' is not a field of this resource. The writable fields are: name."
    ]


def test_put_is_not_allowed(api_client):
    response = api_client.put(URL, {"name": "Acme Inc"}, format="json")

    assert response.status_code == 405


def test_delete_is_not_allowed_and_keeps_workspace(api_client, workspace):
    response = api_client.delete(URL)

    assert response.status_code == 405
    assert Workspace.objects.filter(pk=workspace.pk).exists()
