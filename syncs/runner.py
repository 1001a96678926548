"""
Execute a run of a sync, step by step.

1. Claim the sync's lease; a worker that can't claim it leaves the run to
   the worker that holds it.
2. For each direction with mappings, read the source records changed since
   that direction's cursor, gathered into batches of BATCH_RECORDS. A source
   whose tool hides archived records from that read (it has
   `read_archived`) then lists its archived records, and those linked by an
   earlier run and not yet known to be gone are handled as deleted.
3. Look each batch's emails up on the destination, then let the engine
   match, convert and diff them.
4. Write only the changed fields, in the destination's batch size. A
   deleted or archived source record writes nothing. When the sync's
   deletion policy is "archive", its linked destination record is archived,
   once: the record state then stores that its source is gone.
5. Store the outcomes, the change log, the record state, the counts and the
   new cursor in one transaction per batch, then extend the lease. A worker
   killed mid-batch loses that batch only, and the next run redoes it. The
   destination then already contains any value that was written, so the
   diff finds nothing to write twice.
6. Retry the transient failures that are due, then finish the run.

A failure of the run as a whole (a connection needing re-authorisation, a
field that no longer exists, the plan's monthly quota) stops the run with
one clear error and no per-record failures; authorisation problems also
block the sync until a member fixes them.
"""

import gc
import logging
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import PlanLimitExceeded
from connections.models import Connection
from connections.providers.errors import ProviderError, ReauthorizationRequired
from connections.providers.types import FailureCategory, WriteOutcome
from syncs.engine import CreatePolicy, MappingSpec, chunk, emails_to_look_up, normalize_email, plan_batch
from syncs.engine import RecordState as EngineRecordState
from syncs.models import Direction, RecordFailure, RecordState, Run, Sync, SyncCursor
from syncs.recording import BatchOutcome, failure_key, store_batch
from syncs.usage import records_used_this_month

logger = logging.getLogger(__name__)

# A worker holds a sync's lease this long without news before another may
# resume its run; every stored batch extends it.
LEASE_SECONDS = 600
# Source records handled, and committed, together. Each commit writes every
# database page the batch changed, and on SQLite a batch of 1,000 cost 4% to
# 12% less CPU a record than one of 500 in runs of 30,000 customers.
BATCH_RECORDS = 1000
# During a run, the garbage collector's youngest generation is collected
# after this many new containers instead of CPython's 700.
RUN_COLLECTION_THRESHOLD = 10_000


class RunAborted(Exception):
    """The run as a whole can't go on; `message` is for a workspace member."""

    def __init__(self, category, message, block=False):
        self.category = FailureCategory(category)
        self.message = message
        self.block = block
        super().__init__(message)


def execute_run(run_id):
    """Execute one run if this worker can claim its sync; returns the Run."""
    run = Run.objects.select_related("sync", "sync__workspace__plan").get(pk=run_id)
    if run.is_finished:
        return run
    sync = run.sync
    owner = f"{uuid.uuid4().hex}"
    if not sync.claim(owner, LEASE_SECONDS):
        logger.info("Sync %s is already running elsewhere; run %s waits for it", sync.pk, run.pk)
        return run
    try:
        now = timezone.now()
        Run.objects.filter(pk=run.pk).update(
            status=Run.Status.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now
        )
        run.refresh_from_db()
        logger.info("Run %s of sync %s (workspace %s) started", run.pk, sync.pk, sync.workspace_id)
        with collector_tuned_for_run():
            RunExecutor(run, owner).execute()
    finally:
        sync.release(owner)
    run.refresh_from_db()
    queued = sync.runs.filter(status=Run.Status.QUEUED).exclude(pk=run.pk).order_by("created_at").first()
    if queued is not None:
        from syncs.services import enqueue

        enqueue(queued)
    return run


@contextmanager
def collector_tuned_for_run():
    """
    Keep the worker's own objects out of the garbage collector's sight, and collect less often, for the length of a run.

    A run decodes pages into hundreds of thousands of short-lived dicts and
    lists, few of them in reference cycles, and CPython starts a collection
    every 700 new containers. Without this, collections cost about 15% of a
    run's CPU time: each full one walks every object of Django and the loaded
    modules. Freezing moves those into a generation the collector skips,
    and a larger first threshold makes young collections rarer. A worker
    runs one task at a time, so changing these process-wide settings for the
    run affects nothing else, and both are restored when it ends.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(RUN_COLLECTION_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class RunExecutor:
    def __init__(self, run, owner):
        self.run = run
        self.sync = run.sync
        self.owner = owner
        self.providers = {}
        self.field_specs = {}
        # Per direction, the source record id first handled for each email in this run.
        self.keys_seen = {}

    # The run ------------------------------------------------------------

    def execute(self):
        error = None
        try:
            if self.run.trigger == Run.Trigger.RETRY:
                self.retry_failures(RecordFailure.objects.filter(pk__in=self.run.retry_failure_ids))
            else:
                for direction in self.directions():
                    self.sync_direction(direction)
                self.retry_failures(self.due_failures())
        except RunAborted as exc:
            error = exc
        except ReauthorizationRequired as exc:
            error = RunAborted(FailureCategory.AUTHORISATION, exc.message, block=True)
        except ProviderError as exc:
            error = self.abort_for_provider_error(exc)
        finally:
            self.store_api_calls()
        self.finish(error)

    def directions(self):
        present = set(self.sync.mappings.values_list("direction", flat=True))
        return [direction for direction in (Direction.A_TO_B, Direction.B_TO_A) if direction in present]

    def finish(self, error):
        run = self.run
        run.refresh_from_db()
        run.finished_at = timezone.now()
        if error is not None:
            run.status = Run.Status.FAILED
            run.error = error.message
            run.error_category = error.category.value
        elif run.failed_count:
            run.status = Run.Status.PARTIAL
        else:
            run.status = Run.Status.SUCCEEDED
        run.save(update_fields=["status", "finished_at", "error", "error_category"])
        logger.info(
            "Run %s of sync %s finished %s: read=%s updated=%s created=%s unchanged=%s failed=%s",
            run.pk,
            self.sync.pk,
            run.status,
            run.read_count,
            run.updated_count,
            run.created_count,
            run.unchanged_count,
            run.failed_count,
        )
        if error is not None:
            if error.block:
                self.sync.block(error.message)
            from syncs.alerts import alert_run_failed

            try:
                alert_run_failed(run)
            except Exception:
                # A broken mail server must not turn a finished run into a crash.
                logger.exception("Alert for failed run %s of sync %s could not be sent", run.pk, self.sync.pk)

    def abort_for_provider_error(self, exc):
        if exc.category == FailureCategory.AUTHORISATION:
            return RunAborted(exc.category, exc.message, block=True)
        return RunAborted(exc.category, f"{exc.message}. The next scheduled run tries again.")

    def store_api_calls(self):
        calls = Counter()
        for provider in self.providers.values():
            calls.update(provider.http.calls)
        if calls:
            self.run.add_api_calls(calls)

    # Connections and fields ---------------------------------------------

    def provider_for(self, side):
        connection = Connection.objects.get(pk=self.sync.connection_for(side).pk)
        if connection.status != Connection.Status.ACTIVE:
            raise RunAborted(
                FailureCategory.AUTHORISATION,
                connection.last_error
                or f"The connection {connection.display_name} is {connection.get_status_display().lower()}.",
                block=True,
            )
        if side not in self.providers:
            connection.ensure_fresh_token()
            self.providers[side] = connection.get_provider()
        return self.providers[side]

    def fields_for(self, side):
        if side not in self.field_specs:
            provider = self.provider_for(side)
            fields = provider.list_fields(self.sync.object_for(side))
            self.field_specs[side] = {field.name: field for field in fields}
        return self.field_specs[side]

    def mapping_specs(self, direction):
        source_side, destination_side = sides(direction)
        source_fields = self.fields_for(source_side)
        destination_fields = self.fields_for(destination_side)
        specs = []
        for mapping in self.sync.mappings.filter(direction=direction):
            for side, fields, name in (
                (source_side, source_fields, mapping.source_field),
                (destination_side, destination_fields, mapping.destination_field),
            ):
                if name not in fields:
                    spec = self.provider_for(side).field_spec(self.sync.object_for(side), name)
                    if spec is not None:
                        fields[name] = spec
                        continue
                    connection = self.sync.connection_for(side)
                    raise RunAborted(
                        FailureCategory.NOT_FOUND,
                        f"The field {name} no longer exists in {connection.provider_label} "
                        f"({connection.display_name}). Edit the sync's mappings to choose another field.",
                        block=True,
                    )
            specs.append(
                MappingSpec(
                    source_fields[mapping.source_field],
                    destination_fields[mapping.destination_field],
                    mapping.transform or None,
                )
            )
        return specs

    # Reading and writing ------------------------------------------------

    def sync_direction(self, direction):
        source_side, _ = sides(direction)
        source = self.provider_for(source_side)
        specs = self.mapping_specs(direction)
        cursor, _ = SyncCursor.objects.get_or_create(sync=self.sync, direction=direction)
        field_names = [spec.source_field.name for spec in specs]
        batch, batch_cursor = [], cursor.value
        for page in source.read_changes(self.sync.object_for(source_side), field_names, cursor.value or None):
            batch.extend(page.records)
            batch_cursor = page.cursor
            if len(batch) >= BATCH_RECORDS or not page.has_more:
                self.handle_batch(direction, specs, batch, cursor, batch_cursor)
                batch = []
        if batch:
            self.handle_batch(direction, specs, batch, cursor, batch_cursor)

        read_archived = getattr(source, "read_archived", None)
        if read_archived is not None:
            self.sync_archived(direction, specs, read_archived(self.sync.object_for(source_side), field_names, None))

    def sync_archived(self, direction, specs, pages):
        """
        Handle, as deleted, the archived source records linked by an earlier run and not yet marked source_deleted.

        The tool lists every archived record on each run, so the record state
        is what keeps a record from being handled twice. Archived records
        without record state were never linked, and are skipped.
        """
        source_side, _ = sides(direction)
        source_column = f"record_id_{source_side}"
        batch = []
        for page in pages:
            ids = [record.id for record in page.records]
            pending = set(
                RecordState.objects.filter(
                    sync=self.sync, source_deleted=False, **{f"{source_column}__in": ids}
                ).values_list(source_column, flat=True)
            )
            batch.extend(replace(record, deleted=True) for record in page.records if record.id in pending)
            if len(batch) >= BATCH_RECORDS:
                self.handle_batch(direction, specs, batch)
                batch = []
        if batch:
            self.handle_batch(direction, specs, batch)

    def handle_batch(self, direction, specs, records, cursor=None, new_cursor=None):
        """Plan, write and store one batch of source records; the cursor moves in the same transaction."""
        outcome = self.write_batch(direction, specs, records)
        with transaction.atomic():
            store_batch(self.run, outcome)
            if cursor is not None and new_cursor is not None and new_cursor != cursor.value:
                cursor.value = new_cursor
                cursor.save(update_fields=["value", "updated_at"])
        now = timezone.now()
        Run.objects.filter(pk=self.run.pk).update(heartbeat_at=now)
        if not self.sync.extend_lease(self.owner, LEASE_SECONDS):
            raise RunAborted(
                FailureCategory.TOOL_ERROR,
                "Another worker took this run over after it stopped reporting progress.",
            )

    def write_batch(self, direction, specs, records):
        source_side, destination_side = sides(direction)
        destination = self.provider_for(destination_side)
        destination_object = self.sync.object_for(destination_side)
        destination_fields = [spec.destination_field.name for spec in specs]
        outcome = BatchOutcome(direction, source_side, destination_side, read=len(records))
        records = self.without_earlier_duplicates(direction, source_side, records, outcome)

        states = self.engine_states(source_side, destination_side, records)
        found = {}
        for emails in chunk(emails_to_look_up(records), destination.lookup_batch_size):
            found.update(destination.lookup_by_email(destination_object, emails, destination_fields))

        linked = self.fetch_linked(destination, destination_object, destination_fields, states, found)
        plan = plan_batch(records, found, specs, CreatePolicy(self.sync.policy), states, linked_records=linked)
        self.check_quota(len(plan.writes) + len(plan.creates))
        current_values = {
            record.id: record.values for candidates in found.values() for record in candidates
        }
        current_values.update({record_id: record.values for record_id, record in linked.items()})

        outcome.links.update(plan.links)
        outcome.deleted = list(plan.deleted)
        self.archive_deleted(destination, destination_object, records, outcome)
        outcome.matched = len(plan.links)
        outcome.unmatched = len(plan.skipped) + len(plan.creates)
        if plan.unchanged:
            ids_by_key = {normalize_email(record.email): record.id for record in records}
            outcome.unchanged = {key: ids_by_key.get(key, "") for key in plan.unchanged}
        for failure in plan.failures:
            outcome.failures.append(
                (
                    failure_key(failure.key, source_side, failure.source_id),
                    failure.source_id,
                    failure.destination_id,
                    failure.category,
                    failure.message,
                    failure.values,
                    "",
                )
            )

        for writes, method, counter in ((plan.writes, destination.write, "updated"), (plan.creates, destination.create, "created")):
            for batch in chunk(writes, destination.write_batch_size):
                results = self.call_writes(method, destination_object, batch)
                by_key = {write.key: write for write in batch}
                for result in results:
                    write = by_key[result.key]
                    source_id = plan.source_ids.get(result.key, "")
                    if result.ok:
                        record_id = result.record_id or write.record_id
                        old = current_values.get(write.record_id, {})
                        outcome.written[result.key] = (
                            source_id,
                            record_id,
                            {name: (old.get(name), value) for name, value in write.values.items()},
                        )
                        setattr(outcome, counter, getattr(outcome, counter) + 1)
                    else:
                        outcome.failures.append(
                            (
                                result.key,
                                source_id,
                                write.record_id,
                                result.category or FailureCategory.TOOL_ERROR,
                                result.message,
                                write.values,
                                result.response,
                            )
                        )
        return outcome

    def archive_deleted(self, destination, object_name, records, outcome):
        """
        Archive the destination records linked to the batch's deleted sources when the deletion policy is "archive".

        Only links whose source is not yet marked source_deleted are archived,
        so each destination record is archived once. A failed archive becomes a
        record failure, and its source id leaves `outcome.deleted`, so the next
        run that reports the source deleted again tries once more.

        NOTE: a source that reports deletions once, through its change feed
        (Stripe's customer.deleted), never reports them again, and retrying a
        failure reads the source by email, which no longer finds the record.
        Such an archive failure stays open until a member handles it.
        """
        if not outcome.deleted or self.sync.deletion_policy != Sync.DeletionPolicy.ARCHIVE:
            return
        source_column = f"record_id_{outcome.source_side}"
        destination_column = f"record_id_{outcome.destination_side}"
        linked = dict(
            RecordState.objects.filter(sync=self.sync, source_deleted=False, **{f"{source_column}__in": outcome.deleted})
            .exclude(**{destination_column: ""})
            .values_list(source_column, destination_column)
        )
        if not linked:
            return
        emails = {record.id: normalize_email(record.email) for record in records}
        sources_by_destination = {}
        for source_id, destination_id in linked.items():
            sources_by_destination.setdefault(destination_id, []).append(source_id)

        failed_sources = set()
        for batch in chunk(list(sources_by_destination), destination.write_batch_size):
            for result in self.call_archive(destination, object_name, batch):
                for source_id in sources_by_destination.get(result.key, []):
                    key = failure_key(emails.get(source_id), outcome.source_side, source_id)
                    if result.ok:
                        outcome.archived[key] = source_id
                        continue
                    failed_sources.add(source_id)
                    message = result.message or f"The {object_name} record {result.key} could not be archived."
                    outcome.failures.append(
                        (
                            key,
                            source_id,
                            result.key,
                            result.category or FailureCategory.TOOL_ERROR,
                            message,
                            {},
                            result.response,
                        )
                    )
        outcome.deleted = [source_id for source_id in outcome.deleted if source_id not in failed_sources]
        logger.info(
            "Run %s of sync %s archived %s destination records; %s failed",
            self.run.pk,
            self.sync.pk,
            len(outcome.archived),
            len(failed_sources),
        )

    def call_archive(self, destination, object_name, record_ids):
        """Archive one batch; an error for the whole batch becomes a failure of each record, except authorisation."""
        try:
            return destination.archive(object_name, record_ids)
        except ReauthorizationRequired:
            raise
        except ProviderError as exc:
            if exc.category == FailureCategory.AUTHORISATION:
                raise
            return [
                WriteOutcome(key=record_id, ok=False, category=exc.category, message=exc.message, response=exc.response)
                for record_id in record_ids
            ]

    def without_earlier_duplicates(self, direction, source_side, records, outcome):
        """
        Fail the records whose email an earlier batch of this run already wrote for another source record.

        Inside a batch the engine fails both records of a shared email. A
        record whose twin came in an earlier batch can only fail itself,
        naming the record already written, so it never overwrites it.
        """
        seen = self.keys_seen.setdefault(direction, {})
        kept = []
        for record in records:
            key = normalize_email(record.email)
            first = seen.get(key) if key and not record.deleted else None
            if first is None or first == record.id:
                if key and not record.deleted:
                    seen.setdefault(key, record.id)
                kept.append(record)
                continue
            message = (
                f"Source records {first} and {record.id} both have the email {key}, and {first} was "
                f"written earlier in this run; {record.id} was not written. Merge them in the source tool, then retry."
            )
            outcome.failures.append((key, record.id, None, FailureCategory.DUPLICATE, message, {}, ""))
        return kept

    def fetch_linked(self, destination, object_name, field_names, states, found):
        """
        Fetch the destination records linked by earlier runs that the email lookup did not return.

        Those are records whose email changed on one side since the last
        run. Matching them by link updates the record instead of creating
        a second one for the new email.
        """
        found_ids = {record.id for candidates in found.values() for record in candidates}
        missing = [state.destination_id for state in states.values() if state.destination_id and state.destination_id not in found_ids]
        if not missing:
            return {}
        return destination.fetch_by_ids(object_name, missing, field_names)

    def call_writes(self, method, object_name, batch):
        """Write one batch; an error for the whole batch becomes a failure of each record, except authorisation."""
        try:
            return method(object_name, batch)
        except ReauthorizationRequired:
            raise
        except ProviderError as exc:
            if exc.category == FailureCategory.AUTHORISATION:
                raise
            return [
                WriteOutcome(key=write.key, ok=False, category=exc.category, message=exc.message, response=exc.response)
                for write in batch
            ]

    def engine_states(self, source_side, destination_side, records):
        source_column = f"record_id_{source_side}"
        destination_column = f"record_id_{destination_side}"
        rows = RecordState.objects.filter(
            sync=self.sync, **{f"{source_column}__in": [record.id for record in records]}
        ).only(source_column, destination_column, "written")
        return {
            getattr(row, source_column): EngineRecordState(
                destination_id=getattr(row, destination_column) or None,
                written_to_source=(row.written or {}).get(source_side, {}),
            )
            for row in rows
        }

    def check_quota(self, records):
        if not records:
            return
        workspace = self.sync.workspace
        try:
            workspace.check_records_quota(records_used_this_month(workspace), records)
        except PlanLimitExceeded as exc:
            raise RunAborted(FailureCategory.REJECTED_VALUE, str(exc)) from None

    # Retries ------------------------------------------------------------

    def due_failures(self):
        return RecordFailure.objects.filter(
            sync=self.sync,
            status=RecordFailure.Status.OPEN,
            next_retry_at__lte=timezone.now(),
            category__in=[category.value for category in FailureCategory if category.is_transient],
        )

    def retry_failures(self, failures):
        """Read each failed record afresh from its source and write what is still needed."""
        failures = list(failures.filter(status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]))
        if not failures:
            return
        RecordFailure.objects.filter(pk__in=[failure.pk for failure in failures]).update(
            status=RecordFailure.Status.RETRYING
        )
        for direction in self.directions():
            keys = [failure.record_key for failure in failures if failure.direction == direction and "@" in failure.record_key]
            if not keys:
                continue
            source_side, _ = sides(direction)
            source = self.provider_for(source_side)
            specs = self.mapping_specs(direction)
            field_names = [spec.source_field.name for spec in specs]
            for emails in chunk(keys, source.lookup_batch_size):
                found = source.lookup_by_email(self.sync.object_for(source_side), emails, field_names)
                records = [record for email in emails for record in found.get(email, [])]
                if records:
                    self.handle_batch(direction, specs, records)
                missing = [email for email in emails if not found.get(email)]
                RecordFailure.objects.filter(
                    sync=self.sync, direction=direction, record_key__in=missing, status=RecordFailure.Status.RETRYING
                ).update(
                    status=RecordFailure.Status.OPEN,
                    category=FailureCategory.NOT_FOUND.value,
                    message="The record is no longer in the source tool under this email, so there is nothing to retry.",
                    next_retry_at=None,
                )
        # Failures the retry could not reach (no email) go back to waiting for a member.
        RecordFailure.objects.filter(
            pk__in=[failure.pk for failure in failures], status=RecordFailure.Status.RETRYING
        ).update(status=RecordFailure.Status.OPEN)


def sides(direction):
    """Return (source side, destination side) of a direction."""
    return ("a", "b") if direction == Direction.A_TO_B else ("b", "a")
