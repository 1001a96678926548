"""
Writing Mailchimp audience members, with one outcome per member.

Members are written with batch subscribe (POST /lists/{id}, up to 500
members a request, `update_existing: true`), which adds or updates each
member by email address and lists the new members, the updated members and
a per-member `errors` entry for each rejected one.

Consent rules: a write never raises an existing member's status. It
carries `status_if_new` for members it creates, and `status` only to
unsubscribe someone, so a person who unsubscribed, bounced (cleaned) or was
permanently deleted stays that way. Mailchimp rejects those people with
errors such as "… was permanently deleted and cannot be re-imported", which
become non-transient REJECTED_VALUE outcomes. NOTE: Mailchimp doesn't
document how an update without `status_if_new` treats an archived member;
a per-member error then becomes that member's outcome.

Two kinds of write leave the batch: a change of email address, and an
update whose member id is not the hash of its match key (a member linked by
an earlier run). Both are a PATCH of /lists/{id}/members/{id}, because
batch subscribe keys on the address and would add a second member.

Tags: `sync_tags: true` makes a batch replace each member's tags with the
ones sent, so members whose tags change go in batches of their own.
"""

import json
import logging
import re
from dataclasses import dataclass, field

from connections.providers.encoding import json_bytes
from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, WriteOutcome

from .fields import (
    ADDRESS_PARTS,
    NEW_MEMBER_STATUSES,
    OWN_FIELDS_BY_NAME,
    READ_ONLY_FIELDS_BY_NAME,
    InvalidWriteValue,
    encode_merge_value,
    split_field_name,
)
from .wire import email_problem, member_error_category, member_error_message, subscriber_hash, without_key

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# A batch of 500 members can take Mailchimp a while; its own limit per
# request is 120 seconds.
WRITE_TIMEOUT = (5, 120)
DEFAULT_STATUS_IF_NEW = "subscribed"
# A field error of a whole-batch 400 names the member's place, as in "members.item:3.email_address".
ITEM_FIELD_PATTERN = re.compile(r"^members\.item:(\d+)")


@dataclass
class MemberChange:
    """One RecordWrite encoded as a Mailchimp member object, and how it is sent."""

    write: object
    email: str
    body: dict
    patch: bool = False
    # Address merge fields (by tag) whose parts not being written must be read first.
    incomplete_addresses: dict = field(default_factory=dict)


JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def failure(change, category, message, response=""):
    return WriteOutcome(
        key=change.key,
        ok=False,
        record_id=change.record_id,
        category=category,
        message=message,
        response=response,
    )


class WritingMixin:
    """Batch subscribe and member PATCHes of a MailchimpProvider."""

    status_if_new_default = DEFAULT_STATUS_IF_NEW

    def write(self, object_name, writes):
        """Update existing members, by batch subscribe where the address allows it, else by PATCH."""
        return self._write_members(object_name, writes, create=False)

    def create(self, object_name, writes):
        """Add members, with the match key as their address unless the values set one."""
        return self._write_members(object_name, writes, create=True)

    def archive(self, object_name, record_ids):
        """
        Archive members with DELETE /lists/{id}/members/{member id}, one request each; one WriteOutcome per id.

        Mailchimp's DELETE archives a member and keeps its history; it is not
        the permanent delete (POST .../actions/delete-permanent). A member id
        is the MD5 hash of the lower-cased address. A 404 means the member is
        already archived or gone, which is the outcome asked for.
        """
        list_id = self._list_id(object_name)
        outcomes = []
        for record_id in record_ids:
            try:
                self.http.request(
                    "DELETE",
                    self._url(f"/3.0/lists/{list_id}/members/{record_id}"),
                    kind="write",
                    retry_unsafe=True,
                )
            except ProviderError as exc:
                if exc.category == FailureCategory.AUTHORISATION:
                    raise
                if exc.category == FailureCategory.NOT_FOUND:
                    outcomes.append(WriteOutcome(record_id, True, record_id))
                    continue
                logger.warning(
                    "Connection %s: Mailchimp archive of member %s in audience %s failed: %s",
                    self.connection.pk,
                    record_id,
                    list_id,
                    exc.category.value,
                )
                outcomes.append(WriteOutcome(record_id, False, record_id, exc.category, exc.message, exc.response))
                continue
            outcomes.append(WriteOutcome(record_id, True, record_id))
        return outcomes

    def _write_members(self, object_name, writes, create):
        list_id = self._list_id(object_name)
        merge_fields = self._merge_fields(list_id)
        outcomes = {}
        changes = []
        for change in writes:
            try:
                changes.append(self._encode(change, create, merge_fields))
            except InvalidWriteValue as exc:
                outcomes[id(change)] = failure(change, exc.category, exc.message)

        self._complete_addresses(list_id, [change for change in changes if change.incomplete_addresses], outcomes)
        changes = [change for change in changes if id(change.write) not in outcomes]

        batched = []
        for change in changes:
            if not change.patch:
                batched.append(change)
                continue
            outcome, tags_change = self._patch(list_id, change)
            if tags_change is None:
                outcomes[id(change.write)] = outcome
            else:
                batched.append(tags_change)

        for sync_tags in (False, True):
            group = [change for change in batched if ("tags" in change.body) == sync_tags]
            for start in range(0, len(group), BATCH_SIZE):
                outcomes.update(self._send_batch(list_id, group[start : start + BATCH_SIZE], sync_tags))
        return [outcomes[id(change)] for change in writes]

    # Encoding -------------------------------------------------------------

    def _encode(self, change, create, merge_fields):
        """Return a MemberChange, or raise InvalidWriteValue for a value Mailchimp can't take."""
        values = dict(change.values)
        new_email = values.pop("email_address", None)
        email = (new_email if create and new_email else change.key or "").strip()
        problem = email_problem(email)
        if problem:
            raise InvalidWriteValue(f"{problem[0].upper()}{problem[1:]}.", FailureCategory.REJECTED_VALUE)
        if not create and not change.record_id:
            raise InvalidWriteValue("No Mailchimp member id was given for this update.", FailureCategory.NOT_FOUND)

        body = {"email_address": email}
        patch = False
        if not create:
            moving = bool(new_email) and new_email.strip().lower() != email.lower()
            if moving:
                problem = email_problem(new_email)
                if problem:
                    raise InvalidWriteValue(f"{problem[0].upper()}{problem[1:]}.", FailureCategory.REJECTED_VALUE)
            patch = moving or subscriber_hash(email) != change.record_id
            if moving:
                body["email_address"] = new_email.strip()

        self._encode_status(values.pop("status", None), "status" in change.values, create, body)
        if "tags" in values:
            tags = values.pop("tags")
            body["tags"] = [str(tag) for tag in (tags or [])]

        merge_values, incomplete = self._encode_merge_fields(values, merge_fields, create)
        if merge_values:
            body["merge_fields"] = merge_values
        return MemberChange(write=change, email=email, body=body, patch=patch, incomplete_addresses=incomplete)

    def _encode_status(self, status, given, create, body):
        if status in ("cleaned", "archived"):
            raise InvalidWriteValue(
                f"Mailchimp sets the status {status!r} itself, so a sync can't write it. Map another status, "
                "or leave the status out of the field mapping.",
                FailureCategory.REJECTED_VALUE,
            )
        if given and status is not None and status not in NEW_MEMBER_STATUSES:
            raise InvalidWriteValue(
                f"{status!r} is not a Mailchimp member status: use one of {', '.join(NEW_MEMBER_STATUSES)}.",
                FailureCategory.REJECTED_VALUE,
            )
        if create:
            body["status_if_new"] = status or self._status_if_new_default()
        elif status == "unsubscribed":
            # Unsubscribing honours an opt-out made in another tool; the
            # other statuses would raise consent, which only the person can.
            body["status"] = "unsubscribed"

    def _status_if_new_default(self):
        options = getattr(self.connection, "options", None) or {}
        status = options.get("status_if_new")
        return status if status in NEW_MEMBER_STATUSES else self.status_if_new_default

    def _encode_merge_fields(self, values, merge_fields, create):
        merge_values = {}
        addresses = {}
        for name, value in values.items():
            parts = split_field_name(name)
            if parts is None:
                known = OWN_FIELDS_BY_NAME.get(name) or READ_ONLY_FIELDS_BY_NAME.get(name)
                reason = "is read-only" if known else "is not a field of Mailchimp members"
                raise InvalidWriteValue(
                    f"The Mailchimp field {name!r} can't be written: it {reason}.", FailureCategory.REJECTED_VALUE
                )
            tag, part = parts
            merge_field = merge_fields.get(tag)
            if merge_field is None:
                raise InvalidWriteValue(
                    f"The audience has no merge field {tag!r} any more. List the fields again and update the mapping.",
                    FailureCategory.REJECTED_VALUE,
                )
            if merge_field.type == "address":
                if part not in ADDRESS_PARTS:
                    raise InvalidWriteValue(
                        f"{name!r} is not a part of the address {tag}: the parts are {', '.join(ADDRESS_PARTS)}.",
                        FailureCategory.REJECTED_VALUE,
                    )
                addresses.setdefault(tag, {})[part] = value
                continue
            merge_values[tag] = encode_merge_value(value, merge_field, name)

        incomplete = {}
        for tag, given in addresses.items():
            for part, value in given.items():
                given[part] = encode_merge_value(value, merge_fields[tag], f"merge_fields.{tag}.{part}")
            if create or len(given) == len(ADDRESS_PARTS):
                merge_values[tag] = address_value(given)
            else:
                incomplete[tag] = given
        return merge_values, incomplete

    def _complete_addresses(self, list_id, changes, outcomes):
        """
        Fill in the address parts a write leaves out from the member's current address.

        Mailchimp replaces an address as a whole, so writing one part needs
        the others; this costs one GET per member whose address changes.
        """
        for change in changes:
            try:
                member = self._get_member(list_id, change.write.record_id, ("merge_fields",))
            except ProviderError as exc:
                outcomes[id(change.write)] = failure(change.write, exc.category, exc.message, exc.response)
                continue
            current = (member or {}).get("merge_fields") or {}
            merge_values = change.body.setdefault("merge_fields", {})
            for tag, given in change.incomplete_addresses.items():
                address = current.get(tag) if isinstance(current.get(tag), dict) else {}
                parts = {part: address.get(part) or "" for part in ADDRESS_PARTS}
                parts.update(given)
                merge_values[tag] = address_value(parts)

    # Sending --------------------------------------------------------------

    def _patch(self, list_id, change):
        """PATCH one member; returns (outcome, None), or (None, a tags-only change) when tags still need writing."""
        body = {key: value for key, value in change.body.items() if key != "tags"}
        path = f"/3.0/lists/{list_id}/members/{change.write.record_id}"
        try:
            response = self.http.request(
                "PATCH",
                self._url(path),
                kind="write",
                retry_unsafe=True,
                data=json_bytes(body),
                headers=JSON_HEADERS,
                timeout=WRITE_TIMEOUT,
            )
            member = self.http.json(response)
        except ProviderError as exc:
            if exc.category == FailureCategory.AUTHORISATION:
                raise
            logger.warning(
                "Connection %s: Mailchimp update of member %s in audience %s failed: %s",
                self.connection.pk,
                change.write.record_id,
                list_id,
                exc.category.value,
            )
            message = exc.message
            if exc.status == 400 and exc.category != FailureCategory.DUPLICATE:
                message = member_error_message(change.body["email_address"], exc.message)
            return failure(change.write, exc.category, message, exc.response), None
        record_id = member.get("id") or subscriber_hash(member.get("email_address") or change.body["email_address"])
        if "tags" not in change.body:
            return WriteOutcome(key=change.write.key, ok=True, record_id=record_id), None
        moved = MemberChange(
            write=change.write,
            email=member.get("email_address") or change.body["email_address"],
            body={"email_address": member.get("email_address") or change.body["email_address"], "tags": change.body["tags"]},
        )
        return None, moved

    def _send_batch(self, list_id, batch, sync_tags, resend=True):
        """Send one batch subscribe request; return {id(write): outcome} for each of its changes."""
        result = self._post_batch(list_id, batch, sync_tags)
        if isinstance(result, ProviderError):
            return self._batch_failed(list_id, batch, sync_tags, result, resend)
        return self._batch_outcomes(list_id, batch, result)

    def _post_batch(self, list_id, batch, sync_tags):
        """
        Send one batch subscribe request and return Mailchimp's response body, or the ProviderError of a failed request.

        Authorisation errors are raised, because no member of any batch can be written after one.
        """
        payload = {
            "members": [change.body for change in batch],
            "update_existing": True,
            "sync_tags": sync_tags,
        }
        try:
            # Setting the same values twice gives the same member, so a
            # timed-out batch is safe to send again.
            response = self.http.request(
                "POST",
                self._url(f"/3.0/lists/{list_id}"),
                kind="write",
                retry_unsafe=True,
                data=json_bytes(payload),
                headers=JSON_HEADERS,
                timeout=WRITE_TIMEOUT,
            )
            return self.http.json(response)
        except ProviderError as exc:
            if exc.category == FailureCategory.AUTHORISATION:
                raise
            logger.warning(
                "Connection %s: Mailchimp batch of %s members in audience %s failed: %s",
                self.connection.pk,
                len(batch),
                list_id,
                exc.category.value,
            )
            return exc

    def _batch_failed(self, list_id, batch, sync_tags, exc, resend):
        """
        Find the members at fault for an error that failed a whole batch; return {id(write): outcome}.

        A 400 that names members by their place fails those members and
        sends the others once more. A server error (5xx) of a batch of more
        than one member is split in halves, because Mailchimp has responded
        with 500 to a single address it could not handle. Any other error fails
        every member of the batch.
        """
        if is_server_error(exc) and len(batch) > 1:
            return self._split_batch(list_id, batch, sync_tags)

        named = item_errors(getattr(exc, "field_errors", ())) if exc.status == 400 else {}
        named = {index: text for index, text in named.items() if index < len(batch)}
        if not named or not resend:
            return {
                id(change.write): failure(change.write, exc.category, exc.message, exc.response) for change in batch
            }
        outcomes = {}
        for index, text in named.items():
            change = batch[index]
            outcomes[id(change.write)] = failure(
                change.write,
                FailureCategory.REJECTED_VALUE,
                member_error_message(change.email, text),
                exc.response,
            )
        rest = [change for index, change in enumerate(batch) if index not in named]
        if rest:
            outcomes.update(self._send_batch(list_id, rest, sync_tags, resend=False))
        return outcomes

    def _split_batch(self, list_id, batch, sync_tags):
        """
        Send each half of a batch that failed with a server error, so a member that causes the error fails alone.

        When both halves fail with a server error, the error belongs to
        Mailchimp rather than to a member (an outage), and every member
        fails as retryable. So only one half is ever split further, and one
        bad member in a batch of n costs at most 2 * ceil(log2(n)) extra
        requests, each with the session's own retries.

        NOTE: two bad members that land in different halves look like an
        outage, so their whole batch fails as retryable.
        """
        middle = len(batch) // 2
        halves = [batch[:middle], batch[middle:]]
        results = [self._post_batch(list_id, half, sync_tags) for half in halves]
        if all(is_server_error(result) for result in results):
            logger.warning(
                "Connection %s: both halves of a Mailchimp batch of %s members in audience %s failed with a "
                "server error, so all of them are retried later",
                self.connection.pk,
                len(batch),
                list_id,
            )
            exc = results[0]
            return {
                id(change.write): failure(change.write, exc.category, exc.message, exc.response) for change in batch
            }

        outcomes = {}
        for half, result in zip(halves, results):
            if is_server_error(result) and len(half) == 1:
                outcomes[id(half[0].write)] = alone_failure(half[0], result)
            elif isinstance(result, ProviderError):
                outcomes.update(self._batch_failed(list_id, half, sync_tags, result, resend=True))
            else:
                outcomes.update(self._batch_outcomes(list_id, half, result))
        return outcomes

    def _batch_outcomes(self, list_id, batch, body):
        written = {}
        for member in [*(body.get("new_members") or []), *(body.get("updated_members") or [])]:
            email = (member.get("email_address") or "").strip().lower()
            if email:
                written[email] = member.get("id") or subscriber_hash(email)
        refused = {}
        for error in body.get("errors") or []:
            email = (error.get("email_address") or "").strip().lower()
            refused.setdefault(email, []).append(error)

        outcomes = {}
        for change in batch:
            email = change.email.strip().lower()
            if email in refused:
                outcomes[id(change.write)] = self._member_failure(list_id, change, refused[email])
            elif email in written:
                outcomes[id(change.write)] = WriteOutcome(key=change.write.key, ok=True, record_id=written[email])
            else:
                outcomes[id(change.write)] = failure(
                    change.write,
                    FailureCategory.TOOL_ERROR,
                    f"Mailchimp's response to the batch named neither a change nor an error for {change.email}, "
                    "so the record is retried later.",
                )
        return outcomes

    def _member_failure(self, list_id, change, errors):
        texts = []
        for error in errors:
            text = without_key(str(error.get("error") or "")).strip()
            if error.get("field"):
                detail = without_key(str(error.get("field_message") or "")).strip()
                text = f"{text} ({error['field']}: {detail})" if detail else f"{text} ({error['field']})"
            texts.append(text or "no reason given")
        text = " ".join(texts)
        codes = {error.get("error_code") for error in errors}
        category = FailureCategory.DUPLICATE if codes == {"ERROR_CONTACT_EXISTS"} else member_error_category(text)
        logger.info(
            "Connection %s: Mailchimp refused member %s in audience %s (%s)",
            self.connection.pk,
            change.write.record_id or "(new)",
            list_id,
            ", ".join(sorted(str(code) for code in codes if code)) or category.value,
        )
        return failure(change.write, category, member_error_message(change.email, text), excerpt_json(errors))


def address_value(parts):
    """Return an address merge value: "" when every part is empty, else the object with all parts."""
    if not any(parts.get(part) for part in ADDRESS_PARTS):
        return ""
    return {part: parts.get(part) or "" for part in ADDRESS_PARTS}


def is_server_error(result):
    """Return whether the result of a batch request is a ProviderError for an HTTP 5xx response."""
    return isinstance(result, ProviderError) and result.status is not None and result.status >= 500


def alone_failure(change, exc):
    """Return the retryable outcome of a member split out of a batch that still failed with a server error alone."""
    message = (
        f"{exc.message} Mailchimp returned this error for {change.email} sent alone, so the other members of "
        "its batch were sent without it. The record is retried later."
    )
    return failure(change.write, exc.category, message, exc.response)


def item_errors(field_errors):
    """Return {member index: message} from the (field, message) errors of a whole-batch 400 that name `members.item:N`."""
    found = {}
    for field_name, message in field_errors:
        match = ITEM_FIELD_PATTERN.match(field_name)
        if match:
            found.setdefault(int(match.group(1)), message)
    return found


def excerpt_json(value):
    return without_key(json.dumps(value, ensure_ascii=False))
