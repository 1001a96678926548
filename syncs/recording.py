"""
Store the outcome of one batch of a run: record state, change log, failures and counts.

Everything here runs inside the batch's transaction, with a fixed number of
queries per batch whatever its size, so a run of 100,000 records costs a
few hundred queries, not one per record. Rows are written with one
`executemany` per statement through the connection's cursor rather than
through model instances: building and preparing a Django model per field
change cost most of the engine's CPU time. Values are adapted the way the
models' fields adapt them (JSON through the backend's JSON adapter, None as
SQL NULL for nullable JSON, datetimes through the backend), so the ORM reads
the rows back unchanged on SQLite and PostgreSQL.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connections, router
from django.utils import timezone

from connections.providers.errors import excerpt
from connections.providers.types import FailureCategory
from syncs.engine import json_bytes, json_ready
from syncs.models import FieldChange, RecordFailure, RecordState

# Transient failures retry on their own after this delay, doubled per attempt.
AUTOMATIC_RETRY_BASE = timedelta(minutes=5)
# Value types whose equal values have one JSON form (datetimes in two time
# zones can be equal and still differ in text).
CACHED_VALUE_TYPES = frozenset({str, int, float, bool, Decimal, date})
# Record keys per UPDATE that resolves failures.
RESOLVE_CHUNK = 900


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
    # Source ids of records the tool reported deleted or archived, to mark
    # source_deleted; a source whose destination record failed to archive is left out.
    deleted: list = field(default_factory=list)
    # record key → source id of records whose linked destination record was archived.
    archived: dict = field(default_factory=dict)
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
    _store_states(sync, outcome, now)
    _store_changes(sync, run, outcome, now)
    failed_keys = _store_failures(sync, run, outcome, now)
    _resolve_failures(sync, outcome, failed_keys, now)
    if outcome.deleted:
        # The link remembers that its source is gone, so a later run neither
        # handles it again nor archives its destination record twice.
        RecordState.objects.filter(sync=sync, **{f"record_id_{outcome.source_side}__in": outcome.deleted}).update(
            source_deleted=True
        )
    run.add_counts(
        read=outcome.read,
        matched=outcome.matched,
        unmatched=outcome.unmatched,
        unchanged=len(outcome.unchanged),
        updated=outcome.updated,
        created=outcome.created,
        failed=len(failed_keys),
    )


class RowWriter:
    """Raw INSERT and UPDATE statements for one model, with its table and column names quoted for the backend."""

    def __init__(self, model):
        self.model = model
        self.connection = connections[router.db_for_write(model)]
        self.quote = self.connection.ops.quote_name
        self.table = self.quote(model._meta.db_table)
        self._adapt_json = json_adapter(self.connection)
        # Field values repeat across a batch ("active", "0"), so each
        # distinct scalar is converted to JSON once.
        self._adapted = {}

    def column(self, name):
        return self.quote(self.model._meta.get_field(name).column)

    def json(self, value):
        """Adapt a value for a JSON column; None becomes SQL NULL, as JSONField.get_db_prep_save does."""
        if value is None:
            return None
        return self._adapt_json(value)

    def json_ready(self, value):
        """Adapt a converted value for a JSON column in its json_ready() form, once per distinct scalar value."""
        if type(value) not in CACHED_VALUE_TYPES:
            return self.json(json_ready(value))
        key = (type(value), value)
        adapted = self._adapted.get(key)
        if adapted is None:
            adapted = self._adapted[key] = self.json(json_ready(value))
        return adapted

    def datetime(self, value):
        return self.connection.ops.adapt_datetimefield_value(value)

    def insert(self, names, rows, on_conflict=None):
        """Insert rows of values in the order of `names`; `on_conflict` names the unique fields whose clash skips a row."""
        if not rows:
            return
        columns = ", ".join(self.column(name) for name in names)
        placeholders = ", ".join(["%s"] * len(names))
        sql = f"INSERT INTO {self.table} ({columns}) VALUES ({placeholders})"
        if on_conflict:
            sql += f" ON CONFLICT ({', '.join(self.column(name) for name in on_conflict)}) DO NOTHING"
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def update_by_pk(self, names, rows):
        """Set the fields `names` per row; each row contains their values followed by the primary key."""
        if not rows:
            return
        assignments = ", ".join(f"{self.column(name)} = %s" for name in names)
        sql = f"UPDATE {self.table} SET {assignments} WHERE {self.quote(self.model._meta.pk.column)} = %s"
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def json_adapter(connection):
    """
    Return a function that adapts a json_ready() value for a JSON column of `connection`'s backend.

    It encodes with orjson (json_bytes), several times faster than the
    standard library encoder the backends use, and wraps the text as each
    backend's own adapter does: psycopg's Jsonb on PostgreSQL, plain text on
    SQLite. Any other backend keeps its own adapter.
    """
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return lambda value: Jsonb(value, dumps=json_text)
    if connection.vendor == "sqlite":
        return json_text
    return lambda value: connection.ops.adapt_json_value(value, None)


def json_text(value):
    return json_bytes(value).decode()


def _store_states(sync, outcome, now):
    source_field = f"record_id_{outcome.source_side}"
    destination_field = f"record_id_{outcome.destination_side}"
    links = dict(outcome.links)
    written_by_source = {}
    keys_by_source = {}
    for key, (source_id, destination_id, changes) in outcome.written.items():
        links[source_id] = destination_id
        written_by_source[source_id] = {name: json_ready(new) for name, (_old, new) in changes.items()}
        keys_by_source[source_id] = key
    if not links:
        return
    keys_by_source.update({source_id: key for key, source_id in outcome.unchanged.items()})
    existing = {
        source_id: (pk, destination_id, written)
        for pk, source_id, destination_id, written in RecordState.objects.filter(
            sync=sync, **{f"{source_field}__in": list(links)}
        ).values_list("pk", source_field, destination_field, "written")
    }

    writer = RowWriter(RecordState)
    stamp = writer.datetime(now)
    inserts, updates = [], []
    for source_id, destination_id in links.items():
        written = written_by_source.get(source_id)
        state = existing.get(source_id)
        if state is None:
            key = keys_by_source.get(source_id) or f"{outcome.source_side}:{source_id}"
            values = {outcome.destination_side: written} if written else {}
            ids = {source_field: source_id, destination_field: destination_id}
            inserts.append((sync.pk, key, ids["record_id_a"], ids["record_id_b"], writer.json(values), stamp))
            continue
        pk, old_destination_id, values = state
        values = values or {}
        changed = old_destination_id != destination_id
        if written:
            side_values = dict(values.get(outcome.destination_side, {}))
            side_values.update(written)
            values = {**values, outcome.destination_side: side_values}
            changed = True
        if changed:
            updates.append((destination_id, writer.json(values), stamp, pk))
    # Two source records can't share a record key, because the engine fails
    # both as duplicates. A key may still belong to another source id after
    # an email moved between records, so the first state keeps the key and
    # the new one is not stored.
    writer.insert(
        ["sync", "record_key", "record_id_a", "record_id_b", "written", "updated_at"],
        inserts,
        on_conflict=["sync", "record_key"],
    )
    writer.update_by_pk([destination_field, "written", "updated_at"], updates)


def _store_changes(sync, run, outcome, now):
    writer = RowWriter(FieldChange)
    stamp = writer.datetime(now)
    adapt = writer.json_ready
    rows = [
        (
            sync.pk,
            run.pk,
            key,
            outcome.direction,
            destination_id or "",
            name,
            adapt(old),
            adapt(new),
            stamp,
        )
        for key, (_source_id, destination_id, fields) in outcome.written.items()
        for name, (old, new) in fields.items()
    ]
    writer.insert(
        ["sync", "run", "record_key", "direction", "record_id", "field", "old_value", "new_value", "changed_at"],
        rows,
    )


FAILURE_FIELDS = [
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
]


def _store_failures(sync, run, outcome, now):
    """Open or update one live failure per failed record; returns the failed record keys."""
    by_key = {}
    for record_key, source_id, destination_id, category, message, values, response in outcome.failures:
        by_key[record_key] = (source_id, destination_id, FailureCategory(category), message, values, response)
    if not by_key:
        return set()
    live = {
        record_key: (pk, attempts)
        for pk, record_key, attempts in RecordFailure.objects.filter(
            sync=sync,
            direction=outcome.direction,
            record_key__in=list(by_key),
            status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING],
        ).values_list("pk", "record_key", "attempts")
    }

    writer = RowWriter(RecordFailure)
    stamp = writer.datetime(now)
    inserts, updates = [], []
    for record_key, (source_id, destination_id, category, message, values, response) in by_key.items():
        pk, attempts = live.get(record_key, (None, 0))
        attempts += 1
        next_retry_at = None
        if category.is_transient and attempts < RecordFailure.MAX_AUTOMATIC_ATTEMPTS:
            next_retry_at = writer.datetime(now + AUTOMATIC_RETRY_BASE * (2 ** (attempts - 1)))
        row = (
            run.pk,
            source_id or "",
            destination_id or "",
            category.value,
            message,
            writer.json({name: json_ready(value) for name, value in (values or {}).items()}),
            excerpt(response),
            attempts,
            stamp,
            RecordFailure.Status.OPEN.value,
            next_retry_at,
        )
        if pk is None:
            inserts.append((sync.pk, outcome.direction, record_key, stamp, *row))
        else:
            updates.append((*row, pk))
    writer.insert(["sync", "direction", "record_key", "first_failed_at", *FAILURE_FIELDS], inserts)
    writer.update_by_pk(FAILURE_FIELDS, updates)
    return set(by_key)


def _resolve_failures(sync, outcome, failed_keys, now):
    """Resolve the live failures of records that were written, or found already equal, in this batch."""
    succeeded = set(outcome.written) | set(outcome.unchanged) | set(outcome.archived)
    succeeded |= {
        failure_key(None, outcome.source_side, source_id)
        for source_id in [source_id for source_id, _d, _c in outcome.written.values()]
        + list(outcome.unchanged.values())
    }
    succeeded -= failed_keys
    if not succeeded:
        return
    writer = RowWriter(RecordFailure)
    column = writer.column
    conditions = [
        RecordFailure.Status.RESOLVED.value,
        writer.datetime(now),
        sync.pk,
        outcome.direction,
        RecordFailure.Status.OPEN.value,
        RecordFailure.Status.RETRYING.value,
    ]
    keys = sorted(succeeded)
    with writer.connection.cursor() as cursor:
        # Chunks stay below SQLite's oldest limit of 999 parameters a statement.
        for start in range(0, len(keys), RESOLVE_CHUNK):
            chunk = keys[start : start + RESOLVE_CHUNK]
            sql = (
                f"UPDATE {writer.table} SET {column('status')} = %s, {column('resolved_at')} = %s, "
                f"{column('next_retry_at')} = NULL "
                f"WHERE {column('sync')} = %s AND {column('direction')} = %s AND {column('status')} IN (%s, %s) "
                f"AND {column('record_key')} IN ({', '.join(['%s'] * len(chunk))})"
            )
            cursor.execute(sql, [*conditions, *chunk])
