"""The membership admin: role changes and deletes that keep each workspace's last owner."""

from django.urls import reverse

from accounts.models import Membership
from tests.admin import staff_client, staff_user  # noqa: F401

CHANGELIST = reverse("admin:accounts_membership_changelist")


def change_url(membership):
    return reverse("admin:accounts_membership_change", args=[membership.pk])


def test_search_by_email_finds_membership(staff_client, member, other_workspace):
    response = staff_client.get(CHANGELIST, {"q": "member@acme.test"})

    assert [row.user.email for row in response.context["cl"].result_list] == ["member@acme.test"]


def test_role_change_is_saved(staff_client, member):
    membership = Membership.objects.get(user=member)

    response = staff_client.post(change_url(membership), {"role": Membership.Role.ADMIN})

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Membership.Role.ADMIN


def test_demoting_last_owner_is_rejected(staff_client, owner, workspace):
    ownership = Membership.objects.get(user=owner, workspace=workspace)

    response = staff_client.post(change_url(ownership), {"role": Membership.Role.MEMBER})

    assert response.status_code == 200
    assert "is the last owner of Acme" in response.content.decode()
    ownership.refresh_from_db()
    assert ownership.role == Membership.Role.OWNER


def test_demoting_one_of_two_owners_is_saved(staff_client, owner, member, workspace):
    Membership.objects.filter(user=member).update(role=Membership.Role.OWNER)
    ownership = Membership.objects.get(user=owner, workspace=workspace)

    response = staff_client.post(change_url(ownership), {"role": Membership.Role.MEMBER})

    assert response.status_code == 302
    ownership.refresh_from_db()
    assert ownership.role == Membership.Role.MEMBER


def test_deleting_last_owner_is_rejected(staff_client, owner, workspace):
    ownership = Membership.objects.get(user=owner, workspace=workspace)

    response = staff_client.post(
        reverse("admin:accounts_membership_delete", args=[ownership.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(ownership)
    assert Membership.objects.filter(pk=ownership.pk).exists()


def test_deleting_plain_member_succeeds(staff_client, member):
    membership = Membership.objects.get(user=member)

    staff_client.post(
        reverse("admin:accounts_membership_delete", args=[membership.pk]), {"post": "yes"}
    )

    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_bulk_delete_action_is_not_offered(staff_client, member):
    response = staff_client.get(CHANGELIST)

    assert "delete_selected" not in response.content.decode()
