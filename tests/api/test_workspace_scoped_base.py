"""The base of workspace-owned API resources: enforced key, scoped queries, scoped relations."""

import pytest
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.models import ApiKey, Invitation, Membership
from oneprofile.api import WorkspaceModelViewSet, WorkspaceReadOnlyViewSet, WorkspaceRelatedField


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "workspace"]
        read_only_fields = ["workspace"]


class InvitationViewSet(WorkspaceModelViewSet):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer


class OpenMembershipViewSet(WorkspaceReadOnlyViewSet):
    """A subclass that sets its own permissions, as a careless endpoint might."""

    queryset = Membership.objects.all()
    serializer_class = serializers.Serializer
    permission_classes = [AllowAny]


class MembershipReferenceSerializer(serializers.Serializer):
    membership = WorkspaceRelatedField(queryset=Membership.objects.all())


@pytest.fixture
def factory():
    return APIRequestFactory()


@pytest.fixture
def api_key(workspace, owner):
    key, _ = ApiKey.create_key(workspace, "Base test", created_by=owner)
    return key


def test_subclass_permissions_still_require_key(factory, workspace):
    view = OpenMembershipViewSet.as_view({"get": "list"})

    response = view(factory.get("/"))

    assert response.status_code == 401


def test_create_sets_workspace_from_key_not_body(factory, api_key, workspace, other_workspace):
    view = InvitationViewSet.as_view({"post": "create"})
    request = factory.post(
        "/", {"email": "new@acme.test", "workspace": other_workspace.pk}, format="json"
    )
    force_authenticate(request, token=api_key)

    response = view(request)

    assert response.status_code == 201
    assert Invitation.objects.get(email="new@acme.test").workspace == workspace


def test_related_field_accepts_own_workspace_row(workspace, member):
    membership = Membership.objects.get(user=member)
    serializer = MembershipReferenceSerializer(
        data={"membership": membership.pk}, context={"workspace": workspace}
    )

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["membership"] == membership


def test_related_field_rejects_other_workspace_row(workspace, other_workspace):
    foreign = Membership.objects.get(workspace=other_workspace)
    serializer = MembershipReferenceSerializer(
        data={"membership": foreign.pk}, context={"workspace": workspace}
    )

    assert not serializer.is_valid()
    assert serializer.errors["membership"] == [
        f"No membership with id '{foreign.pk}' exists in this workspace. "
        f"List them to find the right id."
    ]


def test_related_field_rejects_everything_without_workspace(workspace, member):
    membership = Membership.objects.get(user=member)
    serializer = MembershipReferenceSerializer(data={"membership": membership.pk}, context={})

    assert not serializer.is_valid()


def test_related_field_rejects_non_numeric_id(workspace):
    serializer = MembershipReferenceSerializer(
        data={"membership": "abc"}, context={"workspace": workspace}
    )

    assert not serializer.is_valid()
    assert serializer.errors["membership"][0].code == "incorrect_type"
