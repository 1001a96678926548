"""
Staff admin of connections.

Staff find a workspace's connections by the workspace's name, a member's
email or the tool's account id, and can mark a connection as needing
re-authorisation. No page shows credentials: the encrypted credentials and
the token's expiry are excluded from every list, form and search, and
connections can't be added here because only the tool can issue them.
"""

import logging

from django.contrib import admin, messages
from django.utils.text import Truncator

from connections.models import Connection

logger = logging.getLogger(__name__)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "workspace",
        "provider",
        "account",
        "status",
        "short_last_error",
        "created_at",
    ]
    list_filter = ["provider", "status"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__memberships__user__email", "account_id", "display_name"]
    exclude = ["encrypted_credentials", "token_expires_at"]
    readonly_fields = [
        "public_id",
        "workspace",
        "provider",
        "account_id",
        "account_name",
        "auth_method",
        "status",
        "last_error",
        "base_url",
        "options",
        "last_verified_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fields = ["display_name", *readonly_fields]
    actions = ["mark_needs_reauth"]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="account", ordering="account_name")
    def account(self, connection):
        if connection.account_name and connection.account_id:
            return f"{connection.account_name} ({connection.account_id})"
        return connection.account_name or connection.account_id or "—"

    @admin.display(description="last error")
    def short_last_error(self, connection):
        return Truncator(connection.last_error).chars(80) or "—"

    @admin.action(description="Mark as needing re-authorisation")
    def mark_needs_reauth(self, request, queryset):
        count = 0
        for connection in queryset:
            connection.mark_needs_reauth(f"marked by staff user {request.user.pk}")
            count += 1
        logger.info("Staff user %s marked %s connections as needing re-authorisation", request.user.pk, count)
        self.message_user(
            request,
            f"Marked {count} connection{'' if count == 1 else 's'} as needing "
            f"re-authorisation. The workspace's owners and admins reconnect them "
            f"on the Connections page.",
            messages.SUCCESS,
        )
