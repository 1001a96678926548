"""The base that every workspace-owned REST API resource uses."""

from rest_framework import viewsets


class WorkspaceScopedMixin:
    """
    Scope a viewset to the workspace of the request's API key.

    Subclasses set `queryset` and, when the model reaches its workspace
    through a relation, `workspace_field` (for example "sync__workspace").
    Rows of any other workspace are not in the queryset, so they answer 404.
    Every create sets the workspace from the key, never from the body.
    """

    workspace_field = "workspace"

    @property
    def workspace(self):
        return self.request.auth.workspace

    def get_queryset(self):
        return super().get_queryset().filter(**{self.workspace_field: self.workspace})

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
