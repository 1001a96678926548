"""
Staff admin of users, workspaces, plans, memberships, invitations and API keys.

Staff find a workspace by a member's email here. No page shows a secret:
password hashes, API key digests, invitation tokens and Slack webhook URLs
stay out of every form, list and search.
"""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    BaseUserCreationForm,
    ReadOnlyPasswordHashField,
    ReadOnlyPasswordHashWidget,
)
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from accounts.models import ApiKey, Invitation, Membership, Plan, User, Workspace

logger = logging.getLogger(__name__)


class PasswordStatusWidget(ReadOnlyPasswordHashWidget):
    """Django's read-only password widget without the masked salt and hash, so no part of them shows."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        hidden_labels = {gettext("salt"), gettext("hash")}
        context["summary"] = [
            entry for entry in context["summary"] if str(entry["label"]) not in hidden_labels
        ]
        return context


class UserChangeForm(forms.ModelForm):
    password = ReadOnlyPasswordHashField(
        label="Password",
        widget=PasswordStatusWidget,
        help_text=(
            "Raw passwords are not stored, so there is no way to see the "
            "user's password. Set a new one with the button."
        ),
    )

    class Meta:
        model = User
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user_permissions = self.fields.get("user_permissions")
        if user_permissions:
            user_permissions.queryset = user_permissions.queryset.select_related("content_type")


class UserCreationForm(BaseUserCreationForm):
    """Create a user from an email address and a password typed twice."""

    class Meta:
        model = User
        fields = ("email",)


class MembershipFormSet(BaseInlineFormSet):
    """Keep at least one owner among a workspace's memberships."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        remaining_owners = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("role") == Membership.Role.OWNER
        ]
        if not remaining_owners:
            raise forms.ValidationError(
                "A workspace needs at least one owner. Keep or make one member an owner."
            )


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["workspace", "role", "created_at"]
    readonly_fields = ["workspace", "role", "created_at"]
    can_delete = False
    show_change_link = True
    verbose_name_plural = "workspaces (change roles on the membership page)"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )
    list_display = ["email", "name", "is_staff", "date_joined", "workspace_names"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    ordering = ["email"]
    inlines = [UserMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__workspace")

    def get_inlines(self, request, obj):
        # The add form has no user to list memberships of yet.
        return self.inlines if obj is not None else []

    def get_actions(self, request):
        # The bulk delete action can't keep each workspace's last owner, so
        # users are deleted one by one through delete_view.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, object_id)
        if user is not None:
            owned_alone = [
                membership.workspace.name
                for membership in user.memberships.filter(role=Membership.Role.OWNER)
                if membership.is_last_owner()
            ]
            if owned_alone:
                self.message_user(
                    request,
                    f"{user.email} is the last owner of {', '.join(owned_alone)} and "
                    f"can't be deleted. Make another member an owner of each first, "
                    f"or delete those workspaces.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.display(description="workspaces")
    def workspace_names(self, user):
        return ", ".join(membership.workspace.name for membership in user.memberships.all())


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


class InvitationInline(admin.TabularInline):
    """The workspace's invitations, read-only: members send and withdraw them on the members page."""

    model = Invitation
    extra = 0
    fields = ["email", "role", "invited_by", "created_at", "accepted_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "member_count", "created_at"]
    list_filter = ["plan"]
    list_select_related = ["plan"]
    search_fields = ["name", "slug", "memberships__user__email"]
    fields = [
        "name",
        "slug",
        "plan",
        "public_id",
        "slack_alerts",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["public_id", "slack_alerts", "created_at", "updated_at"]
    inlines = [MembershipInline, InvitationInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", distinct=True))
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, workspace):
        return workspace.member_count

    @admin.display(description="Slack alerts")
    def slack_alerts(self, workspace):
        # The webhook URL is a credential: anyone holding it can post to the
        # channel, so staff see only whether one is set.
        return "configured" if workspace.slack_webhook_url else "not configured"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "max_connections",
        "max_syncs",
        "min_interval_minutes",
        "max_records_per_month",
        "is_default",
        "workspace_count",
    ]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(workspace_count=Count("workspace"))

    @admin.display(description="workspaces", ordering="workspace_count")
    def workspace_count(self, plan):
        return plan.workspace_count


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["workspace", "user", "role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        membership = self.instance
        if membership.pk and role != Membership.Role.OWNER:
            stored = Membership.objects.get(pk=membership.pk)
            if stored.is_last_owner():
                raise forms.ValidationError(
                    f"{stored.user.email} is the last owner of {stored.workspace}. "
                    f"Make another member an owner first."
                )
        return role


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__email", "workspace__name", "workspace__slug"]
    autocomplete_fields = ["user", "workspace"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another user or workspace would be a
        # different membership: delete this one and add that one instead.
        if obj is not None:
            return ["workspace", "user", "created_at"]
        return ["created_at"]

    def get_actions(self, request):
        # The bulk delete action can't keep each workspace's last owner, so
        # memberships are deleted one by one through delete_view.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, object_id)
        if membership is not None and membership.is_last_owner():
            self.message_user(
                request,
                f"{membership.user.email} is the last owner of {membership.workspace} "
                f"and can't be removed. Make another member an owner first.",
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse("admin:accounts_membership_change", args=[membership.pk])
            )
        return super().delete_view(request, object_id, extra_context)


class InvitationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("accepted", "Accepted")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(accepted_at__isnull=True)
        if self.value() == "accepted":
            return queryset.filter(accepted_at__isnull=False)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """
    Invitations, read-only apart from deleting one, which withdraws it.

    The signed token and the accept link are never shown: either would let
    anyone who reads the page join the workspace.
    """

    list_display = ["email", "workspace", "role", "invited_by", "created_at", "accepted_at"]
    list_filter = [InvitationStatusFilter, "role"]
    list_select_related = ["workspace", "invited_by"]
    search_fields = ["email", "workspace__name", "workspace__slug"]
    fields = ["email", "workspace", "role", "invited_by", "created_at", "accepted_at", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApiKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """
    API keys, without their digest.

    Keys are created with `manage.py create_api_key` or on the workspace's API
    keys page, which show the raw key once. The admin has no add form.
    """

    list_display = [
        "prefix",
        "name",
        "workspace",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [ApiKeyStatusFilter]
    list_select_related = ["workspace"]
    search_fields = ["prefix", "name", "workspace__name", "workspace__slug"]
    exclude = ["hashed_key"]
    fields = [
        "name",
        "prefix",
        "workspace",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [
        "prefix",
        "workspace",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def lookup_allowed(self, lookup, value, request=None):
        # A changelist filter on the digest would confirm a guessed key.
        return not lookup.startswith("hashed_key") and super().lookup_allowed(
            lookup, value, request
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        active_keys = list(queryset.active())
        for api_key in active_keys:
            api_key.revoke()
            logger.info(
                "API key %s of workspace %s revoked in the admin by user %s",
                api_key.prefix,
                api_key.workspace_id,
                request.user.pk,
            )
        already_revoked = queryset.count() - len(active_keys)
        message = f"Revoked {len(active_keys)} API key(s)."
        if already_revoked:
            message += f" {already_revoked} selected key(s) were already revoked and are unchanged."
        self.message_user(request, message, messages.SUCCESS)
