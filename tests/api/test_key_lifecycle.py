from accounts.models import ApiKey, Membership, remove_membership
from tests.conftest import api_client_for


def test_removed_member_keys_stop_working(workspace, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.ADMIN)
    client = api_client_for(workspace, member)

    remove_membership(Membership.objects.get(user=member))

    response = client.get("/api/v1/workspace/")
    assert response.status_code == 401
    assert ApiKey.objects.get(created_by=member).revoked_at is not None


def test_remaining_members_keys_keep_working(workspace, owner, member):
    client = api_client_for(workspace, owner)

    remove_membership(Membership.objects.get(user=member))

    assert client.get("/api/v1/workspace/").status_code == 200


def test_bearer_scheme_is_case_insensitive(workspace, owner):
    _, raw_key = ApiKey.create_key(workspace, "Lower case", created_by=owner)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {raw_key}")

    assert client.get("/api/v1/workspace/").status_code == 200
