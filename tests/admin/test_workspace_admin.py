"""The workspace admin: finding a workspace by a member's email, its columns and its inlines."""

from django.urls import reverse

from accounts.models import Invitation, Membership, Plan, Workspace
from tests.admin import staff_client, staff_user  # noqa: F401

CHANGELIST = reverse("admin:accounts_workspace_changelist")


def listed_workspaces(response):
    return list(response.context["cl"].result_list)


def test_search_by_member_email_finds_workspace(staff_client, workspace, member, other_workspace):
    response = staff_client.get(CHANGELIST, {"q": "member@acme.test"})

    assert listed_workspaces(response) == [workspace]


def test_search_by_owner_email_lists_workspace_once(staff_client, workspace, member):
    response = staff_client.get(CHANGELIST, {"q": "acme.test"})

    assert listed_workspaces(response) == [workspace]


def test_search_by_slug_finds_workspace(staff_client, workspace, other_workspace):
    response = staff_client.get(CHANGELIST, {"q": other_workspace.slug})

    assert listed_workspaces(response) == [other_workspace]


def test_search_by_name_finds_workspace(staff_client, workspace, other_workspace):
    response = staff_client.get(CHANGELIST, {"q": "Globex"})

    assert listed_workspaces(response) == [other_workspace]


def test_list_shows_member_count(staff_client, workspace, member, other_workspace):
    response = staff_client.get(CHANGELIST)

    counts = {row.name: row.member_count for row in listed_workspaces(response)}
    assert counts == {"Acme": 2, "Globex": 1}


def test_member_count_is_not_inflated_by_email_search(staff_client, workspace, member):
    response = staff_client.get(CHANGELIST, {"q": "acme.test"})

    assert listed_workspaces(response)[0].member_count == 2


def test_filter_by_plan(staff_client, workspace, other_workspace):
    larger = Plan.objects.exclude(pk=workspace.plan_id).first()
    other_workspace.plan = larger
    other_workspace.save()

    response = staff_client.get(CHANGELIST, {"plan__id__exact": larger.pk})

    assert listed_workspaces(response) == [other_workspace]


def test_change_page_shows_members_and_invitations(staff_client, workspace, member, owner):
    Invitation.objects.create(workspace=workspace, email="invitee@acme.test", invited_by=owner)

    response = staff_client.get(reverse("admin:accounts_workspace_change", args=[workspace.pk]))

    content = response.content.decode()
    assert "member@acme.test" in content
    assert "invitee@acme.test" in content


def test_change_page_never_shows_invitation_token(staff_client, workspace, owner):
    invitation = Invitation.objects.create(
        workspace=workspace, email="invitee@acme.test", invited_by=owner
    )

    response = staff_client.get(reverse("admin:accounts_workspace_change", args=[workspace.pk]))

    assert invitation.token() not in response.content.decode()


def test_change_page_never_shows_slack_webhook_url(staff_client, workspace):
    workspace.slack_webhook_url = "https://hooks.slack.test/services/T000/B000/topsecret"
    workspace.save()

    response = staff_client.get(reverse("admin:accounts_workspace_change", args=[workspace.pk]))

    content = response.content.decode()
    assert "topsecret" not in content
    assert "configured" in content


def management_form(prefix, total, initial):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def workspace_change_data(workspace, memberships):
    data = {"name": workspace.name, "slug": workspace.slug, "plan": workspace.plan_id}
    data.update(management_form("memberships", len(memberships), len(memberships)))
    data.update(management_form("invitations", 0, 0))
    for index, (membership, role) in enumerate(memberships):
        data[f"memberships-{index}-id"] = membership.pk
        data[f"memberships-{index}-workspace"] = workspace.pk
        data[f"memberships-{index}-user"] = membership.user_id
        data[f"memberships-{index}-role"] = role
    return data


def test_inline_rejects_demoting_last_owner(staff_client, workspace, owner):
    ownership = Membership.objects.get(user=owner)
    data = workspace_change_data(workspace, [(ownership, Membership.Role.MEMBER)])

    response = staff_client.post(
        reverse("admin:accounts_workspace_change", args=[workspace.pk]), data
    )

    assert response.status_code == 200
    assert "A workspace needs at least one owner." in response.content.decode()
    ownership.refresh_from_db()
    assert ownership.role == Membership.Role.OWNER


def test_inline_saves_role_change_that_keeps_an_owner(staff_client, workspace, owner, member):
    ownership = Membership.objects.get(user=owner)
    membership = Membership.objects.get(user=member)
    data = workspace_change_data(
        workspace, [(membership, Membership.Role.ADMIN), (ownership, Membership.Role.OWNER)]
    )

    response = staff_client.post(
        reverse("admin:accounts_workspace_change", args=[workspace.pk]), data
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Membership.Role.ADMIN


def test_add_workspace_requires_an_owner(staff_client, db):
    plan = Plan.default()
    data = {"name": "Initech", "slug": "initech", "plan": plan.pk}
    data.update(management_form("memberships", 0, 0))
    data.update(management_form("invitations", 0, 0))

    response = staff_client.post(reverse("admin:accounts_workspace_add"), data)

    assert response.status_code == 200
    assert not Workspace.objects.filter(slug="initech").exists()
