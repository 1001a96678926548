"""
The base that every workspace-owned REST API resource uses.

A viewset of a workspace-owned model subclasses WorkspaceModelViewSet or
WorkspaceReadOnlyViewSet; a view of another shape uses WorkspaceScopedMixin.
Either way the request must carry an active workspace API key, every query is
filtered by that key's workspace, and a row of another workspace gets 404.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions, serializers, viewsets

from accounts.permissions import HasWorkspaceApiKey

NOT_AUTHENTICATED_MESSAGE = (
    "Authentication credentials were not provided. Send a workspace API key "
    "in the Authorization header: 'Authorization: Bearer op_...'."
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Document ApiKeyAuthentication in the OpenAPI schema as an HTTP bearer scheme."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix=self.target.keyword,
            bearer_format="op_...",
        )
        scheme["description"] = (
            "A workspace API key, created on the workspace's API keys page or "
            "with `manage.py create_api_key`. Every request reaches only that "
            "workspace's data."
        )
        return scheme


class WorkspaceScopedMixin:
    """
    Scope a view to the workspace of the request's API key.

    Subclasses set `queryset` and, when the model reaches its workspace
    through a relation, `workspace_field` (for example "sync__workspace").
    Rows of any other workspace are not in the queryset, so they get 404.
    Every create sets the workspace from the key, never from the body.
    HasWorkspaceApiKey always applies, even when a subclass sets its own
    `permission_classes`.
    """

    workspace_field = "workspace"

    @property
    def workspace(self):
        return self.request.auth.workspace

    def get_permissions(self):
        permissions = super().get_permissions()
        if not any(isinstance(permission, HasWorkspaceApiKey) for permission in permissions):
            permissions.insert(0, HasWorkspaceApiKey())
        return permissions

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(NOT_AUTHENTICATED_MESSAGE)
        super().permission_denied(request, message=message, code=code)

    def get_queryset(self):
        return super().get_queryset().filter(**{self.workspace_field: self.workspace})

    def get_object(self):
        """
        Return the workspace's row named by the URL, or raise NotFound naming the id.

        An id of another workspace and an id that is not valid for the field
        both get 404, so a response never reveals whether another
        workspace's row exists.
        """
        queryset = self.filter_queryset(self.get_queryset())
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs[lookup_url_kwarg]
        try:
            obj = queryset.get(**{self.lookup_field: value})
        except (queryset.model.DoesNotExist, TypeError, ValueError, DjangoValidationError):
            # Name the value as the URL does, which is what the client sent.
            field_label = "id" if lookup_url_kwarg == "pk" else lookup_url_kwarg
            raise exceptions.NotFound(
                f"No {queryset.model._meta.verbose_name} with {field_label} "
                f"'{value}' exists in this workspace. List them to find the right "
                f"{field_label}."
            )
        self.check_object_permissions(self.request, obj)
        return obj

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self.request, "auth", None) is not None:
            context["workspace"] = self.workspace
        return context

    def perform_create(self, serializer):
        if self.workspace_field == "workspace":
            serializer.save(workspace=self.workspace)
        else:
            serializer.save()


class WorkspaceModelViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """A read-write resource owned by a workspace."""


class WorkspaceReadOnlyViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only resource owned by a workspace."""


class WorkspaceRelatedField(serializers.PrimaryKeyRelatedField):
    """
    A primary-key relation whose choices are limited to the request's workspace.

    Use it for every writable foreign key to a workspace-owned model (a
    sync's connections, for example), so that a key of one workspace can't
    point a row at another workspace's data. `workspace_field` is the path
    from the related model to its workspace. The view passes the workspace
    in the serializer context, as WorkspaceScopedMixin does.
    """

    default_error_messages = {
        "does_not_exist": (
            "No {model_name} with id '{pk_value}' exists in this workspace. "
            "List them to find the right id."
        ),
    }

    def __init__(self, workspace_field="workspace", **kwargs):
        self.workspace_field = workspace_field
        super().__init__(**kwargs)

    def get_queryset(self):
        workspace = self.context.get("workspace")
        queryset = super().get_queryset()
        if workspace is None:
            return queryset.none()
        return queryset.filter(**{self.workspace_field: workspace})

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=data)
        except queryset.model.DoesNotExist:
            self.fail(
                "does_not_exist",
                model_name=queryset.model._meta.verbose_name,
                pk_value=data,
            )
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("incorrect_type", data_type=type(data).__name__)


class StrictFieldsMixin:
    """
    Reject request fields that the serializer would otherwise ignore.

    DRF drops unknown and read-only fields from the input without a word, so
    a client that sends `{"slug": "new"}` would get 200 and no change. With
    this mixin it gets 400 naming the field and the writable fields.
    """

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            writable = sorted(
                name for name, field in self.fields.items() if not field.read_only
            )
            errors = {}
            for key in data.keys():
                if key in writable:
                    continue
                if key in self.fields:
                    errors[key] = [
                        f"'{key}' is read-only. The writable fields are: "
                        f"{', '.join(writable) or 'none'}."
                    ]
                else:
                    errors[key] = [
                        f"'{key}' is not a field of this resource. The writable "
                        f"fields are: {', '.join(writable) or 'none'}."
                    ]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
