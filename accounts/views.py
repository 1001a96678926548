"""Pages of accounts and workspaces: sign-up, log in, members, invitations, API keys, plan, settings."""

import logging
import uuid
from smtplib import SMTPException

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_view
from accounts.forms import (
    ApiKeyForm,
    EmailAuthenticationForm,
    InvitationForm,
    RoleForm,
    SignupForm,
    WorkspaceForm,
    WorkspaceSettingsForm,
    assignable_roles,
    emails_match,
    invitation_expires_at,
    pending_invitations,
)
from accounts.models import (
    ApiKey,
    Invitation,
    InvitationError,
    LastOwnerError,
    Membership,
    change_role,
    remove_membership,
)

logger = logging.getLogger(__name__)

OWNERS_ONLY_MESSAGE = "Only the workspace's owners can make, change or remove owners."


# Log in, sign-up and password reset


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Log out on POST only. Django returns 405 to GET, so a link can't log anyone out."""


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self):
        # Links in emails use the configured public address, never the Host
        # header of the request that requested the reset.
        return {"site_url": settings.SITE_URL}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


def signup(request):
    """
    Create an account, log it in and open its workspace.

    With `?invitation=<token>` the email is prefilled with the invited address
    and the new account joins the invited workspace.
    """
    if request.user.is_authenticated:
        return redirect("accounts:home")

    token = (request.POST.get("invitation") or request.GET.get("invitation") or "").strip()
    invitation, invitation_error = None, None
    if token:
        try:
            invitation = Invitation.from_token(token)
        except InvitationError as error:
            invitation_error = str(error)

    initial = {"invitation": token}
    if invitation is not None:
        initial["email"] = invitation.email
    form = SignupForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        invitation=invitation,
    )

    if request.method == "POST" and invitation_error is None and form.is_valid():
        try:
            user, workspace = form.save()
        except InvitationError as error:
            invitation_error = str(error)
        except IntegrityError:
            # Another sign-up with the same email committed between the
            # form's check and the insert.
            form.add_error(
                "email",
                f"An account with the email address {form.cleaned_data['email']} "
                f"already exists. Log in, or reset your password if you forgot it.",
            )
        else:
            login(request, user)
            logger.info("User %s signed up and landed on workspace %s", user.pk, workspace.pk)
            messages.success(request, f"Welcome to Oneprofile. You're in {workspace.name}.")
            return redirect(workspace)

    return render(
        request,
        "accounts/signup.html",
        {"form": form, "invitation": invitation, "invitation_error": invitation_error},
        status=400 if request.method == "POST" else 200,
    )


# Choosing and creating workspaces


def _parse_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@login_required
def home(request):
    """Redirect to the workspace used last, else the user's first workspace, else the create page."""
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    last_used = _parse_uuid(request.session.get("workspace_id"))
    membership = None
    if last_used is not None:
        membership = memberships.filter(workspace__public_id=last_used).first()
    if membership is None:
        membership = memberships.order_by("created_at", "pk").first()
    if membership is None:
        return redirect("accounts:create_workspace")
    return redirect(membership.workspace)


@login_required
def create_workspace_page(request):
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = form.save(owner=request.user)
        logger.info("User %s created workspace %s", request.user.pk, workspace.pk)
        messages.success(request, f"Created the workspace {workspace.name}.")
        return redirect(workspace)
    return render(
        request,
        "accounts/create_workspace.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )


@workspace_view()
def dashboard(request, workspace):
    role_counts = {value: 0 for value in Membership.Role.values}
    for role in workspace.memberships.values_list("role", flat=True):
        role_counts[role] += 1
    context = {
        "member_count": sum(role_counts.values()),
        "role_counts": [
            (label, role_counts[value]) for value, label in Membership.Role.choices
        ],
        "pending_invitation_count": pending_invitations(workspace).count(),
        "active_api_key_count": workspace.api_keys.active().count(),
        **sync_overview(workspace),
    }
    return render(request, "accounts/dashboard.html", context)


def sync_overview(workspace):
    """Return the connections and syncs a member checks first: their state, last runs and open failures."""
    from django.db.models import Count, Q

    from connections.models import Connection
    from syncs.models import RecordFailure, Sync

    connections = list(Connection.objects.filter(workspace=workspace).order_by("display_name"))
    live = [RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]
    syncs = list(
        Sync.objects.filter(workspace=workspace)
        .select_related("connection_a", "connection_b")
        .annotate(open_failure_count=Count("failures", filter=Q(failures__status__in=live)))
        .order_by("name")
    )
    for sync in syncs:
        sync.last_run = sync.runs.order_by("-created_at").first()
    return {
        "connections": connections,
        "connections_needing_attention": [c for c in connections if c.status != Connection.Status.ACTIVE],
        "syncs": syncs,
    }


@workspace_view(manager_only=True)
def workspace_settings(request, workspace):
    form = WorkspaceSettingsForm(request.POST or None, instance=workspace)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            logger.info("User %s changed the settings of workspace %s", request.user.pk, workspace.pk)
            messages.success(request, "Saved the workspace settings.")
            return redirect("accounts:settings", workspace_id=workspace.public_id)
        # A failed ModelForm validation leaves its edits on the instance;
        # the page header must keep showing the stored name.
        workspace.refresh_from_db()
    return render(
        request,
        "accounts/settings.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )


# Plan and usage


def plan_usage(workspace):
    """Return the plan's limits next to the workspace's current usage, one row per limit."""
    from connections.models import Connection
    from syncs.models import Sync
    from syncs.usage import records_used_this_month

    plan = workspace.plan
    return [
        {
            "label": "Connections",
            "limit": plan.max_connections,
            "used": Connection.objects.filter(workspace=workspace).count(),
        },
        {
            "label": "Syncs",
            "limit": plan.max_syncs,
            "used": Sync.objects.filter(workspace=workspace).count(),
        },
        {
            "label": "Records synced this month (UTC)",
            "limit": plan.max_records_per_month,
            "used": records_used_this_month(workspace),
        },
    ]


@workspace_view()
def plan(request, workspace):
    context = {
        "usage": plan_usage(workspace),
        "min_interval_minutes": workspace.plan.min_interval_minutes,
    }
    return render(request, "accounts/plan.html", context)


# Members and invitations


def _member_rows(workspace, viewer):
    """Return each membership with the actions the viewing member may take on it."""
    rows = []
    for membership in workspace.memberships.select_related("user").order_by("user__email"):
        is_self = membership.user_id == viewer.user_id
        can_manage = viewer.is_manager and (
            viewer.role == Membership.Role.OWNER or membership.role != Membership.Role.OWNER
        )
        rows.append(
            {
                "membership": membership,
                "is_self": is_self,
                "can_manage": can_manage,
                "role_choices": assignable_roles(viewer),
            }
        )
    return rows


def _invitation_rows(workspace, viewer):
    now = timezone.now()
    rows = []
    for invitation in pending_invitations(workspace):
        can_withdraw = viewer.is_manager and (
            viewer.role == Membership.Role.OWNER or invitation.role != Membership.Role.OWNER
        )
        rows.append(
            {
                "invitation": invitation,
                "expires_at": invitation_expires_at(invitation),
                "is_expired": invitation_expires_at(invitation) <= now,
                "can_withdraw": can_withdraw,
            }
        )
    return rows


def describe_duration(seconds):
    """Return a duration in the largest whole unit that fits, such as "7 days" or "90 minutes"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _render_members(request, workspace, invitation_form=None, status=200):
    viewer = request.membership
    if invitation_form is None and viewer.is_manager:
        invitation_form = InvitationForm(workspace=workspace, inviter=viewer)
    context = {
        "member_rows": _member_rows(workspace, viewer),
        "invitation_rows": _invitation_rows(workspace, viewer),
        "invitation_form": invitation_form,
        "invitation_lifetime": describe_duration(settings.INVITATION_MAX_AGE),
    }
    return render(request, "accounts/members.html", context, status=status)


def _members_url(workspace):
    return reverse("accounts:members", kwargs={"workspace_id": workspace.public_id})


def send_invitation_email(request, invitation):
    context = {
        "invitation": invitation,
        "inviter": request.user,
        "accept_url": invitation.get_accept_url(),
        "expires_at": invitation_expires_at(invitation),
    }
    subject = render_to_string("accounts/invitation_email_subject.txt", context).strip()
    body = render_to_string("accounts/invitation_email.txt", context)
    send_mail(subject, body, None, [invitation.email])


@workspace_view()
def members(request, workspace):
    return _render_members(request, workspace)


@workspace_view(manager_only=True)
@require_POST
def invite_member(request, workspace):
    form = InvitationForm(request.POST, workspace=workspace, inviter=request.membership)
    if not form.is_valid():
        return _render_members(request, workspace, invitation_form=form, status=400)

    email = form.cleaned_data["email"]
    try:
        # The invitation is stored only if its email went out, so the list
        # never shows an invitation whose email was never sent.
        with transaction.atomic():
            invitation = form.save()
            send_invitation_email(request, invitation)
    except (SMTPException, OSError) as error:
        logger.warning(
            "Sending the invitation email of workspace %s failed: %s", workspace.pk, error
        )
        messages.error(
            request,
            f"Sending the invitation email to {email} failed, so no invitation "
            f"was created. Try again in a few minutes.",
        )
        return redirect(_members_url(workspace))

    logger.info(
        "User %s invited a new %s to workspace %s (invitation %s)",
        request.user.pk, invitation.role, workspace.pk, invitation.pk,
    )
    messages.success(request, f"Sent an invitation to {email}.")
    return redirect(_members_url(workspace))


@workspace_view(manager_only=True)
@require_POST
def withdraw_invitation(request, workspace, invitation_id):
    invitation = get_object_or_404(
        Invitation, pk=invitation_id, workspace=workspace, accepted_at__isnull=True
    )
    if invitation.role == Membership.Role.OWNER and request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY_MESSAGE)
    invitation.delete()
    logger.info("User %s withdrew invitation %s of workspace %s", request.user.pk, invitation_id, workspace.pk)
    messages.success(request, f"Withdrew the invitation to {invitation.email}. Its link no longer works.")
    return redirect(_members_url(workspace))


@workspace_view(manager_only=True)
@require_POST
def change_member_role(request, workspace, membership_id):
    target = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, workspace=workspace
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Role: {' '.join(form.errors['role'])}")
        return redirect(_members_url(workspace))

    role = form.cleaned_data["role"]
    if request.membership.role != Membership.Role.OWNER and Membership.Role.OWNER in (role, target.role):
        raise PermissionDenied(OWNERS_ONLY_MESSAGE)
    try:
        change_role(target, role)
    except LastOwnerError as error:
        messages.error(request, str(error))
        return redirect(_members_url(workspace))

    logger.info(
        "User %s made membership %s of workspace %s a %s",
        request.user.pk, target.pk, workspace.pk, role,
    )
    messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
    return redirect(_members_url(workspace))


def _leave_or_remove(request, workspace, target):
    """Delete a membership, or show why the last owner can't go; then redirect."""
    try:
        remove_membership(target)
    except LastOwnerError as error:
        messages.error(request, str(error))
        return redirect(_members_url(workspace))

    logger.info(
        "User %s removed membership %s (user %s) from workspace %s",
        request.user.pk, target.pk, target.user_id, workspace.pk,
    )
    if target.user_id != request.user.pk:
        messages.success(request, f"Removed {target.user.email} from {workspace.name}.")
        return redirect(_members_url(workspace))
    request.session.pop("workspace_id", None)
    messages.success(request, f"You left {workspace.name}.")
    return redirect("accounts:home")


@workspace_view(manager_only=True)
@require_POST
def remove_member(request, workspace, membership_id):
    target = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, workspace=workspace
    )
    if target.role == Membership.Role.OWNER and request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY_MESSAGE)
    return _leave_or_remove(request, workspace, target)


@workspace_view()
@require_POST
def leave_workspace(request, workspace):
    return _leave_or_remove(request, workspace, request.membership)


def accept_invitation(request, token):
    """
    Show an invitation and, on POST by the invited user, join its workspace.

    A visitor who is not logged in is offered log in or sign-up; a user
    logged in with another email address gets a message naming both
    addresses, and nothing changes.
    """
    try:
        invitation = Invitation.from_token(token)
    except InvitationError as error:
        return render(
            request, "accounts/invitation_invalid.html", {"error": str(error)}, status=400
        )

    context = {"invitation": invitation, "token": token}
    if not request.user.is_authenticated:
        return render(request, "accounts/accept_invitation.html", context)
    if not emails_match(request.user.email, invitation.email):
        context["email_mismatch"] = True
        return render(request, "accounts/accept_invitation.html", context, status=403)
    if request.method != "POST":
        return render(request, "accounts/accept_invitation.html", context)

    already_member = invitation.workspace.memberships.filter(user=request.user).exists()
    try:
        invitation.accept(request.user)
    except InvitationError as error:
        return render(
            request, "accounts/invitation_invalid.html", {"error": str(error)}, status=400
        )
    logger.info("User %s accepted invitation %s to workspace %s", request.user.pk, invitation.pk, invitation.workspace_id)
    if already_member:
        messages.info(request, f"You were already a member of {invitation.workspace.name}.")
    else:
        messages.success(request, f"You joined {invitation.workspace.name}.")
    return redirect(invitation.workspace)


# API keys


def _render_api_keys(request, workspace, form, raw_key=None, new_key=None, status=200):
    context = {
        "api_keys": workspace.api_keys.select_related("created_by"),
        "form": form,
        "raw_key": raw_key,
        "new_key": new_key,
    }
    response = render(request, "accounts/api_keys.html", context, status=status)
    if raw_key is not None:
        # The page carries a secret that is shown once: keep it out of caches.
        add_never_cache_headers(response)
    return response


@workspace_view(manager_only=True)
def api_keys(request, workspace):
    """List the workspace's API keys; on POST create one and show its full key, once."""
    if request.method != "POST":
        return _render_api_keys(request, workspace, ApiKeyForm())

    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render_api_keys(request, workspace, form, status=400)
    api_key, raw_key = ApiKey.create_key(
        workspace, form.cleaned_data["name"], created_by=request.user
    )
    logger.info("User %s created API key %s in workspace %s", request.user.pk, api_key.prefix, workspace.pk)
    return _render_api_keys(request, workspace, ApiKeyForm(), raw_key=raw_key, new_key=api_key)


@workspace_view(manager_only=True)
@require_POST
def revoke_api_key(request, workspace, key_id):
    api_key = get_object_or_404(ApiKey, pk=key_id, workspace=workspace)
    if not api_key.is_active:
        messages.info(request, f"The key {api_key.name} ({api_key.prefix}…) was already revoked.")
    else:
        api_key.revoke()
        logger.info("User %s revoked API key %s in workspace %s", request.user.pk, api_key.prefix, workspace.pk)
        messages.success(
            request,
            f"Revoked the key {api_key.name} ({api_key.prefix}…). Requests that use it are now rejected.",
        )
    return redirect("accounts:api_keys", workspace_id=workspace.public_id)
