"""
Who may open each workspace page: anonymous visitors, owners, plain members and outsiders.

Every URL below belongs to the `workspace` fixture. Objects in URLs (a
membership, an invitation, an API key) belong to that workspace too, so an
outsider is refused by workspace, not by a missing object.
"""

import pytest
from django.urls import reverse

from accounts.models import ApiKey, Invitation, Membership


@pytest.fixture
def targets(workspace, owner, member):
    """Return the ids that the workspace URLs with an object need."""
    api_key, _ = ApiKey.create_key(workspace, "Access test", created_by=owner)
    invitation = Invitation.objects.create(workspace=workspace, email="new@acme.test", invited_by=owner)
    return {
        "membership_id": Membership.objects.get(workspace=workspace, user=member).pk,
        "invitation_id": invitation.pk,
        "key_id": api_key.pk,
    }


# (URL name, the object id it takes, whether only owners and admins may use it)
WORKSPACE_URLS = [
    ("dashboard", None, False),
    ("members", None, False),
    ("plan", None, False),
    ("leave_workspace", None, False),
    ("invite_member", None, True),
    ("change_member_role", "membership_id", True),
    ("remove_member", "membership_id", True),
    ("withdraw_invitation", "invitation_id", True),
    ("api_keys", None, True),
    ("revoke_api_key", "key_id", True),
    ("settings", None, True),
]
MANAGER_URLS = [(name, object_arg) for name, object_arg, manager_only in WORKSPACE_URLS if manager_only]
PAGE_URLS = ["dashboard", "members", "plan", "api_keys", "settings"]
MEMBER_PAGE_URLS = ["dashboard", "members", "plan"]


def workspace_url(name, workspace, object_arg=None, targets=None):
    kwargs = {"workspace_id": workspace.public_id}
    if object_arg:
        kwargs[object_arg] = targets[object_arg]
    return reverse(f"accounts:{name}", kwargs=kwargs)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name, object_arg, manager_only", WORKSPACE_URLS)
def test_anonymous_is_sent_to_login(client, workspace, targets, name, object_arg, manager_only, method):
    url = workspace_url(name, workspace, object_arg, targets)

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={url}"


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name, object_arg, manager_only", WORKSPACE_URLS)
def test_outsider_gets_404(outsider_client, workspace, targets, name, object_arg, manager_only, method):
    url = workspace_url(name, workspace, object_arg, targets)

    response = getattr(outsider_client, method)(url)

    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name, object_arg", MANAGER_URLS)
def test_member_gets_403_on_manager_urls(member_client, workspace, targets, name, object_arg, method):
    url = workspace_url(name, workspace, object_arg, targets)

    response = getattr(member_client, method)(url)

    assert response.status_code == 403


@pytest.mark.parametrize("name", MEMBER_PAGE_URLS)
def test_member_can_view_page(member_client, workspace, name):
    response = member_client.get(workspace_url(name, workspace))

    assert response.status_code == 200


@pytest.mark.parametrize("name", PAGE_URLS)
def test_owner_can_view_page(owner_client, workspace, name):
    response = owner_client.get(workspace_url(name, workspace))

    assert response.status_code == 200


def test_outsider_posts_change_nothing(outsider_client, workspace, targets, member):
    for name, object_arg, _ in WORKSPACE_URLS:
        outsider_client.post(
            workspace_url(name, workspace, object_arg, targets),
            {"role": "owner", "name": "Hijacked", "email": "x@globex.test", "slack_webhook_url": ""},
        )

    workspace.refresh_from_db()
    assert workspace.name == "Acme"
    assert Membership.objects.get(pk=targets["membership_id"]).role == Membership.Role.MEMBER
    assert Invitation.objects.filter(workspace=workspace).count() == 1
    assert ApiKey.objects.get(pk=targets["key_id"]).revoked_at is None
    assert ApiKey.objects.filter(workspace=workspace).count() == 1


def test_unknown_workspace_is_404(owner_client, workspace):
    response = owner_client.get(reverse("accounts:dashboard", args=["00000000-0000-0000-0000-000000000000"]))

    assert response.status_code == 404


@pytest.mark.parametrize("name", ["invite_member", "change_member_role", "remove_member", "withdraw_invitation", "revoke_api_key", "leave_workspace"])
def test_action_urls_reject_get_for_owner(owner_client, workspace, targets, name):
    object_arg = dict((n, o) for n, o, _ in WORKSPACE_URLS)[name]

    response = owner_client.get(workspace_url(name, workspace, object_arg, targets))

    assert response.status_code == 405
