"""
Staff admin of syncs, runs, record failures, record state and the change log.

Staff find a sync by its workspace's name or a member's email, pause,
resume or run it, and retry failures. Runs, failures, record state and
field changes are records of what happened, so every field is read-only and
they can't be added or edited here. No page shows a credential: connections
appear by name only.
"""

import logging

from django.contrib import admin, messages

from syncs.models import FieldChange, FieldMapping, RecordFailure, RecordState, Run, Sync
from syncs.services import retry_failures

logger = logging.getLogger(__name__)


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin for rows written only by runs: viewable, never added or changed."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ["position", "direction", "source_field", "destination_field", "transform"]
    ordering = ["position", "pk"]


@admin.register(Sync)
class SyncAdmin(admin.ModelAdmin):
    """
    Syncs, with their mappings inline.

    NOTE: mappings edited here skip the field checks that the pages and the
    API run against the tools. Prefer fixing mappings in the sync editor.
    """

    list_display = ["name", "workspace", "status", "enabled", "interval_minutes", "next_run_at", "updated_at"]
    list_filter = ["status", "enabled"]
    list_select_related = ["workspace"]
    search_fields = ["name", "workspace__name", "workspace__slug", "workspace__memberships__user__email"]
    fields = [
        "name",
        "workspace",
        "public_id",
        "connection_a",
        "object_a",
        "connection_b",
        "object_b",
        "match_key",
        "interval_minutes",
        "policy",
        "enabled",
        "status",
        "blocked_reason",
        "next_run_at",
        "lease_owner",
        "lease_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "workspace",
        "public_id",
        "connection_a",
        "connection_b",
        "status",
        "blocked_reason",
        "lease_owner",
        "lease_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [FieldMappingInline]
    actions = ["run_now", "pause", "resume"]

    def has_add_permission(self, request):
        # A sync's fields are checked against the tools on the pages and the
        # API; the admin form can't do that, so syncs are not created here.
        return False

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Searching through memberships joins one row per member.
        return queryset.distinct(), may_have_duplicates

    @admin.action(description="Run the selected syncs now", permissions=["change"])
    def run_now(self, request, queryset):
        started = 0
        for sync in queryset:
            _run, created = sync.run_now()
            started += created
            logger.info("Staff user %s asked for a run of sync %s", request.user.pk, sync.pk)
        already = queryset.count() - started
        message = f"Started {started} run(s)."
        if already:
            message += f" {already} sync(s) already had a run queued or running."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Pause the selected syncs", permissions=["change"])
    def pause(self, request, queryset):
        for sync in queryset:
            sync.pause()
            logger.info("Staff user %s paused sync %s", request.user.pk, sync.pk)
        self.message_user(request, f"Paused {queryset.count()} sync(s).", messages.SUCCESS)

    @admin.action(description="Resume the selected syncs", permissions=["change"])
    def resume(self, request, queryset):
        for sync in queryset:
            sync.resume()
            logger.info("Staff user %s resumed sync %s", request.user.pk, sync.pk)
        self.message_user(request, f"Resumed {queryset.count()} sync(s).", messages.SUCCESS)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "sync",
        "workspace",
        "trigger",
        "status",
        "read_count",
        "updated_count",
        "created_count",
        "failed_count",
    ]
    list_filter = ["status", "trigger", "error_category"]
    list_select_related = ["sync__workspace"]
    search_fields = ["public_id", "sync__name", "sync__workspace__name", "sync__workspace__slug"]
    date_hierarchy = "created_at"

    @admin.display(description="workspace", ordering="sync__workspace__name")
    def workspace(self, run):
        return run.sync.workspace


@admin.register(RecordFailure)
class RecordFailureAdmin(ReadOnlyAdmin):
    list_display = ["record_key", "sync", "workspace", "category", "status", "attempts", "last_failed_at"]
    list_filter = ["status", "category", "direction"]
    list_select_related = ["sync__workspace"]
    search_fields = ["record_key", "sync__name", "sync__workspace__name", "sync__workspace__slug"]
    actions = ["retry"]

    @admin.display(description="workspace", ordering="sync__workspace__name")
    def workspace(self, failure):
        return failure.sync.workspace

    def has_retry_permission(self, request):
        return request.user.is_active and request.user.is_staff

    @admin.action(description="Retry the selected failures", permissions=["retry"])
    def retry(self, request, queryset):
        live = queryset.filter(status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING])
        live_count = live.count()
        skipped = queryset.count() - live_count
        runs = 0
        for sync in Sync.objects.filter(pk__in=live.values("sync")):
            run = retry_failures(sync, live.filter(sync=sync))
            if run is not None:
                runs += 1
                logger.info("Staff user %s retried failures of sync %s in run %s", request.user.pk, sync.pk, run.pk)
        message = f"Queued {runs} retry run(s) for {live_count} open failure(s)."
        if skipped:
            message += f" {skipped} selected failure(s) were resolved or ignored and are unchanged."
        self.message_user(request, message, messages.SUCCESS)


@admin.register(RecordState)
class RecordStateAdmin(ReadOnlyAdmin):
    list_display = ["record_key", "sync", "record_id_a", "record_id_b", "updated_at"]
    list_select_related = ["sync"]
    search_fields = ["record_key", "record_id_a", "record_id_b", "sync__workspace__name"]


@admin.register(FieldChange)
class FieldChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "record_key", "field", "old_value", "new_value", "direction", "sync"]
    list_filter = ["direction"]
    list_select_related = ["sync"]
    search_fields = ["record_key", "field", "sync__workspace__name"]
