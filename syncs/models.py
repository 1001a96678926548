import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from connections.providers.types import FAILURE_LABELS, FailureCategory


class Direction(models.TextChoices):
    A_TO_B = "a_to_b", "A → B"
    B_TO_A = "b_to_a", "B → A"


FailureCategoryChoices = models.TextChoices(
    "FailureCategoryChoices",
    [(category.name, (category.value, FAILURE_LABELS[category])) for category in FailureCategory],
)


class Sync(models.Model):
    """
    A link between an object of two connections, kept in step on a schedule.

    The two connections are side A and side B. Each field mapping names its
    direction, so a sync may write both ways while every field keeps one
    source of truth.
    """

    class Policy(models.TextChoices):
        UPDATE_ONLY = "update_only", "Update records found on both sides only"
        CREATE = "create", "Create the record where it is missing"

    class DeletionPolicy(models.TextChoices):
        KEEP = "keep", "Keep the destination record as it is"
        ARCHIVE = "archive", "Archive the linked destination record"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        BLOCKED = "blocked", "Blocked"

    DEFAULT_INTERVAL_MINUTES = 15
    # A week. django-q2 stores a schedule's minutes in a small integer
    # (at most 32,767), and a longer interval is better served by pausing.
    MAX_INTERVAL_MINUTES = 7 * 24 * 60

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="syncs")
    name = models.CharField(max_length=100)
    connection_a = models.ForeignKey(
        "connections.Connection", on_delete=models.PROTECT, related_name="syncs_as_a"
    )
    object_a = models.CharField(max_length=50)
    connection_b = models.ForeignKey(
        "connections.Connection", on_delete=models.PROTECT, related_name="syncs_as_b"
    )
    object_b = models.CharField(max_length=50)
    match_key = models.CharField(max_length=30, default="email")
    interval_minutes = models.PositiveIntegerField(default=DEFAULT_INTERVAL_MINUTES)
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.UPDATE_ONLY)
    # What a run does to the linked destination record once the source tool
    # reports a record deleted or archived. It archives it once at most,
    # because the record state remembers that its source is gone.
    deletion_policy = models.CharField(
        max_length=10,
        choices=DeletionPolicy.choices,
        default=DeletionPolicy.KEEP,
        help_text="What a run does to the linked destination record when the source record is deleted or archived.",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled sync runs only when asked.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Why the sync is blocked, in words a member understands: a run-level
    # failure such as a connection needing re-authorisation.
    blocked_reason = models.TextField(blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A worker claims the sync by writing a lease in one UPDATE; the lease
    # expires if the worker dies, so another can resume the run.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.next_run_at is None:
            self.next_run_at = timezone.now()
        super().save(*args, **kwargs)
        from syncs.scheduling import update_schedule

        update_schedule(self)

    def delete(self, *args, **kwargs):
        from syncs.scheduling import remove_schedule

        remove_schedule(self)
        return super().delete(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("syncs:detail", args=[self.workspace.public_id, self.public_id])

    def connection_for(self, side):
        return self.connection_a if side == "a" else self.connection_b

    def object_for(self, side):
        return self.object_a if side == "a" else self.object_b

    @property
    def is_runnable(self):
        return self.status == self.Status.ACTIVE

    def claim(self, owner, lease_seconds):
        """
        Take the sync's lease for `owner` if no live lease exists; returns True when taken.

        A single conditional UPDATE decides, so two workers can never both
        hold a sync, on SQLite or PostgreSQL alike.
        """
        now = timezone.now()
        taken = (
            Sync.objects.filter(pk=self.pk)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner))
            .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        )
        if taken:
            self.lease_owner = owner
            self.lease_expires_at = now + timedelta(seconds=lease_seconds)
        return bool(taken)

    def extend_lease(self, owner, lease_seconds):
        """Push the lease's expiry on; returns False when another worker took the sync over."""
        expires = timezone.now() + timedelta(seconds=lease_seconds)
        extended = Sync.objects.filter(pk=self.pk, lease_owner=owner).update(lease_expires_at=expires)
        return bool(extended)

    def release(self, owner):
        Sync.objects.filter(pk=self.pk, lease_owner=owner).update(lease_owner="", lease_expires_at=None)

    def schedule_next(self):
        """Record the time of the next scheduled run, as django-q2's schedule stores it, for pages and the API."""
        from django_q.models import Schedule

        from syncs.scheduling import schedule_name

        next_run = Schedule.objects.filter(name=schedule_name(self)).values_list("next_run", flat=True).first()
        self.next_run_at = next_run or timezone.now() + timedelta(minutes=self.interval_minutes)
        Sync.objects.filter(pk=self.pk).update(next_run_at=self.next_run_at)

    def run_now(self):
        """Queue a manual run, or return the run already queued or running; returns (run, created)."""
        from syncs.services import start_run

        return start_run(self, Run.Trigger.MANUAL)

    def pause(self):
        self.status = self.Status.PAUSED
        self.save(update_fields=["status", "updated_at"])

    def resume(self):
        """Return a paused or blocked sync to its schedule, clearing the blocking reason."""
        self.status = self.Status.ACTIVE
        self.blocked_reason = ""
        self.next_run_at = timezone.now()
        self.save(update_fields=["status", "blocked_reason", "next_run_at", "updated_at"])

    def block(self, reason):
        """Stop scheduled runs after a run-level failure until a member fixes its cause."""
        self.status = self.Status.BLOCKED
        self.blocked_reason = reason
        self.save(update_fields=["status", "blocked_reason", "updated_at"])

    def open_failures(self):
        return self.failures.filter(status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING])


class FieldMapping(models.Model):
    """One field on each side of a sync, and which side is its source of truth."""

    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="mappings")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.A_TO_B)
    source_field = models.CharField(max_length=200)
    destination_field = models.CharField(max_length=200)
    # The field definitions seen when the mapping was saved (type, options,
    # length limit), as FieldSpec dicts; runs refresh them from the tools.
    source_spec = models.JSONField(default=dict, blank=True)
    destination_spec = models.JSONField(default=dict, blank=True)
    # {"value_map": {...}, "truncate": bool, "scale": number, ...}: the
    # shapes the engine's conversion accepts.
    transform = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            # A field is written by one mapping only.
            models.UniqueConstraint(
                fields=["sync", "direction", "destination_field"],
                name="syncs_mapping_one_writer_per_field",
            ),
        ]

    def __str__(self):
        return f"{self.source_field} → {self.destination_field} ({self.get_direction_display()})"

    @property
    def source_side(self):
        return "a" if self.direction == Direction.A_TO_B else "b"

    @property
    def destination_side(self):
        return "b" if self.direction == Direction.A_TO_B else "a"


class SyncCursor(models.Model):
    """How far a direction of a sync has read its source; advanced only past stored outcomes."""

    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="cursors")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync", "direction"], name="syncs_cursor_unique"),
        ]

    def __str__(self):
        return f"{self.sync} {self.direction}: {self.value[:40]}"


class Run(models.Model):
    """One execution of a sync."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        RETRY = "retry", "Retry"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with failures"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    read_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # API calls made, by kind: {"read": n, "search": n, "write": n, "auth": n}.
    api_calls = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="Why the run as a whole could not proceed.")
    error_category = models.CharField(max_length=20, blank=True, choices=FailureCategoryChoices.choices)
    # The record failures a retry run works on.
    retry_failure_ids = models.JSONField(default=list, blank=True)

    COUNT_FIELDS = (
        "read_count",
        "matched_count",
        "unmatched_count",
        "unchanged_count",
        "updated_count",
        "created_count",
        "failed_count",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["sync", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self):
        return f"Run {self.pk} of {self.sync}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_finished(self):
        return self.status in (self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED)

    def add_counts(self, **counts):
        """Add to the run's counters in one UPDATE, so a batch's counts commit with its outcomes."""
        updates = {f"{name}_count": F(f"{name}_count") + value for name, value in counts.items() if value}
        if updates:
            Run.objects.filter(pk=self.pk).update(**updates)

    def add_api_calls(self, calls):
        """Add a Counter of API calls by kind to the stored totals."""
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=self.pk)
            totals = dict(run.api_calls or {})
            for kind, count in calls.items():
                totals[kind] = totals.get(kind, 0) + count
            Run.objects.filter(pk=self.pk).update(api_calls=totals)
        self.api_calls = totals


class RecordFailure(models.Model):
    """One record that could not be written, kept until a later write succeeds or a member ignores it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RETRYING = "retrying", "Retrying"
        RESOLVED = "resolved", "Resolved"
        IGNORED = "ignored", "Ignored"

    # Transient failures retry on their own this many times before they
    # wait for a member.
    MAX_AUTOMATIC_ATTEMPTS = 5

    # The (sync, status, category) index serves lookups by sync.
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="failures", db_index=False)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="failures")
    record_key = models.CharField(max_length=320, help_text="The match key, or the source record id without one.")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    source_record_id = models.CharField(max_length=100, blank=True)
    destination_record_id = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=20, choices=FailureCategoryChoices.choices)
    message = models.TextField()
    values = models.JSONField(default=dict, blank=True, help_text="The values that were to be written.")
    response = models.TextField(blank=True, help_text="The tool's answer, trimmed, without secrets.")
    attempts = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_failed_at = models.DateTimeField(default=timezone.now)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set once the failure is in an alert digest, so none is sent twice.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_failed_at"]
        constraints = [
            # One live failure per record and direction: a repeat updates it.
            models.UniqueConstraint(
                fields=["sync", "direction", "record_key"],
                condition=Q(status__in=["open", "retrying"]),
                name="syncs_failure_one_live_per_record",
            ),
        ]
        indexes = [
            models.Index(fields=["sync", "status", "category"]),
            # Each batch finds the live failures of its records by key. SQLite
            # can't use the partial unique index for that when the statuses
            # are query parameters.
            models.Index(fields=["sync", "direction", "record_key"]),
        ]

    def __str__(self):
        return f"{self.record_key}: {self.get_category_display()}"

    @property
    def is_transient(self):
        return FailureCategory(self.category).is_transient

    def retry(self):
        """Queue a retry run that reads this record afresh and writes what is still needed."""
        from syncs.services import retry_failures

        return retry_failures(self.sync, RecordFailure.objects.filter(pk=self.pk))

    def resolve(self):
        self.status = self.Status.RESOLVED
        self.resolved_at = timezone.now()
        self.save(update_fields=["status", "resolved_at"])

    def ignore(self):
        self.status = self.Status.IGNORED
        self.save(update_fields=["status"])


class RecordState(models.Model):
    """Per sync and match key: the record ids on each side and the values this sync last wrote."""

    # The unique (sync, record_key) index serves lookups by sync.
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="record_states", db_index=False)
    record_key = models.CharField(max_length=320)
    record_id_a = models.CharField(max_length=100, blank=True)
    record_id_b = models.CharField(max_length=100, blank=True)
    # {"a": {field: value}, "b": {field: value}}: what this sync wrote into
    # each side, so the next read of that side doesn't take it as a change.
    written = models.JSONField(default=dict, blank=True)
    # True once the source tool reported the record deleted or archived.
    # A database default, because batches insert record state with raw SQL.
    source_deleted = models.BooleanField(default=False, db_default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sync", "record_key"], name="syncs_record_state_unique"),
        ]
        # Each batch reads the states of its source records by their ids.
        indexes = [
            models.Index(fields=["sync", "record_id_a"]),
            models.Index(fields=["sync", "record_id_b"]),
        ]

    def __str__(self):
        return f"{self.sync}: {self.record_key}"


class FieldChange(models.Model):
    """A field written by a run: who changed what, and when."""

    # The (sync, record_key) and (sync, changed_at) indexes serve lookups by sync.
    sync = models.ForeignKey(Sync, on_delete=models.CASCADE, related_name="changes", db_index=False)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="changes")
    record_key = models.CharField(max_length=320)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    record_id = models.CharField(max_length=100, blank=True, help_text="The destination record's id.")
    field = models.CharField(max_length=200)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [
            models.Index(fields=["sync", "record_key"]),
            models.Index(fields=["sync", "changed_at"]),
        ]

    def __str__(self):
        return f"{self.record_key}.{self.field}: {self.old_value!r} → {self.new_value!r}"
