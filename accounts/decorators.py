"""Loading and authorising the workspace a page belongs to."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Membership, Workspace


def workspace_view(manager_only=False):
    """
    Load the workspace named by the `workspace_id` URL argument for a logged-in member.

    The view receives the workspace as its second argument, and request.workspace
    and request.membership are set for templates. Someone who is not a member
    gets 404, so a page never tells an outsider that a workspace exists. With
    `manager_only`, a plain member gets 403.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, workspace_id, *args, **kwargs):
            workspace = get_object_or_404(
                Workspace.objects.select_related("plan"), public_id=workspace_id
            )
            membership = Membership.objects.filter(
                workspace=workspace, user=request.user
            ).first()
            if membership is None:
                raise Http404("No workspace matches the given query.")
            if manager_only and not membership.is_manager:
                raise PermissionDenied(
                    "Only the workspace's owners and admins can do this."
                )
            request.workspace = workspace
            request.membership = membership
            request.session["workspace_id"] = str(workspace.public_id)
            return view(request, workspace, *args, **kwargs)

        return wrapper

    return decorator
