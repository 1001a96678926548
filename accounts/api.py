"""REST API of the accounts app: the current workspace, its members and its API keys."""

import logging

from drf_spectacular.utils import extend_schema, extend_schema_view
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import generics, mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import ApiKey, Membership, Plan, Workspace
from accounts.validators import validate_visible_text
from oneprofile.api import StrictFieldsMixin, WorkspaceReadOnlyViewSet, WorkspaceScopedMixin

logger = logging.getLogger(__name__)

WORKSPACE_NAME_MAX_LENGTH = Workspace._meta.get_field("name").max_length


class PlanSerializer(serializers.ModelSerializer):
    """The workspace's plan and the limits it sets."""

    class Meta:
        model = Plan
        fields = [
            "code",
            "name",
            "max_connections",
            "max_syncs",
            "min_interval_minutes",
            "max_records_per_month",
        ]
        read_only_fields = fields


class WorkspaceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """The workspace that the request's API key belongs to. Only `name` is writable."""

    # Declared here rather than generated from the model so that a long name
    # gets a message with its length instead of the generic max_length one.
    name = serializers.CharField(
        error_messages={
            "blank": (
                "The workspace name can't be blank. Send a name of 1 to "
                f"{WORKSPACE_NAME_MAX_LENGTH} characters."
            ),
            "null": (
                "The workspace name can't be null. Send a name of 1 to "
                f"{WORKSPACE_NAME_MAX_LENGTH} characters."
            ),
        },
        help_text=f"The workspace's display name, 1 to {WORKSPACE_NAME_MAX_LENGTH} characters.",
    )
    plan = PlanSerializer(read_only=True)

    class Meta:
        model = Workspace
        fields = ["public_id", "name", "slug", "plan", "created_at"]
        read_only_fields = ["public_id", "slug", "plan", "created_at"]

    def validate_name(self, value):
        try:
            validate_visible_text(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        if len(value) > WORKSPACE_NAME_MAX_LENGTH:
            raise serializers.ValidationError(
                f"The workspace name has {len(value)} characters, more than the "
                f"maximum of {WORKSPACE_NAME_MAX_LENGTH}. Send a shorter name."
            )
        return value


class MemberSerializer(serializers.ModelSerializer):
    """A member of the workspace and their role."""

    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    joined = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "joined"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    """An API key of the workspace, without its secret part."""

    created_by = serializers.EmailField(
        source="created_by.email",
        read_only=True,
        allow_null=True,
        help_text="Email of the member who created the key; null for keys made with manage.py.",
    )
    is_active = serializers.BooleanField(read_only=True)
    is_current = serializers.SerializerMethodField(
        help_text="True for the key that authenticated this request."
    )

    class Meta:
        model = ApiKey
        # hashed_key is never serialized: the raw key is shown once, at
        # creation, and the digest would let anyone test guesses offline.
        fields = [
            "id",
            "name",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
            "is_active",
            "is_current",
        ]
        read_only_fields = fields

    def get_is_current(self, api_key) -> bool:
        request = self.context.get("request")
        return request is not None and getattr(request.auth, "pk", None) == api_key.pk


class CurrentWorkspaceView(WorkspaceScopedMixin, generics.RetrieveUpdateAPIView):
    """Read or rename the workspace that the request's API key belongs to."""

    queryset = Workspace.objects.select_related("plan")
    serializer_class = WorkspaceSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return self.queryset.filter(pk=self.workspace.pk)

    def get_object(self):
        workspace = self.get_queryset().get()
        self.check_object_permissions(self.request, workspace)
        return workspace

    @extend_schema(
        summary="Get the current workspace",
        description="Returns the workspace of the request's API key, with its plan and the plan's limits.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Rename the current workspace",
        description=(
            "Sets the workspace's name. Other fields are read-only: sending one "
            "gets 400 naming the field."
        ),
    )
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)

    def perform_update(self, serializer):
        old_name = serializer.instance.name
        workspace = serializer.save()
        if workspace.name != old_name:
            logger.info(
                "Workspace %s renamed through API key %s",
                workspace.pk,
                self.request.auth.prefix,
            )


@extend_schema_view(
    list=extend_schema(
        summary="List the workspace's members",
        description="Lists the members ordered by email. Members are invited and removed on the members page.",
    ),
    retrieve=extend_schema(summary="Get one member", description="Returns one member and their role."),
)
class MemberViewSet(WorkspaceReadOnlyViewSet):
    """The workspace's members with their roles. Members are invited and removed on the members page."""

    queryset = Membership.objects.select_related("user").order_by("user__email")
    serializer_class = MemberSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List the workspace's API keys",
        description=(
            "Lists the keys newest first, revoked ones included. The secret part "
            "of a key is never returned: it is shown once, when the key is created."
        ),
    ),
    retrieve=extend_schema(
        summary="Get one API key", description="Returns one key, without its secret part."
    ),
    destroy=extend_schema(
        summary="Revoke an API key",
        description=(
            "Revokes the key, like POST .../revoke/. The key's row stays, with "
            "its revoked_at set, so the list still shows when it was used."
        ),
    ),
)
class ApiKeyViewSet(mixins.DestroyModelMixin, WorkspaceReadOnlyViewSet):
    """
    The workspace's API keys, without their secret part.

    Keys are created on the API keys page or with `manage.py create_api_key`,
    because the raw key must be shown once to a person. A key may revoke
    itself, and the requests after that get 401.
    """

    queryset = ApiKey.objects.select_related("created_by")
    serializer_class = ApiKeySerializer

    @extend_schema(
        summary="Revoke an API key",
        description=(
            "Revokes the key and returns it with revoked_at set. Revoking a "
            "revoked key changes nothing. A key may revoke itself, and the "
            "requests after that get 401."
        ),
        operation_id="api_keys_revoke",
        request=None,
        responses=ApiKeySerializer,
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        api_key = self.get_object()
        self._revoke(api_key)
        return Response(self.get_serializer(api_key).data)

    def perform_destroy(self, api_key):
        self._revoke(api_key)

    def _revoke(self, api_key):
        if not api_key.is_active:
            return
        api_key.revoke()
        logger.info(
            "API key %s of workspace %s revoked through API key %s",
            api_key.prefix,
            api_key.workspace_id,
            self.request.auth.prefix,
        )
