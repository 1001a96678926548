"""
Writing Zendesk users and organizations through bulk jobs, with one outcome per record.

Updates go to PUT /api/v2/{users|organizations}/update_many.json, up to 100
records a request. Zendesk returns a job_status and runs the job in the
background, so the job is polled (at most JOB_POLL_DELAYS, about 100
seconds) until it is completed or failed, and its `results` are mapped back
to the records: by record id for updates, else by `index`, else by
position, because Zendesk keeps the results in the order of the request.

Users are created with create_or_update_many.json: Zendesk matches an
existing user by email or external id and updates it instead of failing
with "Email is already being used by another user" (DuplicateValue). That
covers a user the email lookup missed because Zendesk's search index lags
behind recent changes, and makes a repeated job harmless.

A user's primary email is never overwritten in update_many: the new
address is added as an email identity, then made primary, so that the old
address stays on the user as a secondary identity.
"""

import logging

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, WriteOutcome

from .fields import InvalidWriteValue, encode_value
from .wire import detail_messages

logger = logging.getLogger(__name__)

# Seconds between polls of a job's status: about 100 seconds in all. Zendesk
# keeps finished jobs for about an hour, so a job still running after that
# is reported as a transient failure and its records are retried later.
JOB_POLL_DELAYS = (1, 2, 4, 8, 10, 15, 15, 15, 15, 15)
JOB_DONE_STATUSES = frozenset({"completed", "failed", "killed"})
SUCCESS_STATUSES = frozenset({"created", "updated"})


class WritingMixin:
    """write() and create() of ZendeskProvider."""

    def write(self, object_name, writes):
        """Update existing records with bulk jobs of up to 100; a changed user email goes through identities first."""
        config = self.object_config(object_name)
        outcomes = {}
        items = []
        for index, change in enumerate(writes):
            if not change.record_id:
                outcomes[index] = self._failed(
                    change, FailureCategory.NOT_FOUND, f"No Zendesk {config.singular} id was given for this update."
                )
                continue
            values = dict(change.values)
            new_email = values.pop("email", None) if config.name == "user" and "email" in values else None
            try:
                payload = self.encode_payload(config, values)
            except InvalidWriteValue as exc:
                outcomes[index] = self._failed(change, exc.category, exc.message)
                continue
            if config.name == "user" and "email" in change.values:
                error = self._change_primary_email(change, new_email)
                if error is not None:
                    outcomes[index] = error
                    continue
            if not payload:
                outcomes[index] = WriteOutcome(key=change.key, ok=True, record_id=change.record_id)
                continue
            items.append((index, change, {"id": zendesk_id(change.record_id), **payload}))

        for start in range(0, len(items), self.write_batch_size):
            batch = items[start : start + self.write_batch_size]
            results = self._run_job(
                "PUT", config.update_path, {config.plural: [payload for _index, _change, payload in batch]},
                batch, match_ids=True, retry_unsafe=True,
            )
            outcomes.update(results)
        return [outcomes[index] for index in range(len(writes))]

    def create(self, object_name, writes):
        """Create records with bulk jobs of up to 100; a user's email is the match key unless the values set one."""
        config = self.object_config(object_name)
        outcomes = {}
        items = []
        for index, change in enumerate(writes):
            values = dict(change.values)
            if config.name == "user":
                values["email"] = values.get("email") or change.key
            try:
                payload = self.encode_payload(config, values)
            except InvalidWriteValue as exc:
                outcomes[index] = self._failed(change, exc.category, exc.message)
                continue
            items.append((index, change, payload))

        for start in range(0, len(items), self.write_batch_size):
            batch = items[start : start + self.write_batch_size]
            results = self._run_job(
                "POST", config.create_path, {config.plural: [payload for _index, _change, payload in batch]},
                batch, match_ids=False, retry_unsafe=config.create_is_upsert,
            )
            outcomes.update(results)
        return [outcomes[index] for index in range(len(writes))]

    # Payloads ----------------------------------------------------------

    def encode_payload(self, config, values):
        """Return the JSON object of one record's changed fields, custom fields nested under their object."""
        specs = self.field_specs(config.name)
        definitions = self.custom_definitions(config) if any(name.startswith(config.prefix) for name in values) else {}
        payload = {}
        custom = {}
        for name, value in values.items():
            spec = specs.get(name)
            if spec is None or not spec.writable or spec.derived:
                raise InvalidWriteValue(
                    f"The Zendesk {config.singular} field {name!r} can't be written: it is read-only or unknown.",
                    FailureCategory.REJECTED_VALUE,
                )
            if name.startswith(config.prefix):
                key = name.removeprefix(config.prefix)
                custom[key] = encode_value(value, name, spec, definitions.get(key))
            else:
                payload[name] = encode_value(value, name, spec)
        if custom:
            payload[config.custom_key] = custom
        return payload

    # Email identities --------------------------------------------------

    def _change_primary_email(self, change, email):
        """Add `email` as an identity of the user and make it primary; return a failed WriteOutcome or None."""
        if not email:
            return self._failed(
                change,
                FailureCategory.REJECTED_VALUE,
                "A Zendesk user's primary email can't be removed by a sync. Map another field, or remove the "
                "address in Zendesk.",
            )
        user_path = f"/api/v2/users/{zendesk_id(change.record_id)}"
        try:
            identity_id = self._add_email_identity(user_path, email)
            self.http.request(
                "PUT",
                self.url(f"{user_path}/identities/{identity_id}/make_primary.json"),
                kind="write",
                retry_unsafe=True,
            )
        except ProviderError as exc:
            logger.warning(
                "Connection %s: changing the email of Zendesk user %s failed: %s",
                self.connection_id, change.record_id, exc.category.value,
            )
            return self._failed(change, exc.category, exc.message, exc.response)
        return None

    def _add_email_identity(self, user_path, email):
        """Return the id of the user's identity for `email`, adding it when the user doesn't hold it yet."""
        try:
            response = self.http.request(
                "POST",
                self.url(f"{user_path}/identities.json"),
                kind="write",
                json={"identity": {"type": "email", "value": email}},
            )
            return self.http.json(response)["identity"]["id"]
        except ProviderError as exc:
            if exc.category not in (FailureCategory.DUPLICATE, FailureCategory.REJECTED_VALUE):
                raise
            # The address may already be a secondary identity of this user.
            # Otherwise another user has it, and the error is raised.
            for identity in self.list_all(f"{user_path}/identities.json", "identities"):
                if identity.get("type") == "email" and str(identity.get("value", "")).lower() == email.lower():
                    return identity["id"]
            raise

    # Jobs --------------------------------------------------------------

    def _run_job(self, method, path, body, batch, *, match_ids, retry_unsafe):
        """Send one bulk request, wait for its job and return {index: WriteOutcome} for the batch."""
        try:
            response = self.http.request(method, self.url(path), kind="write", retry_unsafe=retry_unsafe, json=body)
            job = self.http.json(response).get("job_status") or {}
            job = self._wait_for_job(job)
        except ProviderError as exc:
            if exc.category == FailureCategory.AUTHORISATION:
                raise
            logger.warning(
                "Connection %s: Zendesk bulk request %s failed for %s records: %s",
                self.connection_id, path, len(batch), exc.category.value,
            )
            return {index: self._failed(change, exc.category, exc.message, exc.response) for index, change, _ in batch}

        status = job.get("status")
        if status not in JOB_DONE_STATUSES:
            message = (
                f"Zendesk's job {job.get('id')} was still {status or 'queued'} after "
                f"{sum(JOB_POLL_DELAYS)} seconds, so its records are retried later."
            )
            return {index: self._failed(change, FailureCategory.TOOL_ERROR, message) for index, change, _ in batch}
        return map_job_results(job, batch, match_ids)

    def _wait_for_job(self, job):
        """Poll a job_status until it is done or JOB_POLL_DELAYS run out; return the last job_status."""
        if not job.get("id"):
            raise ProviderError(FailureCategory.TOOL_ERROR, "Zendesk accepted the bulk request but returned no job id.")
        job_id = job["id"]
        for delay in JOB_POLL_DELAYS:
            if job.get("status") in JOB_DONE_STATUSES:
                return job
            self.http.sleep(delay)
            response = self.http.request("GET", self.url(f"/api/v2/job_statuses/{job_id}.json"), kind="read")
            job = self.http.json(response).get("job_status") or job
        return job

    def _failed(self, change, category, message, response=""):
        return WriteOutcome(
            key=change.key, ok=False, record_id=change.record_id, category=category, message=message, response=response
        )


def zendesk_id(record_id):
    """Return a record id as the integer Zendesk uses, or unchanged when it isn't one."""
    text = str(record_id)
    return int(text) if text.isdigit() else text


def map_job_results(job, batch, match_ids):
    """
    Return {index: WriteOutcome} from a finished job's `results` for the (index, change, payload) batch.

    A result names its record by `id` (the record id, on updates), else by
    `index` (its place in the request), else by its own position. A record
    without a result fails as a tool error, with the job's message.
    """
    results = [result for result in job.get("results") or [] if isinstance(result, dict)]
    slots = {}
    by_id = {str(change.record_id): slot for slot, (_index, change, _payload) in enumerate(batch)} if match_ids else {}
    for position, result in enumerate(results):
        slot = by_id.get(str(result.get("id")))
        if slot is None and isinstance(result.get("index"), int):
            slot = result["index"]
        if slot is None:
            slot = position
        if 0 <= slot < len(batch) and slot not in slots:
            slots[slot] = result

    outcomes = {}
    for slot, (index, change, _payload) in enumerate(batch):
        result = slots.get(slot)
        if result is None:
            message = job.get("message") or "no result was reported for this record"
            outcomes[index] = WriteOutcome(
                key=change.key,
                ok=False,
                record_id=change.record_id,
                category=FailureCategory.TOOL_ERROR,
                message=f"Zendesk's job {job.get('id')} ended {job.get('status')}: {message}.",
            )
        elif result_succeeded(result):
            record_id = result.get("id") if not match_ids and result.get("id") is not None else change.record_id
            outcomes[index] = WriteOutcome(key=change.key, ok=True, record_id=str(record_id))
        else:
            category, message = result_failure(result)
            outcomes[index] = WriteOutcome(
                key=change.key, ok=False, record_id=change.record_id, category=category, message=message,
                response=str(result)[:500],
            )
    return outcomes


def result_succeeded(result):
    """Check whether one job result reports success."""
    if result.get("error") or result.get("errors"):
        return False
    if "success" in result:
        return result["success"] is True
    return str(result.get("status", "")).lower() in SUCCESS_STATUSES


def result_failure(result):
    """Return (category, message) of one failed job result."""
    code = str(result.get("error") or "")
    errors = result.get("errors")
    details = result.get("details") or ""
    if isinstance(details, dict):
        details = "; ".join(text or error for _field, error, text in detail_messages(details))
    if isinstance(errors, list):
        errors = "; ".join(str(item) for item in errors)
    text = " ".join(part for part in (str(errors or ""), str(details)) if part) or code or "the record was not written"
    lowered = f"{code} {text}".lower()
    if "duplicatevalue" in lowered or "already being used" in lowered or "already taken" in lowered:
        category = FailureCategory.DUPLICATE
    elif "recordnotfound" in lowered or "not found" in lowered:
        category = FailureCategory.NOT_FOUND
    elif "permissiondenied" in lowered or "forbidden" in lowered:
        category = FailureCategory.AUTHORISATION
    else:
        category = FailureCategory.REJECTED_VALUE
    prefix = f"Zendesk rejected the record ({code})" if code else "Zendesk rejected the record"
    return category, f"{prefix}: {text}"
