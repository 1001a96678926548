"""
REST API of syncs, runs and record failures.

An API key acts for its whole workspace: only owners and admins create
keys, so a key may create, change and delete syncs as they can on the
pages, besides what any member does (run, pause, resume, preview, retry,
ignore). Syncs and runs are named by their public UUID, failures by their
number. A connection or failure of another workspace named in a body is
reported as unknown, and one named in a URL gets 404.
"""

import logging
import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from connections.providers.errors import ProviderError
from oneprofile.api import StrictFieldsMixin, WorkspaceModelViewSet, WorkspaceReadOnlyViewSet
from syncs.models import Direction, RecordFailure, Run, Sync
from syncs.preview import preview_sync
from syncs.runner import RunAborted
from syncs.services import retry_failures
from syncs.validation import MappingData, SyncData, SyncInvalid, mapping_data, save_sync

logger = logging.getLogger(__name__)

LIVE_FAILURE_STATUSES = [RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]


# Serializers


def choices_field(choices, help_text):
    """
    Return a read-only text field that lists its values in the help text.

    Syncs, runs and failures each have a `status` with other values; as
    plain text they don't collide as one "StatusEnum" in the OpenAPI schema.
    """
    values = ", ".join(value for value, _label in choices)
    return serializers.CharField(read_only=True, help_text=f"{help_text} One of: {values}.")


FAILURE_CATEGORIES = RecordFailure._meta.get_field("category").choices


class MappingSerializer(StrictFieldsMixin, serializers.Serializer):
    """One field mapping: the direction sets which side is the field's source of truth."""

    direction = serializers.ChoiceField(
        choices=Direction.choices,
        default=Direction.A_TO_B,
        help_text="a_to_b: side A is the source of truth and the field is written on side B; b_to_a: the reverse.",
    )
    source_field = serializers.CharField(max_length=200, help_text="The field's name on the source side.")
    destination_field = serializers.CharField(max_length=200, help_text="The field's name on the destination side.")
    transform = serializers.JSONField(
        required=False,
        default=dict,
        help_text=(
            'Optional: {"value_map": {"source value": "destination option"}, "truncate": true, '
            '"scale": 0.01, "currency": "usd", "date_format": "%m/%d/%Y", "epoch_unit": "seconds"}.'
        ),
    )
    source_spec = serializers.JSONField(read_only=True, help_text="The source field's definition when saved.")
    destination_spec = serializers.JSONField(read_only=True, help_text="The destination field's definition when saved.")


class RunSerializer(serializers.ModelSerializer):
    """One run of a sync, with its counts and API calls."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    sync = serializers.UUIDField(source="sync.public_id", read_only=True)
    trigger = choices_field(Run.Trigger.choices, "What started the run.")
    status = choices_field(Run.Status.choices, "The run's progress or outcome.")
    error_category = choices_field(FAILURE_CATEGORIES, "Why the run as a whole failed, or empty.")
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "sync",
            "trigger",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            *Run.COUNT_FIELDS,
            "api_calls",
            "error",
            "error_category",
        ]
        read_only_fields = fields

    def get_duration_seconds(self, run) -> float | None:
        return run.duration.total_seconds() if run.duration else None


class LastRunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    trigger = choices_field(Run.Trigger.choices, "What started the run.")
    status = choices_field(Run.Status.choices, "The run's progress or outcome.")

    class Meta:
        model = Run
        fields = ["id", "trigger", "status", "created_at", "finished_at", "updated_count", "created_count", "failed_count", "error"]
        read_only_fields = fields


class SyncSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """
    A sync with its field mappings.

    Writing `mappings` replaces all of the sync's mappings; leaving it out of
    an update keeps them. Every change is checked against the fields the
    tools report, and nothing is stored unless all of it is valid.
    """

    id = serializers.UUIDField(source="public_id", read_only=True)
    connection_a = serializers.CharField(help_text="The public id of side A's connection.")
    connection_b = serializers.CharField(help_text="The public id of side B's connection.")
    interval_minutes = serializers.IntegerField(
        required=False, default=Sync.DEFAULT_INTERVAL_MINUTES, help_text="Minutes between scheduled runs."
    )
    mappings = MappingSerializer(many=True, required=False)
    deletion_policy = serializers.ChoiceField(
        choices=Sync.DeletionPolicy.choices,
        required=False,
        help_text=(
            "What a run does to the linked destination record when the source record is deleted or archived: "
            "keep leaves it as it is, archive archives it once. Left out of an update, the policy stays as it is."
        ),
        error_messages={
            "invalid_choice": (
                "'{input}' is not a deletion policy. Use one of: " + ", ".join(Sync.DeletionPolicy.values) + "."
            )
        },
    )
    status = choices_field(Sync.Status.choices, "Whether scheduled runs happen.")
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = Sync
        fields = [
            "id",
            "name",
            "connection_a",
            "object_a",
            "connection_b",
            "object_b",
            "match_key",
            "interval_minutes",
            "policy",
            "deletion_policy",
            "enabled",
            "status",
            "blocked_reason",
            "next_run_at",
            "last_run",
            "mappings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "blocked_reason", "next_run_at", "last_run", "created_at", "updated_at"]

    def to_representation(self, sync):
        data = super().to_representation(sync)
        data["connection_a"] = str(sync.connection_a.public_id)
        data["connection_b"] = str(sync.connection_b.public_id)
        data["mappings"] = MappingSerializer(sync.mappings.all(), many=True).data
        return data

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, sync):
        run = sync.runs.first()
        return LastRunSerializer(run).data if run else None

    def _sync_data(self, validated, instance=None):
        def value(name, default):
            return validated.get(name, default)

        if "mappings" in validated:
            mappings = [
                MappingData(
                    mapping["source_field"],
                    mapping["destination_field"],
                    mapping.get("direction", Direction.A_TO_B),
                    mapping.get("transform") or {},
                )
                for mapping in validated["mappings"]
            ]
        elif instance is not None:
            mappings = mapping_data(instance)
        else:
            mappings = []
        return SyncData(
            name=value("name", getattr(instance, "name", "")),
            connection_a=value("connection_a", getattr(instance, "connection_a", None)),
            object_a=value("object_a", getattr(instance, "object_a", "")),
            connection_b=value("connection_b", getattr(instance, "connection_b", None)),
            object_b=value("object_b", getattr(instance, "object_b", "")),
            mappings=mappings,
            match_key=value("match_key", getattr(instance, "match_key", "email")),
            interval_minutes=value("interval_minutes", getattr(instance, "interval_minutes", Sync.DEFAULT_INTERVAL_MINUTES)),
            policy=value("policy", getattr(instance, "policy", Sync.Policy.UPDATE_ONLY)),
            enabled=value("enabled", getattr(instance, "enabled", True)),
            deletion_policy=value("deletion_policy", None),
        )

    def _save(self, validated, instance=None):
        workspace = self.context["workspace"]
        user = getattr(self.context.get("request"), "user", None)
        try:
            return save_sync(workspace, self._sync_data(validated, instance), sync=instance, user=user)
        except SyncInvalid as invalid:
            raise ValidationError(problems_as_errors(invalid.problems, len(validated.get("mappings") or []))) from None

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        return self._save(validated_data, instance)


def problems_as_errors(problems, mapping_count):
    """Return DRF's error shape for validation problems: field lists, and one dict per mapping sent."""
    errors = {}
    mapping_errors = [{} for _ in range(mapping_count)]
    for problem in problems:
        if problem.field == "mappings" and problem.index is not None and problem.index < mapping_count:
            key = problem.mapping_field or "non_field_errors"
            mapping_errors[problem.index].setdefault(key, []).append(problem.message)
        else:
            errors.setdefault(problem.field or "non_field_errors", []).append(problem.message)
    if any(mapping_errors):
        if isinstance(errors.get("mappings"), list):
            mapping_errors.append({"non_field_errors": errors.pop("mappings")})
        errors["mappings"] = mapping_errors
    return errors


class FailureSerializer(serializers.ModelSerializer):
    """One record that could not be written."""

    sync = serializers.UUIDField(source="sync.public_id", read_only=True)
    run = serializers.UUIDField(source="run.public_id", read_only=True, allow_null=True)
    category = choices_field(FAILURE_CATEGORIES, "Why the record could not be written.")
    status = choices_field(RecordFailure.Status.choices, "Where the failure stands.")

    class Meta:
        model = RecordFailure
        fields = [
            "id",
            "sync",
            "run",
            "record_key",
            "direction",
            "source_record_id",
            "destination_record_id",
            "category",
            "message",
            "values",
            "response",
            "attempts",
            "status",
            "first_failed_at",
            "last_failed_at",
            "next_retry_at",
            "resolved_at",
        ]
        read_only_fields = fields


class BulkRetrySerializer(StrictFieldsMixin, serializers.Serializer):
    """Either `ids`, or `sync` with an optional `category`."""

    ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False)
    sync = serializers.UUIDField(required=False, help_text="Retry the open failures of this sync.")
    category = serializers.ChoiceField(
        choices=FAILURE_CATEGORIES,
        required=False,
        help_text="With `sync`: retry only the failures of this category.",
    )

    def validate(self, data):
        if "ids" in data and ("sync" in data or "category" in data):
            raise ValidationError({"non_field_errors": ["Send either ids, or sync with an optional category, not both."]})
        if "ids" not in data and "sync" not in data:
            raise ValidationError(
                {"non_field_errors": ['Send "ids": [failure ids], or "sync": sync id with an optional "category".']}
            )
        return data


# Views


def _uuid_or_400(value, name):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationError({name: [f"'{value}' is not a valid id. Send the {name}'s public UUID."]}) from None


def _sync_of_workspace(workspace, value, name="sync"):
    public_id = _uuid_or_400(value, name)
    sync = Sync.objects.filter(workspace=workspace, public_id=public_id).first()
    if sync is None:
        raise ValidationError({name: [f"No sync with id '{value}' exists in this workspace. List the syncs to find the right id."]})
    return sync


PREVIEW_RESPONSE = inline_serializer(
    "SyncPreview",
    {
        "read": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "skipped": serializers.IntegerField(),
        "truncated": serializers.BooleanField(),
        "rows": serializers.ListField(child=serializers.DictField()),
    },
)


@extend_schema_view(
    run=extend_schema(request=None, responses={202: RunSerializer}),
    pause=extend_schema(request=None, responses={200: SyncSerializer}),
    resume=extend_schema(request=None, responses={200: SyncSerializer}),
    preview=extend_schema(responses={200: PREVIEW_RESPONSE}),
)
class SyncViewSet(WorkspaceModelViewSet):
    """Syncs of the workspace with their field mappings, and the actions on them."""

    queryset = Sync.objects.select_related("workspace", "connection_a", "connection_b").prefetch_related("mappings")
    serializer_class = SyncSerializer
    lookup_field = "public_id"
    lookup_value_regex = "[^/]+"

    def perform_create(self, serializer):
        serializer.save()

    def perform_destroy(self, sync):
        logger.info("API key %s deleted sync %s of workspace %s", self.request.auth.prefix, sync.pk, sync.workspace_id)
        sync.delete()

    @action(detail=True, methods=["post"])
    def run(self, request, public_id=None):
        """Queue a manual run; when one is already queued or running, return that run, with status 202."""
        sync = self.get_object()
        run, created = sync.run_now()
        logger.info("API key %s asked for run %s of sync %s (new: %s)", request.auth.prefix, run.pk, sync.pk, created)
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def pause(self, request, public_id=None):
        """Stop the sync's scheduled runs until it is resumed."""
        sync = self.get_object()
        sync.pause()
        return Response(self.get_serializer(sync).data)

    @action(detail=True, methods=["post"])
    def resume(self, request, public_id=None):
        """Return a paused or blocked sync to its schedule."""
        sync = self.get_object()
        sync.resume()
        return Response(self.get_serializer(sync).data)

    @action(detail=True, methods=["get"])
    def preview(self, request, public_id=None):
        """
        Return what the next run would write, without writing.

        Responds 409 when the sync can't run as it is (a connection needs
        re-authorisation, a mapped field is gone), and 502 when a tool fails.
        """
        sync = self.get_object()
        try:
            preview = preview_sync(sync)
        except RunAborted as error:
            return Response({"detail": error.message, "code": error.category.value}, status=status.HTTP_409_CONFLICT)
        except ProviderError as error:
            return Response({"detail": error.message, "code": error.category.value}, status=status.HTTP_502_BAD_GATEWAY)
        rows = [
            {
                "direction": row.direction,
                "record_key": row.record_key,
                "action": row.action,
                "record_id": row.record_id,
                "changes": [{"field": name, "before": before, "after": after} for name, before, after in row.changes],
                "category": row.category,
                "message": row.message,
            }
            for row in preview.rows
        ]
        body = {
            "read": preview.read,
            "unchanged": preview.unchanged,
            "skipped": preview.skipped,
            "truncated": preview.truncated,
            "rows": rows,
        }
        return Response(body)


SYNC_FILTER = OpenApiParameter("sync", OpenApiTypes.UUID, description="Only the runs of this sync.")


@extend_schema_view(list=extend_schema(parameters=[SYNC_FILTER]))
class RunViewSet(WorkspaceReadOnlyViewSet):
    """Runs of the workspace's syncs, newest first."""

    queryset = Run.objects.select_related("sync")
    serializer_class = RunSerializer
    workspace_field = "sync__workspace"
    lookup_field = "public_id"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("sync"):
            queryset = queryset.filter(sync=_sync_of_workspace(self.workspace, self.request.query_params["sync"]))
        return queryset


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("sync", OpenApiTypes.UUID, description="Only the failures of this sync."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=RecordFailure.Status.values),
            OpenApiParameter("category", OpenApiTypes.STR, enum=[value for value, _ in FAILURE_CATEGORIES]),
        ]
    ),
    retry=extend_schema(request=None, responses={202: RunSerializer}),
    ignore=extend_schema(request=None, responses={200: FailureSerializer}),
    retry_many=extend_schema(
        operation_id="failures_retry_many",
        request=BulkRetrySerializer,
        responses={202: inline_serializer("RetryRuns", {"failures": serializers.IntegerField(), "runs": RunSerializer(many=True)})},
    ),
)
class FailureViewSet(WorkspaceReadOnlyViewSet):
    """Record failures of the workspace's syncs, with retry and ignore."""

    queryset = RecordFailure.objects.select_related("sync", "run")
    serializer_class = FailureSerializer
    workspace_field = "sync__workspace"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params = self.request.query_params
        if params.get("sync"):
            queryset = queryset.filter(sync=_sync_of_workspace(self.workspace, params["sync"]))
        for name, allowed in (
            ("status", RecordFailure.Status.values),
            ("category", [value for value, _ in FAILURE_CATEGORIES]),
        ):
            value = params.get(name)
            if not value:
                continue
            if value not in allowed:
                raise ValidationError({name: [f"'{value}' is not a {name}. Use one of: {', '.join(allowed)}."]})
            queryset = queryset.filter(**{name: value})
        return queryset

    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue a retry run for this failure; 409 when it is resolved or ignored."""
        failure = self.get_object()
        if failure.status not in LIVE_FAILURE_STATUSES:
            return Response(
                {"detail": f"Failure {failure.pk} is {failure.get_status_display().lower()}; only open failures can be retried."},
                status=status.HTTP_409_CONFLICT,
            )
        run = failure.retry()
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def ignore(self, request, pk=None):
        """Mark this failure ignored; 409 when it is already resolved."""
        failure = self.get_object()
        if failure.status == RecordFailure.Status.RESOLVED:
            return Response(
                {"detail": f"Failure {failure.pk} is resolved: the record was written, so there is nothing to ignore."},
                status=status.HTTP_409_CONFLICT,
            )
        failure.ignore()
        return Response(self.get_serializer(failure).data)

    @action(detail=False, methods=["post"], url_path="retry", url_name="retry-many")
    def retry_many(self, request):
        """
        Queue retry runs for the failures named by `ids`, or for a sync's open failures of one `category`.

        One retry run is queued per sync. An id of another workspace, or one
        that doesn't exist, is a 400 naming it; so is a selection with no
        open failure.
        """
        body = BulkRetrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        scope = RecordFailure.objects.filter(sync__workspace=self.workspace)
        if "ids" in data:
            ids = list(dict.fromkeys(data["ids"]))
            selected = scope.filter(pk__in=ids)
            unknown = sorted(set(ids) - set(selected.values_list("pk", flat=True)))
            if unknown:
                raise ValidationError(
                    {"ids": [f"No failure with id {', '.join(map(str, unknown))} exists in this workspace. List the failures to find the right ids."]}
                )
        else:
            sync = _sync_of_workspace(self.workspace, data["sync"])
            selected = scope.filter(sync=sync)
            if "category" in data:
                selected = selected.filter(category=data["category"])
        selected = selected.filter(status__in=LIVE_FAILURE_STATUSES)
        count = selected.count()
        if not count:
            raise ValidationError({"non_field_errors": ["None of the selected failures is open, so there is nothing to retry."]})
        runs = []
        for sync in Sync.objects.filter(pk__in=selected.values("sync")).order_by("pk"):
            run = retry_failures(sync, selected.filter(sync=sync))
            if run is not None:
                run.refresh_from_db()
                runs.append(run)
        logger.info("API key %s retried %s failures in %s runs", request.auth.prefix, count, len(runs))
        return Response({"failures": count, "runs": RunSerializer(runs, many=True).data}, status=status.HTTP_202_ACCEPTED)
