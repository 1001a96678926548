from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership
from tests.conftest import logged_in_client, make_user


class FailingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPException("Connection unexpectedly closed")


@pytest.fixture
def admin(workspace):
    user = make_user("admin@acme.test", "Ada Admin")
    Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def admin_client(admin):
    return logged_in_client(admin)


def url(name, workspace, *args):
    return reverse(f"accounts:{name}", args=[workspace.public_id, *args])


def membership_of(user, workspace):
    return Membership.objects.get(user=user, workspace=workspace)


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


# Listing


def test_members_page_lists_members_with_roles(owner_client, workspace, member):
    content = owner_client.get(url("members", workspace)).content.decode()

    assert "owner@acme.test" in content
    assert "member@acme.test" in content
    assert '<option value="member" selected>Member</option>' in content


def test_members_page_shows_member_list_without_controls(member_client, workspace, owner):
    response = member_client.get(url("members", workspace))

    content = response.content.decode()
    assert response.status_code == 200
    assert "owner@acme.test" in content
    assert url("invite_member", workspace) not in content
    assert 'name="role"' not in content


def test_members_page_shows_pending_invitations(owner_client, workspace, owner):
    Invitation.objects.create(workspace=workspace, email="pending@acme.test", invited_by=owner)

    content = owner_client.get(url("members", workspace)).content.decode()

    assert "pending@acme.test" in content


# Inviting


def test_invite_creates_invitation_and_sends_link(owner_client, workspace, owner, mailoutbox):
    response = owner_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "admin"})

    invitation = Invitation.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert invitation.email == "new@acme.test"
    assert invitation.role == Membership.Role.ADMIN
    assert invitation.invited_by == owner
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new@acme.test"]
    assert "http://127.0.0.1:8000/invitations/" in mailoutbox[0].body


def test_invite_link_in_email_opens_invitation(owner_client, workspace, mailoutbox, client):
    owner_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "member"})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/invitations/" in line)

    response = client.get(link.replace("http://127.0.0.1:8000", ""))

    assert response.status_code == 200
    assert "Join Acme" in response.content.decode()


def test_invite_rejects_existing_member_in_other_case(owner_client, workspace, member, mailoutbox):
    response = owner_client.post(url("invite_member", workspace), {"email": "MEMBER@acme.test", "role": "member"})

    assert response.status_code == 400
    assert "Email address: MEMBER@acme.test is already a member of this workspace." in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_invite_rejects_email_with_pending_invitation(owner_client, workspace, owner):
    Invitation.objects.create(workspace=workspace, email="new@acme.test", invited_by=owner)

    response = owner_client.post(url("invite_member", workspace), {"email": "New@acme.test", "role": "member"})

    assert response.status_code == 400
    assert "already has a pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1


@override_settings(INVITATION_MAX_AGE=3600)
def test_invite_replaces_expired_invitation(owner_client, workspace, owner):
    old = Invitation.objects.create(workspace=workspace, email="new@acme.test", invited_by=owner)
    Invitation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))

    owner_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "member"})

    assert Invitation.objects.count() == 1
    assert not Invitation.objects.filter(pk=old.pk).exists()


def test_invite_rejects_invalid_email(owner_client, workspace):
    response = owner_client.post(url("invite_member", workspace), {"email": "new-at-acme", "role": "member"})

    assert response.status_code == 400
    assert "Email address: Enter a valid email address." in response.content.decode()
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_owner(admin_client, workspace, mailoutbox):
    response = admin_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "owner"})

    assert response.status_code == 400
    assert "Role: Only owners can invite owners." in response.content.decode()
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_admin_can_invite_admin(admin_client, workspace, mailoutbox):
    admin_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "admin"})

    assert Invitation.objects.get().role == Membership.Role.ADMIN


def test_member_cannot_invite(member_client, workspace, mailoutbox):
    response = member_client.post(url("invite_member", workspace), {"email": "new@acme.test", "role": "member"})

    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mailoutbox == []


@override_settings(EMAIL_BACKEND="tests.accounts.test_member_pages.FailingEmailBackend")
def test_invite_stores_nothing_when_email_fails(owner_client, workspace):
    response = owner_client.post(
        url("invite_member", workspace), {"email": "new@acme.test", "role": "member"}, follow=True
    )

    assert not Invitation.objects.exists()
    assert "Sending the invitation email to new@acme.test failed" in page_messages(response)[0]


# Withdrawing


def test_withdraw_deletes_invitation(owner_client, workspace, owner):
    invitation = Invitation.objects.create(workspace=workspace, email="new@acme.test", invited_by=owner)

    response = owner_client.post(url("withdraw_invitation", workspace, invitation.pk))

    assert response.status_code == 302
    assert not Invitation.objects.exists()


def test_admin_cannot_withdraw_owner_invitation(admin_client, workspace, owner):
    invitation = Invitation.objects.create(
        workspace=workspace, email="new@acme.test", role=Membership.Role.OWNER, invited_by=owner
    )

    response = admin_client.post(url("withdraw_invitation", workspace, invitation.pk))

    assert response.status_code == 403
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_withdraw_of_other_workspace_invitation_is_404(owner_client, workspace, other_workspace, outsider):
    invitation = Invitation.objects.create(workspace=other_workspace, email="new@globex.test", invited_by=outsider)

    response = owner_client.post(url("withdraw_invitation", workspace, invitation.pk))

    assert response.status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).exists()


# Changing roles


def test_owner_makes_member_admin(owner_client, workspace, member):
    target = membership_of(member, workspace)

    response = owner_client.post(url("change_member_role", workspace, target.pk), {"role": "admin"}, follow=True)

    target.refresh_from_db()
    assert target.role == Membership.Role.ADMIN
    assert page_messages(response) == ["member@acme.test is now admin."]


def test_last_owner_cannot_be_demoted(owner_client, workspace, owner):
    target = membership_of(owner, workspace)

    response = owner_client.post(url("change_member_role", workspace, target.pk), {"role": "member"}, follow=True)

    target.refresh_from_db()
    assert target.role == Membership.Role.OWNER
    assert "owner@acme.test is the workspace's last owner" in page_messages(response)[0]


def test_owner_can_be_demoted_when_another_owner_exists(owner_client, workspace, owner, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.OWNER)
    target = membership_of(owner, workspace)

    owner_client.post(url("change_member_role", workspace, target.pk), {"role": "admin"})

    target.refresh_from_db()
    assert target.role == Membership.Role.ADMIN


def test_change_role_rejects_unknown_role(owner_client, workspace, member):
    target = membership_of(member, workspace)

    response = owner_client.post(url("change_member_role", workspace, target.pk), {"role": "superuser"}, follow=True)

    target.refresh_from_db()
    assert target.role == Membership.Role.MEMBER
    assert page_messages(response) == ["Role: superuser is not a role. Choose owner, admin or member."]


def test_admin_cannot_make_owner(admin_client, workspace, member):
    target = membership_of(member, workspace)

    response = admin_client.post(url("change_member_role", workspace, target.pk), {"role": "owner"})

    target.refresh_from_db()
    assert response.status_code == 403
    assert target.role == Membership.Role.MEMBER


def test_admin_cannot_demote_owner(admin_client, workspace, owner, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.OWNER)
    target = membership_of(owner, workspace)

    response = admin_client.post(url("change_member_role", workspace, target.pk), {"role": "member"})

    target.refresh_from_db()
    assert response.status_code == 403
    assert target.role == Membership.Role.OWNER


def test_admin_makes_member_admin(admin_client, workspace, member):
    target = membership_of(member, workspace)

    admin_client.post(url("change_member_role", workspace, target.pk), {"role": "admin"})

    target.refresh_from_db()
    assert target.role == Membership.Role.ADMIN


def test_member_cannot_change_roles(member_client, workspace, member):
    target = membership_of(member, workspace)

    response = member_client.post(url("change_member_role", workspace, target.pk), {"role": "owner"})

    target.refresh_from_db()
    assert response.status_code == 403
    assert target.role == Membership.Role.MEMBER


def test_change_role_of_other_workspace_membership_is_404(owner_client, workspace, other_workspace, outsider):
    target = membership_of(outsider, other_workspace)

    response = owner_client.post(url("change_member_role", workspace, target.pk), {"role": "member"})

    target.refresh_from_db()
    assert response.status_code == 404
    assert target.role == Membership.Role.OWNER


# Removing and leaving


def test_owner_removes_member(owner_client, workspace, member):
    target = membership_of(member, workspace)

    response = owner_client.post(url("remove_member", workspace, target.pk), follow=True)

    assert not Membership.objects.filter(pk=target.pk).exists()
    assert page_messages(response) == ["Removed member@acme.test from Acme."]


def test_last_owner_cannot_be_removed(owner_client, workspace, owner):
    target = membership_of(owner, workspace)

    response = owner_client.post(url("remove_member", workspace, target.pk), follow=True)

    assert Membership.objects.filter(pk=target.pk).exists()
    assert "owner@acme.test is the workspace's last owner and can't be removed" in page_messages(response)[0]


def test_admin_cannot_remove_owner(admin_client, workspace, owner, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.OWNER)
    target = membership_of(owner, workspace)

    response = admin_client.post(url("remove_member", workspace, target.pk))

    assert response.status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_admin_removes_member(admin_client, workspace, member):
    target = membership_of(member, workspace)

    admin_client.post(url("remove_member", workspace, target.pk))

    assert not Membership.objects.filter(pk=target.pk).exists()


def test_member_cannot_remove_others(member_client, workspace, owner):
    target = membership_of(owner, workspace)

    response = member_client.post(url("remove_member", workspace, target.pk))

    assert response.status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_remove_of_other_workspace_membership_is_404(owner_client, workspace, other_workspace, outsider):
    target = membership_of(outsider, other_workspace)

    response = owner_client.post(url("remove_member", workspace, target.pk))

    assert response.status_code == 404
    assert Membership.objects.filter(pk=target.pk).exists()


def test_member_leaves_workspace(member_client, workspace, member):
    response = member_client.post(url("leave_workspace", workspace))

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
    assert not Membership.objects.filter(user=member, workspace=workspace).exists()


def test_left_workspace_is_404_afterwards(member_client, workspace):
    member_client.post(url("leave_workspace", workspace))

    response = member_client.get(url("dashboard", workspace))

    assert response.status_code == 404


def test_last_owner_cannot_leave(owner_client, workspace, owner):
    response = owner_client.post(url("leave_workspace", workspace), follow=True)

    assert Membership.objects.filter(user=owner, workspace=workspace).exists()
    assert "owner@acme.test is the workspace's last owner" in page_messages(response)[0]


def test_owner_leaves_when_another_owner_exists(owner_client, workspace, owner, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.OWNER)

    owner_client.post(url("leave_workspace", workspace))

    assert not Membership.objects.filter(user=owner, workspace=workspace).exists()
