"""
Writing HubSpot records in batches of up to 100, with one outcome per record.

Values arrive as the engine's Python values (str, Decimal, bool, date,
datetime, list) and are encoded here by each property's type (see wire.py).

When HubSpot rejects a whole batch, the records at fault are found so that
the others are still written:

1. Errors that name record ids fail those records, and the rest of the batch
   is sent once more without them.
2. Otherwise the batch is split in two halves and each half is sent. When
   both halves fail with the same error, the error concerns the whole batch
   (an unknown property, an outage) and every record fails with it.
   Otherwise each failing half is split again, down to single records.
3. Rate limits, timeouts and authorisation errors are never split: rate
   limits and timeouts fail every record of the batch as retryable, and an
   authorisation error stops the run.

Setting values is safe to repeat, so updates are retried after a timeout;
creates are not.
"""

import json
import logging
from dataclasses import dataclass, replace

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, FieldType, WriteOutcome

from .errors import HubSpotError, category_of, existing_id, property_errors, quoted, record_ids
from .wire import WireEncodingError, option_message, to_wire

logger = logging.getLogger(__name__)

# Errors that may come from one record of a batch, and are worth splitting for.
SPLITTABLE = frozenset(
    {
        FailureCategory.REJECTED_VALUE,
        FailureCategory.TOOL_ERROR,
        FailureCategory.NOT_FOUND,
        FailureCategory.DUPLICATE,
    }
)


@dataclass
class PendingWrite:
    """One RecordWrite with its values encoded for HubSpot; `index` is its place in the caller's list."""

    index: int
    write: object
    properties: dict


class BatchEndpoint:
    """POST .../batch/update or .../batch/create of one object type, and how its responses map to inputs."""

    def __init__(self, provider, config, action):
        self.provider = provider
        self.config = config
        self.action = action

    @property
    def is_create(self):
        return self.action == "create"

    def send(self, batch):
        """Send one batch and return HubSpot's JSON response; raises ProviderError for a failed request."""
        if self.is_create:
            inputs = [{"properties": pending.properties} for pending in batch]
        else:
            inputs = [{"id": pending.write.record_id, "properties": pending.properties} for pending in batch]
        response = self.provider.request(
            "POST",
            f"/crm/v3/objects/{self.config.path}/batch/{self.action}",
            kind="write",
            retry_unsafe=not self.is_create,
            json={"inputs": inputs},
        )
        return self.provider.http.json(response)

    def key_of(self, pending):
        """Return what identifies a pending write in HubSpot's response: its id, or for a create its email."""
        if not self.is_create:
            return str(pending.write.record_id)
        email = pending.properties.get(self.config.email_property) if self.config.email_property else None
        return email.strip().lower() if email else None

    def key_of_result(self, result):
        if not self.is_create:
            return str(result.get("id"))
        email = (result.get("properties") or {}).get(self.config.email_property or "")
        return email.strip().lower() if isinstance(email, str) and email else None


def error_signature(error):
    """Return what makes two failed requests fail alike: the category, status and HubSpot's own message."""
    body = getattr(error, "body", None) or {}
    return (error.category, error.status, body.get("message") if body else error.message)


# Property errors about the property itself, not a record's value: every
# record that writes the property fails alike.
PROPERTY_SCHEMA_ERRORS = {"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "PROPERTY_NOT_WRITABLE"}


def is_batch_wide(error):
    """
    Tell whether an error that failed two halves alike can be the whole batch's.

    A rejected value (an invalid email or phone, an unknown option) belongs
    to records, and two bad records can sit in both halves with the same
    message, so such a batch is split down to single records. An unknown
    or read-only property fails every record that writes it.
    """
    body = getattr(error, "body", None) or {}
    problems = property_errors(body) if error.category == FailureCategory.REJECTED_VALUE else []
    return not problems or all(problem.get("code") in PROPERTY_SCHEMA_ERRORS for problem in problems)


class WritingMixin:
    """write() and create(), with per-record outcomes from batch responses."""

    def write(self, object_name, writes):
        """
        Set the given properties of existing records with batch/update; return one WriteOutcome per write, in order.

        A value is cleared with None or "". A value the property can't take
        (a date with a time of day, an option that isn't listed) fails its
        record before anything is sent.
        """
        config = self.object_config(object_name)
        endpoint = BatchEndpoint(self, config, "update")
        outcomes = [None] * len(writes)
        pending = []
        for index, item in enumerate(writes):
            if not item.record_id:
                outcomes[index] = WriteOutcome(
                    item.key,
                    ok=False,
                    category=FailureCategory.NOT_FOUND,
                    message=f"The write for {item.key} names no HubSpot record id to update; create the record instead.",
                )
                continue
            outcomes[index] = self._encode(config, object_name, index, item, pending)
        return self._send_all(endpoint, pending, outcomes)

    def archive(self, object_name, record_ids):
        """
        Archive records with POST .../batch/archive, 100 ids a request; return one WriteOutcome per id, in order.

        HubSpot returns 204 with no body, also for ids that are already
        archived, so each id of a request that succeeded is archived. A failed
        request fails each of its ids with the error, except an authorisation
        error, which stops the run. Archiving is safe to repeat, so a timed-out
        request is sent again.
        """
        config = self.object_config(object_name)
        ids = [str(record_id) for record_id in record_ids]
        outcomes = []
        for start in range(0, len(ids), self.write_batch_size):
            batch = ids[start : start + self.write_batch_size]
            try:
                self.request(
                    "POST",
                    f"/crm/v3/objects/{config.path}/batch/archive",
                    kind="write",
                    retry_unsafe=True,
                    json={"inputs": [{"id": record_id} for record_id in batch]},
                )
            except ProviderError as exc:
                if exc.category == FailureCategory.AUTHORISATION:
                    raise
                logger.warning(
                    "Connection %s: HubSpot archive of %s %s records failed: %s",
                    self.connection.pk,
                    len(batch),
                    config.singular,
                    exc.category.value,
                )
                outcomes.extend(
                    WriteOutcome(record_id, False, record_id, exc.category, exc.message, exc.response) for record_id in batch
                )
                continue
            outcomes.extend(WriteOutcome(record_id, True, record_id) for record_id in batch)
        return outcomes

    def create(self, object_name, writes):
        """
        Create records with batch/create; return one WriteOutcome per write, in order.

        A 409 "Contact already exists. Existing ID: 123" is not a failure,
        because HubSpot's search can lag behind a recent create and a lookup
        may miss the contact. The values are written to contact 123 instead.
        Its email is left out, so that an address matched as a secondary
        email doesn't replace the primary one.
        """
        config = self.object_config(object_name)
        endpoint = BatchEndpoint(self, config, "create")
        outcomes = [None] * len(writes)
        pending = []
        for index, item in enumerate(writes):
            outcomes[index] = self._encode(config, object_name, index, item, pending)
        return self._send_all(endpoint, pending, outcomes)

    def _send_all(self, endpoint, pending, outcomes):
        for start in range(0, len(pending), self.write_batch_size):
            batch = pending[start : start + self.write_batch_size]
            for index, outcome in self._write_batch(endpoint, batch).items():
                outcomes[index] = outcome
        return outcomes

    def _encode(self, config, object_name, index, item, pending):
        """Encode one write's values; append it to `pending` and return None, or return its failed outcome."""
        specs = self.field_specs(object_name)
        properties = {}
        for name, value in item.values.items():
            spec = specs.get(name)
            if spec is not None and not spec.writable:
                return WriteOutcome(
                    item.key,
                    ok=False,
                    record_id=item.record_id,
                    category=FailureCategory.REJECTED_VALUE,
                    message=f"HubSpot property {name} is read-only (calculated or set by HubSpot); remove it from the sync's field mappings.",
                )
            try:
                properties[name] = to_wire(value, spec, name)
            except WireEncodingError as exc:
                return WriteOutcome(
                    item.key, ok=False, record_id=item.record_id, category=FailureCategory.TYPE_MISMATCH, message=str(exc)
                )
        if not properties and item.record_id:
            return WriteOutcome(item.key, ok=True, record_id=item.record_id, message="Nothing to write.")
        pending.append(PendingWrite(index, item, properties))
        return None

    def _write_batch(self, endpoint, batch):
        """Send a batch and return {index: WriteOutcome} for each of its records."""
        answer = self._send(endpoint, batch)
        if isinstance(answer, ProviderError):
            return self._resolve(endpoint, batch, answer)
        return self._read_response(endpoint, batch, answer)

    def _send(self, endpoint, batch):
        """Return HubSpot's response to a batch, or the ProviderError of a failed one; authorisation errors are raised."""
        try:
            return endpoint.send(batch)
        except ProviderError as error:
            if error.category == FailureCategory.AUTHORISATION:
                raise
            logger.info(
                "HubSpot batch %s of %s records on connection %s failed: %s",
                endpoint.action,
                len(batch),
                getattr(self.connection, "pk", None),
                error.category,
            )
            return error

    def _read_response(self, endpoint, batch, body):
        """Split a 200/201/207 response into per-record outcomes; records it doesn't account for are resolved."""
        results = body.get("results") or []
        errors = [error for error in body.get("errors") or [] if isinstance(error, dict)]
        keys = {endpoint.key_of(pending) for pending in batch}

        by_position = {}
        if endpoint.is_create and not endpoint.config.email_property and not errors and len(results) == len(batch):
            # NOTE: without an email to match on, created records are paired
            # with the inputs by position; HubSpot doesn't document the order.
            by_position = {pending.index: result for pending, result in zip(batch, results)}
        by_key = {}
        for result in results:
            by_key.setdefault(endpoint.key_of_result(result), result)

        failed = {}
        unattributed = []
        for error in errors:
            named = [record_id for record_id in record_ids(error) if record_id in keys]
            for record_id in named:
                failed[record_id] = error
            if not named:
                unattributed.append(error)

        outcomes = {}
        leftover = []
        for pending in batch:
            key = endpoint.key_of(pending)
            result = by_position.get(pending.index) or (by_key.get(key) if key is not None else None)
            if key in failed:
                outcomes[pending.index] = self._failure(endpoint, pending, failed[key])
            elif result is not None:
                outcomes[pending.index] = WriteOutcome(pending.write.key, ok=True, record_id=str(result.get("id")))
            else:
                leftover.append(pending)
        if not leftover:
            return outcomes

        if not unattributed:
            for pending in leftover:
                outcomes[pending.index] = WriteOutcome(
                    pending.write.key,
                    ok=False,
                    record_id=pending.write.record_id,
                    category=FailureCategory.TOOL_ERROR,
                    message="HubSpot's response to the batch did not mention this record; it is retried on a later run.",
                    response=json.dumps(body)[:500],
                )
            return outcomes
        if len(leftover) == 1:
            outcomes[leftover[0].index] = self._failure(endpoint, leftover[0], *unattributed)
            return outcomes
        # Errors that name no record, for several records: find out which by splitting.
        combined = HubSpotError(
            category_of(unattributed[0]),
            " ".join(quoted(error) for error in unattributed),
            body=unattributed[0],
            response=json.dumps(unattributed),
        )
        outcomes.update(self._resolve(endpoint, leftover, combined))
        return outcomes

    def _resolve(self, endpoint, batch, error):
        """Find the records at fault for an error that failed `batch` as a whole; return {index: outcome}."""
        if len(batch) == 1:
            return {batch[0].index: self._failure(endpoint, batch[0], getattr(error, "body", None), error=error)}
        if error.category not in SPLITTABLE:
            body = getattr(error, "body", None)
            return {pending.index: self._failure(endpoint, pending, body, error=error) for pending in batch}

        outcomes = {}
        named = self._records_named(endpoint, batch, error)
        if named:
            for pending, detail in named:
                outcomes[pending.index] = self._failure(endpoint, pending, detail)
            named_indexes = {pending.index for pending, _ in named}
            rest = [pending for pending in batch if pending.index not in named_indexes]
            if rest:
                outcomes.update(self._write_batch(endpoint, rest))
            return outcomes

        middle = len(batch) // 2
        halves = [batch[:middle], batch[middle:]]
        answers = [self._send(endpoint, half) for half in halves]
        failures = [answer for answer in answers if isinstance(answer, ProviderError)]
        if len(failures) == 2 and error_signature(failures[0]) == error_signature(failures[1]) and is_batch_wide(failures[0]):
            # Both halves fail alike with an error that names no property:
            # the error is the batch's, not one record's.
            body = getattr(failures[0], "body", None)
            return {pending.index: self._failure(endpoint, pending, body, error=failures[0]) for pending in batch}
        for half, answer in zip(halves, answers):
            if isinstance(answer, ProviderError):
                outcomes.update(self._resolve(endpoint, half, answer))
            else:
                outcomes.update(self._read_response(endpoint, half, answer))
        return outcomes

    def _records_named(self, endpoint, batch, error):
        """Return (pending, error detail) pairs for the records a whole-batch error names by id."""
        by_key = {endpoint.key_of(pending): pending for pending in batch}
        named = []
        body = getattr(error, "body", None) or {}
        details = [body, *[detail for detail in body.get("errors") or [] if isinstance(detail, dict)]]
        for detail in details:
            for record_id in record_ids(detail):
                pending = by_key.pop(record_id, None)
                if pending is not None:
                    named.append((pending, {**body, **detail, "correlationId": body.get("correlationId")}))
        return named

    def _failure(self, endpoint, pending, *details, error=None):
        """Build the failed outcome of one record from HubSpot error objects and/or a HubSpotError."""
        details = [detail for detail in details if detail]
        category = error.category if error is not None else category_of(details[0])
        if endpoint.is_create and category == FailureCategory.DUPLICATE:
            existing = next((existing_id(detail) for detail in details if existing_id(detail)), None)
            if existing:
                return self._update_existing(endpoint, pending, existing)

        message = self._describe(endpoint, pending, details)
        if not message:
            message = error.message if error is not None else f"HubSpot rejected the record: {quoted(details[0])}."
        response = error.response if error is not None else json.dumps(details)
        return WriteOutcome(
            pending.write.key,
            ok=False,
            record_id=pending.write.record_id,
            category=category,
            message=message,
            response=response[:500],
        )

    def _describe(self, endpoint, pending, details):
        """Return a message naming each rejected property and value, or "" when HubSpot named none."""
        specs = self.field_specs(endpoint.config.name)
        parts = []
        correlation_id = None
        for detail in details:
            correlation_id = correlation_id or detail.get("correlationId")
            for problem in property_errors(detail):
                name = problem["name"]
                spec = specs.get(name)
                sent = pending.properties.get(name)
                if problem["code"] == "INVALID_OPTION" and spec is not None and spec.options:
                    kind = "multiple checkboxes" if spec.type == FieldType.MULTI_SELECT else "enumeration"
                    parts.append(option_message(sent, spec, kind))
                else:
                    reason = problem["message"] or problem["code"] or "invalid value"
                    parts.append(f"HubSpot rejected {sent!r} for the property {name}: {reason}.")
        if not parts:
            return ""
        message = " ".join(parts)
        if correlation_id:
            message += f" (correlation id {correlation_id})"
        return message

    def _update_existing(self, endpoint, pending, existing):
        config = endpoint.config
        logger.info(
            "HubSpot already has %s %s for a create on connection %s; updating it instead",
            config.singular,
            existing,
            getattr(self.connection, "pk", None),
        )
        properties = {name: value for name, value in pending.properties.items() if name != config.email_property}
        write = replace(pending.write, record_id=existing)
        note = f"HubSpot already had this {config.singular} as {existing}; its values were updated instead of creating a second one."
        if not properties:
            return WriteOutcome(write.key, ok=True, record_id=existing, message=note)
        update = BatchEndpoint(self, config, "update")
        outcome = self._write_batch(update, [PendingWrite(pending.index, write, properties)])[pending.index]
        if outcome.ok:
            outcome.message = note
        return outcome
