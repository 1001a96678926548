"""
Plan the writes of one batch of source records for one direction of a sync.

Rules:

- Each source record gets exactly one outcome in the plan: a write, a
  create, unchanged, skipped (no match and the sync only updates), deleted
  (the source record is gone and nothing is written), or a failure. A
  record whose other fields changed can have both a write and a failure
  for the fields that could not be converted, so one bad value never holds
  back the rest.
- A write holds only the fields whose value differs from the destination's
  current value, and a record without such fields costs no write.
- A create contains every mapped field that has a value. The provider takes
  the new record's email from RecordWrite.key.
- An email field is not rewritten when the destination record already has
  the address as a secondary email, so a match on a secondary address never
  replaces the record's primary one.
- Mapped source fields whose value is an echo (see `syncs.engine.diff`)
  are left out.
- The idempotency key is a SHA-256 over the destination record id (or the
  email, for a create) and the changed values only. A retried write of the
  same change so gets the same key in every run and every sync.
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from connections.providers.encoding import json_bytes
from connections.providers.types import FailureCategory, FieldSpec, FieldType, Record, RecordWrite

from .conversion import ConversionError, convert
from .dates import iso_datetime
from .diff import diff_values, is_echo
from .matching import MatchKind, match_batch, normalize_email
from .transforms import decimal_text, validate_transform, validate_value_map


class CreatePolicy(StrEnum):
    UPDATE_ONLY = "update_only"
    CREATE = "create"


class MappingError(ValueError):
    """A field mapping that can't be used to plan writes; the message lists every problem."""


@dataclass(frozen=True)
class MappingSpec:
    """One field mapping of one direction: a source field, a destination field and a transform."""

    source_field: FieldSpec
    destination_field: FieldSpec
    transform: dict | None = None


@dataclass
class RecordState:
    """The memory a sync keeps of one source record from earlier runs."""

    # The destination record this source record was last written to.
    destination_id: str | None = None
    # The values this sync last wrote into the source record, by source field
    # name, from mappings in the other direction.
    written_to_source: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlannedFailure:
    """One source record, or some of its fields, that can't be written."""

    source_id: str
    key: str | None
    category: FailureCategory
    message: str
    # What was to be written, by destination field name: converted values,
    # and the source value for each field that failed to convert.
    values: dict[str, Any] = field(default_factory=dict)
    destination_id: str | None = None


@dataclass
class Plan:
    """The outcome of planning one batch."""

    writes: list[RecordWrite] = field(default_factory=list)
    creates: list[RecordWrite] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # match keys
    skipped: list[str] = field(default_factory=list)  # match keys without a destination record
    deleted: list[str] = field(default_factory=list)  # source record ids
    failures: list[PlannedFailure] = field(default_factory=list)
    # The source record id of each write and create, by match key.
    source_ids: dict[str, str] = field(default_factory=dict)
    # The destination record id of each matched source record, by source record id.
    links: dict[str, str] = field(default_factory=dict)


def validate_mapping(mapping: MappingSpec):
    """Return a list of error messages for a field mapping; an empty list means it is valid."""
    destination = mapping.destination_field
    errors = []
    if not destination.writable or destination.derived:
        errors.append(f"{destination.label} ({destination.name}) is read-only, so no mapping can write to it.")
    errors += validate_transform(mapping.transform)
    if isinstance(mapping.transform, dict) and isinstance(mapping.transform.get("value_map"), dict):
        errors += validate_value_map(mapping.transform["value_map"], destination)
    return errors


# Source value types that are hashable, whose equal values convert alike
# (the type is part of the key, as True, 1 and 1.0 are equal keys).
CACHED_SOURCE_TYPES = frozenset({str, int, float, bool, Decimal, date})


def plan_batch(
    sources: Sequence[Record],
    found: Mapping[str, Sequence[Record]],
    mappings: Sequence[MappingSpec],
    policy: CreatePolicy,
    states: Mapping[str, RecordState] | None = None,
    linked_records: Mapping[str, Record] | None = None,
    to_wire: Callable[[Any, FieldSpec], Any] | None = None,
):
    """
    Match, convert and diff one batch of source records and return its Plan.

    `found` maps normalised emails to the destination records looked up for
    them, `states` maps source record ids to their RecordState, and
    `linked_records` maps linked destination ids to the records fetched for
    them. `to_wire` turns a converted value into the destination tool's wire
    form; without it, writes carry the converted values.
    """
    _check_mappings(mappings)
    states = states or {}
    links = {source_id: state.destination_id for source_id, state in states.items() if state.destination_id}
    fields = {mapping.destination_field.name: mapping.destination_field for mapping in mappings}
    plan = Plan()
    conversions = {}

    for result in match_batch(sources, found, links, linked_records):
        record, key = result.source, result.key
        if result.kind == MatchKind.SOURCE_DELETED:
            plan.deleted.append(record.id)
            continue

        state = states.get(record.id) or RecordState()
        desired, errors = _desired_values(record, mappings, state, conversions)
        if result.category is not None:
            values = {**desired, **{name: value for name, (value, _message) in errors.items()}}
            destination_id = result.destination.id if result.destination else None
            plan.failures.append(
                PlannedFailure(record.id, key, result.category, result.message, values, destination_id)
            )
            continue

        if result.kind == MatchKind.UNMATCHED:
            if policy != CreatePolicy.CREATE:
                plan.skipped.append(key)
                continue
            values = {name: value for name, value in desired.items() if value is not None}
            plan.creates.append(_record_write(key, None, values, fields, to_wire))
            plan.source_ids[key] = record.id
            _add_conversion_failure(plan, record.id, key, None, errors)
            continue

        destination = result.destination
        plan.links[record.id] = destination.id
        changed = diff_values(desired, destination.values, fields)
        changed = _without_known_emails(changed, destination, fields)
        if changed:
            plan.writes.append(_record_write(key, destination.id, changed, fields, to_wire))
            plan.source_ids[key] = record.id
        elif not errors:
            plan.unchanged.append(key)
        _add_conversion_failure(plan, record.id, key, destination.id, errors)
    return plan


def chunk(items: Iterable, size: int):
    """Yield lists of at most `size` items, in order."""
    if size < 1:
        raise ValueError(f"A batch size must be at least 1; got {size}.")
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def idempotency_key(target: str, values: Mapping[str, Any]):
    """Return a SHA-256 hex digest of a write's target (a record id, or "new:" and the email) and its values."""
    payload = {"record": target, "values": {name: json_ready(value) for name, value in values.items()}}
    return hashlib.sha256(json_bytes(payload, sort_keys=True)).hexdigest()


def _check_mappings(mappings):
    errors = []
    for mapping in mappings:
        errors += validate_mapping(mapping)
    names = [mapping.destination_field.name for mapping in mappings]
    for name in sorted(set(names)):
        if names.count(name) > 1:
            errors.append(f"Two mappings write to the destination field {name}; keep one.")
    if errors:
        raise MappingError(" ".join(errors))


def _desired_values(record, mappings, state, conversions):
    """
    Convert the mapped source values; return (converted values, {field name: (source value, message)}).

    `conversions` caches, for one batch, each mapping's result for each
    distinct value: statuses, plans and currencies repeat across records,
    and conversion is a pure function of the value and the mapping.
    """
    desired, errors = {}, {}
    for position, mapping in enumerate(mappings):
        source_field, destination_field = mapping.source_field, mapping.destination_field
        value = record.values.get(source_field.name)
        if is_echo(value, state.written_to_source, source_field):
            continue
        key = _conversion_key(position, value)
        result = conversions.get(key) if key is not None else None
        if result is None:
            try:
                result = (True, convert(value, source_field, destination_field, mapping.transform))
            except ConversionError as error:
                result = (False, error.message)
            if key is not None:
                conversions[key] = result
        converted_ok, converted = result
        if converted_ok:
            # A money value is a dict: each record gets its own.
            desired[destination_field.name] = dict(converted) if type(converted) is dict else converted
        else:
            errors[destination_field.name] = (value, converted)
    return desired, errors


def _conversion_key(position, value):
    """Return a cache key of a mapping's position and a source value, or None for a value not cached."""
    value_type = type(value)
    if value is None or value_type in CACHED_SOURCE_TYPES:
        return (position, value_type, value)
    if value_type is dict and len(value) == 2 and type(value.get("currency")) is str:
        amount = value.get("amount")
        if type(amount) in CACHED_SOURCE_TYPES:
            return (position, dict, type(amount), amount, value["currency"])
    return None


def _add_conversion_failure(plan, source_id, key, destination_id, errors):
    if not errors:
        return
    message = " ".join(text for _value, text in errors.values())
    values = {name: value for name, (value, _text) in errors.items()}
    plan.failures.append(
        PlannedFailure(source_id, key, FailureCategory.TYPE_MISMATCH, message, values, destination_id)
    )


def _without_known_emails(changed, destination, fields):
    secondary = {normalize_email(email) for email in destination.secondary_emails} - {None}
    return {
        name: value
        for name, value in changed.items()
        if not (fields[name].type == FieldType.EMAIL and value in secondary)
    }


def _record_write(key, record_id, values, fields, to_wire):
    digest = idempotency_key(record_id or f"new:{key}", values)
    if to_wire is not None:
        values = {name: to_wire(value, fields[name]) for name, value in values.items()}
    return RecordWrite(key=key, record_id=record_id, values=values, idempotency_key=digest)


def json_ready(value):
    """Return a JSON-ready form of a converted value that is the same for equal values."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | Decimal):
        return decimal_text(Decimal(str(value)))
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {name: json_ready(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return repr(value)
