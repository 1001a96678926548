import time

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import Invitation, Membership, User
from tests.conftest import PASSWORD, logged_in_client, make_user

GOOD_PASSWORD = "plum-violin-orbit-42"


@pytest.fixture
def invitation(workspace, owner):
    return Invitation.objects.create(
        workspace=workspace, email="Invitee@acme.test", role=Membership.Role.ADMIN, invited_by=owner
    )


@pytest.fixture
def invitee(db):
    return make_user("invitee@ACME.test")


def accept_url(token):
    return reverse("accounts:accept_invitation", args=[token])


def signup_url(token):
    return f"{reverse('accounts:signup')}?invitation={token}"


def test_anonymous_visitor_is_offered_login_and_signup(client, invitation):
    token = invitation.token()

    content = client.get(accept_url(token)).content.decode()

    assert f"{reverse('accounts:login')}?next=" in content
    assert f"{reverse('accounts:signup')}?invitation=" in content


def test_anonymous_post_changes_nothing(client, invitation):
    client.post(accept_url(invitation.token()))

    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_invited_user_joins_with_invited_role(invitee, invitation, workspace):
    client = logged_in_client(invitee)

    response = client.post(accept_url(invitation.token()))

    assert response.url == reverse("accounts:dashboard", args=[workspace.public_id])
    assert Membership.objects.get(user=invitee, workspace=workspace).role == Membership.Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee


def test_invited_user_sees_join_button_without_joining(invitee, invitation, workspace):
    client = logged_in_client(invitee)

    response = client.get(accept_url(invitation.token()))

    assert response.status_code == 200
    assert "Join Acme" in response.content.decode()
    assert not Membership.objects.filter(user=invitee, workspace=workspace).exists()


def test_other_email_user_is_not_joined(outsider, invitation, workspace):
    client = logged_in_client(outsider)

    response = client.post(accept_url(invitation.token()))

    assert response.status_code == 403
    assert "This invitation was sent to Invitee@acme.test, but you are logged in as outsider@globex.test" in response.content.decode()
    assert not Membership.objects.filter(user=outsider, workspace=workspace).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_reused_link_shows_error_and_changes_nothing(invitee, invitation, workspace):
    token = invitation.token()
    client = logged_in_client(invitee)
    client.post(accept_url(token))
    Membership.objects.filter(user=invitee).update(role=Membership.Role.MEMBER)

    response = client.post(accept_url(token))

    assert response.status_code == 400
    assert "This invitation has already been used." in response.content.decode()
    assert Membership.objects.get(user=invitee, workspace=workspace).role == Membership.Role.MEMBER


def test_withdrawn_link_shows_error(invitee, invitation, workspace):
    token = invitation.token()
    invitation.delete()

    response = logged_in_client(invitee).post(accept_url(token))

    assert response.status_code == 400
    assert "This invitation was withdrawn." in response.content.decode()
    assert not Membership.objects.filter(user=invitee, workspace=workspace).exists()


def test_tampered_link_shows_error(invitee, invitation, workspace):
    response = logged_in_client(invitee).post(accept_url(invitation.token() + "x"))

    assert response.status_code == 400
    assert "This invitation link is not valid." in response.content.decode()
    assert not Membership.objects.filter(user=invitee, workspace=workspace).exists()


def test_expired_link_shows_error(invitee, invitation, workspace, monkeypatch):
    eight_days_ago = time.time() - 8 * 24 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: eight_days_ago)
        token = invitation.token()

    response = logged_in_client(invitee).post(accept_url(token))

    assert response.status_code == 400
    assert "This invitation link has expired." in response.content.decode()
    assert not Membership.objects.filter(user=invitee, workspace=workspace).exists()


@override_settings(INVITATION_MAX_AGE=-1)
def test_link_past_configured_max_age_shows_error(invitee, invitation, workspace):
    response = logged_in_client(invitee).post(accept_url(invitation.token()))

    assert "This invitation link has expired." in response.content.decode()
    assert not Membership.objects.filter(user=invitee, workspace=workspace).exists()


def test_existing_member_accepting_keeps_role(member, workspace, owner):
    invitation = Invitation.objects.create(
        workspace=workspace, email=member.email, role=Membership.Role.OWNER, invited_by=owner
    )

    logged_in_client(member).post(accept_url(invitation.token()))

    assert Membership.objects.get(user=member, workspace=workspace).role == Membership.Role.MEMBER


# Sign-up through an invitation


def test_signup_page_prefills_invited_email(client, invitation):
    content = client.get(signup_url(invitation.token())).content.decode()

    assert 'value="Invitee@acme.test"' in content
    assert "join <strong>Acme</strong>" in content


def test_signup_with_invitation_joins_workspace(client, invitation, workspace):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "invitee@acme.test", "password": GOOD_PASSWORD, "invitation": invitation.token()},
    )

    user = User.objects.get(email__iexact="invitee@acme.test")
    assert response.url == reverse("accounts:dashboard", args=[workspace.public_id])
    assert Membership.objects.get(user=user).workspace == workspace
    assert Membership.objects.get(user=user).role == Membership.Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_by == user


def test_signup_with_invitation_and_workspace_name_creates_both(client, invitation):
    client.post(
        reverse("accounts:signup"),
        {
            "email": "invitee@acme.test",
            "password": GOOD_PASSWORD,
            "workspace_name": "Side project",
            "invitation": invitation.token(),
        },
    )

    user = User.objects.get(email__iexact="invitee@acme.test")
    assert sorted(user.memberships.values_list("workspace__name", flat=True)) == ["Acme", "Side project"]


def test_signup_with_invitation_rejects_other_email(client, invitation):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "someone@acme.test", "password": GOOD_PASSWORD, "invitation": invitation.token()},
    )

    assert response.status_code == 400
    assert "Email address: The invitation was sent to Invitee@acme.test, not someone@acme.test." in response.content.decode()
    assert not User.objects.filter(email="someone@acme.test").exists()


def test_signup_with_used_invitation_creates_nothing(client, invitation, invitee):
    token = invitation.token()
    invitation.accept(invitee)
    users_before = User.objects.count()

    response = client.post(
        reverse("accounts:signup"),
        {"email": "other@acme.test", "password": GOOD_PASSWORD, "invitation": token},
    )

    assert response.status_code == 400
    assert "Invitation: This invitation has already been used." in response.content.decode()
    assert User.objects.count() == users_before


def test_signup_with_withdrawn_invitation_creates_nothing(client, invitation):
    token = invitation.token()
    invitation.delete()

    response = client.post(
        reverse("accounts:signup"),
        {"email": "invitee@acme.test", "password": GOOD_PASSWORD, "invitation": token},
    )

    assert response.status_code == 400
    assert "This invitation was withdrawn." in response.content.decode()
    assert not User.objects.filter(email__iexact="invitee@acme.test").exists()


def test_login_from_invitation_returns_to_it(client, invitee, invitation):
    page = accept_url(invitation.token())

    response = client.post(f"{reverse('accounts:login')}?next={page}", {"username": invitee.email, "password": PASSWORD, "next": page})

    assert response.url == page
