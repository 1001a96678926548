"""GET /api/v1/members/: the members of the request's workspace."""

from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Membership

LIST_URL = reverse("api:member-list")


def detail_url(membership):
    return reverse("api:member-detail", args=[membership.pk])


def test_list_returns_workspace_members(api_client, owner, member):
    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    assert [row["email"] for row in response.json()["results"]] == [
        "member@acme.test",
        "owner@acme.test",
    ]


def test_list_returns_name_role_and_joined(api_client, owner, member):
    membership = Membership.objects.get(user=member)

    row = api_client.get(LIST_URL).json()["results"][0]

    assert row["name"] == "Max Member"
    assert row["role"] == "member"
    assert row["joined"] == membership.created_at.isoformat().replace("+00:00", "Z")


def test_list_excludes_other_workspace_members(api_client, member, other_workspace):
    emails = [row["email"] for row in api_client.get(LIST_URL).json()["results"]]

    assert "outsider@globex.test" not in emails


def test_outsider_key_lists_only_its_members(outsider_api_client, member):
    emails = [row["email"] for row in outsider_api_client.get(LIST_URL).json()["results"]]

    assert emails == ["outsider@globex.test"]


def test_anonymous_list_gets_401(member):
    response = APIClient().get(LIST_URL)

    assert response.status_code == 401


def test_detail_returns_member(api_client, member):
    membership = Membership.objects.get(user=member)

    response = api_client.get(detail_url(membership))

    assert response.status_code == 200
    assert response.json()["email"] == "member@acme.test"


def test_outsider_detail_of_owner_member_gets_404(outsider_api_client, member):
    membership = Membership.objects.get(user=member)

    response = outsider_api_client.get(detail_url(membership))

    assert response.status_code == 404
    assert response.json() == {
        "detail": (
            f"No membership with id '{membership.pk}' exists in this workspace. "
            f"List them to find the right id."
        )
    }


def test_non_numeric_member_id_gets_404(api_client):
    response = api_client.get(reverse("api:member-detail", args=["abc"]))

    assert response.status_code == 404


def test_members_are_read_only(api_client, member):
    membership = Membership.objects.get(user=member)

    response = api_client.patch(detail_url(membership), {"role": "owner"}, format="json")

    assert response.status_code == 405
    membership.refresh_from_db()
    assert membership.role == Membership.Role.MEMBER
