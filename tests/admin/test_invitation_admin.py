"""The invitation admin: read-only, never showing the token or the accept link."""

import pytest
from django.urls import reverse

from accounts.models import Invitation
from tests.admin import staff_client, staff_user  # noqa: F401

CHANGELIST = reverse("admin:accounts_invitation_changelist")


@pytest.fixture
def invitation(workspace, owner):
    return Invitation.objects.create(workspace=workspace, email="invitee@acme.test", invited_by=owner)


def test_changelist_shows_invitation(staff_client, invitation):
    content = staff_client.get(CHANGELIST).content.decode()

    assert "invitee@acme.test" in content


def test_changelist_never_contains_token(staff_client, invitation):
    content = staff_client.get(CHANGELIST).content.decode()

    assert invitation.token() not in content


def test_change_page_never_contains_token(staff_client, invitation):
    response = staff_client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))

    assert response.status_code == 200
    assert invitation.token() not in response.content.decode()


def test_change_page_is_read_only(staff_client, invitation):
    staff_client.post(
        reverse("admin:accounts_invitation_change", args=[invitation.pk]),
        {"email": "changed@acme.test", "role": "owner"},
    )

    invitation.refresh_from_db()
    assert invitation.email == "invitee@acme.test"
    assert invitation.role == "member"


def test_add_page_is_forbidden(staff_client, db):
    response = staff_client.get(reverse("admin:accounts_invitation_add"))

    assert response.status_code == 403


def test_filter_pending_excludes_accepted(staff_client, invitation, workspace, member):
    accepted = Invitation.objects.create(workspace=workspace, email="member@acme.test")
    accepted.accept(member)

    response = staff_client.get(CHANGELIST, {"status": "pending"})

    assert list(response.context["cl"].result_list) == [invitation]
