from rest_framework.permissions import BasePermission

from accounts.models import ApiKey


class HasWorkspaceApiKey(BasePermission):
    """Allow only requests authenticated with an active workspace API key."""

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey) and request.auth.is_active
