"""
Store the outcome of one batch of a run: record state, change log, failures and counts.

Everything here runs inside the batch's transaction, with a fixed number of
queries per batch whatever its size, so a run of 100,000 records costs a
few hundred queries, not one per record.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from connections.providers.errors import excerpt
from connections.providers.types import FailureCategory
from syncs.engine import json_ready
from syncs.models import FieldChange, RecordFailure, RecordState

# Transient failures retry on their own after this delay, doubled per attempt.
AUTOMATIC_RETRY_BASE = timedelta(minutes=5)


@dataclass
class BatchOutcome:
    """The outcome of each record of a batch, ready to store."""

    direction: str
    source_side: str
    destination_side: str
    # match key → (source id, destination id, {field: (old, new)}) of records written or created.
    written: dict = field(default_factory=dict)
    # source id → destination id of every matched record, written or not.
    links: dict = field(default_factory=dict)
    # match key → source id for records left as they were (already equal).
    unchanged: dict = field(default_factory=dict)
    # (record key, source id, destination id, category, message, values, response)
    failures: list = field(default_factory=list)
    read: int = 0
    matched: int = 0
    unmatched: int = 0
    updated: int = 0
    created: int = 0


def failure_key(key, source_side, source_id):
    """Return the record key a failure is stored under: the email, or the source id when there is none."""
    return key or f"{source_side}:{source_id}"


def store_batch(run, outcome):
    """Write a batch's outcome in a fixed number of queries; call inside the batch's transaction."""
    sync = run.sync
    now = timezone.now()
    _store_states(sync, outcome)
    _store_changes(sync, run, outcome, now)
    failed_keys = _store_failures(sync, run, outcome, now)
    _resolve_failures(sync, outcome, failed_keys, now)
    run.add_counts(
        read=outcome.read,
        matched=outcome.matched,
        unmatched=outcome.unmatched,
        unchanged=len(outcome.unchanged),
        updated=outcome.updated,
        created=outcome.created,
        failed=len(failed_keys),
    )


def _store_states(sync, outcome):
    source_column = f"record_id_{outcome.source_side}"
    destination_column = f"record_id_{outcome.destination_side}"
    links = dict(outcome.links)
    for key, (source_id, destination_id, _changes) in outcome.written.items():
        links[source_id] = destination_id
    if not links:
        return
    keys_by_source = {source_id: key for key, (source_id, _d, _c) in outcome.written.items()}
    keys_by_source.update({source_id: key for key, source_id in outcome.unchanged.items()})
    existing = {
        getattr(state, source_column): state
        for state in RecordState.objects.filter(sync=sync, **{f"{source_column}__in": list(links)})
    }
    to_create, to_update = [], []
    for source_id, destination_id in links.items():
        state = existing.get(source_id)
        written = {}
        for key, (written_source_id, _d, changes) in outcome.written.items():
            if written_source_id == source_id:
                written = {name: json_ready(new) for name, (_old, new) in changes.items()}
        if state is None:
            key = keys_by_source.get(source_id) or f"{outcome.source_side}:{source_id}"
            state = RecordState(
                sync=sync,
                record_key=key,
                **{source_column: source_id, destination_column: destination_id},
                written={outcome.destination_side: written} if written else {},
            )
            to_create.append(state)
            continue
        changed = getattr(state, destination_column) != destination_id
        setattr(state, destination_column, destination_id)
        if written:
            side_values = dict(state.written.get(outcome.destination_side, {}))
            side_values.update(written)
            state.written = {**state.written, outcome.destination_side: side_values}
            changed = True
        if changed:
            to_update.append(state)
    # Two source records can't share a record key, because the engine fails
    # both as duplicates. A key may still belong to another source id after
    # an email moved between records, so the first state keeps the key.
    taken = set(
        RecordState.objects.filter(sync=sync, record_key__in=[state.record_key for state in to_create])
        .values_list("record_key", flat=True)
    )
    to_create = [state for state in to_create if state.record_key not in taken]
    RecordState.objects.bulk_create(to_create)
    RecordState.objects.bulk_update(to_update, ["record_id_a", "record_id_b", "written", "updated_at"])


def _store_changes(sync, run, outcome, now):
    changes = [
        FieldChange(
            sync=sync,
            run=run,
            record_key=key,
            direction=outcome.direction,
            record_id=destination_id or "",
            field=name,
            old_value=json_ready(old),
            new_value=json_ready(new),
            changed_at=now,
        )
        for key, (_source_id, destination_id, fields) in outcome.written.items()
        for name, (old, new) in fields.items()
    ]
    FieldChange.objects.bulk_create(changes, batch_size=500)


def _store_failures(sync, run, outcome, now):
    """Open or update one live failure per failed record; returns the failed record keys."""
    by_key = {}
    for record_key, source_id, destination_id, category, message, values, response in outcome.failures:
        by_key[record_key] = (source_id, destination_id, FailureCategory(category), message, values, response)
    if not by_key:
        return set()
    live = {
        failure.record_key: failure
        for failure in RecordFailure.objects.filter(
            sync=sync,
            direction=outcome.direction,
            record_key__in=list(by_key),
            status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING],
        )
    }
    to_create, to_update = [], []
    for record_key, (source_id, destination_id, category, message, values, response) in by_key.items():
        failure = live.get(record_key)
        if failure is None:
            failure = RecordFailure(sync=sync, direction=outcome.direction, record_key=record_key, attempts=0)
            to_create.append(failure)
        else:
            to_update.append(failure)
        failure.run = run
        failure.source_record_id = source_id or ""
        failure.destination_record_id = destination_id or ""
        failure.category = category.value
        failure.message = message
        failure.values = {name: json_ready(value) for name, value in (values or {}).items()}
        failure.response = excerpt(response)
        failure.attempts += 1
        failure.last_failed_at = now
        failure.status = RecordFailure.Status.OPEN
        failure.next_retry_at = (
            now + AUTOMATIC_RETRY_BASE * (2 ** (failure.attempts - 1))
            if category.is_transient and failure.attempts < RecordFailure.MAX_AUTOMATIC_ATTEMPTS
            else None
        )
    RecordFailure.objects.bulk_create(to_create)
    RecordFailure.objects.bulk_update(
        to_update,
        [
            "run",
            "source_record_id",
            "destination_record_id",
            "category",
            "message",
            "values",
            "response",
            "attempts",
            "last_failed_at",
            "status",
            "next_retry_at",
        ],
    )
    return set(by_key)


def _resolve_failures(sync, outcome, failed_keys, now):
    """Resolve the live failures of records that were written, or found already equal, in this batch."""
    succeeded = set(outcome.written) | set(outcome.unchanged)
    succeeded |= {
        failure_key(None, outcome.source_side, source_id)
        for source_id in [source_id for source_id, _d, _c in outcome.written.values()]
        + list(outcome.unchanged.values())
    }
    succeeded -= failed_keys
    if not succeeded:
        return
    RecordFailure.objects.filter(
        Q(record_key__in=list(succeeded)),
        sync=sync,
        direction=outcome.direction,
        status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING],
    ).update(status=RecordFailure.Status.RESOLVED, resolved_at=now, next_retry_at=None)
