"""
Match source records to destination records by normalised email.

Rules:

- An email is normalised by trimming surrounding whitespace and lower-casing.
  `str.lower` is used rather than `str.casefold`, because case-folding
  rewrites characters such as "ß" into "ss" and so names another mailbox.
- An invalid address normalises to None. An address is invalid when it
  doesn't have exactly one "@", or contains whitespace, a control character
  or one of ``,;:<>()[]\\"``. It is also invalid when the local part is
  empty, longer than 64 characters, starts or ends with "." or contains
  "..", and when the whole address is longer than 254 characters.
- The domain needs at least one dot, so "ann@localhost" is invalid: the
  tools synced here deliver mail over the internet and reject such addresses.
  Each dot-separated label is 1 to 63 letters, digits or hyphens (letters
  may be non-ASCII) and doesn't start or end with a hyphen. A trailing dot
  ("ann@example.com.") and an all-digit last label ("ann@10.0.0.1") are
  invalid.
- Non-ASCII characters are valid on both sides of the "@". A tool that
  rejects them fails that one record when it is written.
- A source record that is linked to a destination record by an earlier run
  matches that record even when its email has changed since. A link whose
  record the caller could not fetch is stale and matching falls back to
  the email.
- A linked destination record fetched under another id was merged into that
  id in the tool; the match then names the surviving record.
- Two source records of one batch with the same normalised email are both
  duplicates: the engine never picks one of them.
- Two or more live destination records for one email are a duplicate match,
  whether they were found by primary or secondary email.
- A deleted or archived source record never writes or creates anything.
  A destination record that is deleted or archived is never written either.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from connections.providers.types import FailureCategory, Record

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_LABEL_LENGTH = 63
FORBIDDEN_CHARACTERS = frozenset(',;:<>()[]\\"')
# Printable ASCII without space: the common case, checked in C; other text
# goes through the character-by-character rule.
PRINTABLE_ASCII = re.compile(r"[!-~]+")


class MatchKind(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    MISSING_EMAIL = "missing_email"
    DUPLICATE_SOURCE = "duplicate_source"
    DUPLICATE_DESTINATION = "duplicate_destination"
    SOURCE_DELETED = "source_deleted"
    DESTINATION_DELETED = "destination_deleted"


# Match kinds that end as a record failure, with their category.
FAILURE_KINDS = {
    MatchKind.MISSING_EMAIL: FailureCategory.MISSING_EMAIL,
    MatchKind.DUPLICATE_SOURCE: FailureCategory.DUPLICATE,
    MatchKind.DUPLICATE_DESTINATION: FailureCategory.DUPLICATE,
    MatchKind.DESTINATION_DELETED: FailureCategory.NOT_FOUND,
}


@dataclass
class MatchResult:
    """The outcome of matching one source record."""

    source: Record
    kind: MatchKind
    # The normalised email; None when the source email is missing or invalid.
    key: str | None
    # The one destination record, for MATCHED and DESTINATION_DELETED.
    destination: Record | None = None
    # True when the match came from an earlier run's link, not from the email.
    linked: bool = False
    message: str = ""

    @property
    def category(self):
        """Return the failure category of this result, or None when it isn't a failure."""
        return FAILURE_KINDS.get(self.kind)


def normalize_email(value):
    """Return the trimmed, lower-cased address, or None when it is empty or invalid."""
    if not isinstance(value, str):
        return None
    return _normalize_text(value)


# A run normalises each email of a batch several times (lookup, matching,
# storing), so recent results are cached; the function is pure.
@lru_cache(maxsize=4096)
def _normalize_text(value):
    email = value.strip().lower()
    if not is_valid_email(email):
        return None
    return email


def is_valid_email(email):
    """Check an already trimmed address against the rules in this module's docstring."""
    if not email or len(email) > MAX_EMAIL_LENGTH or email.count("@") != 1:
        return False
    if PRINTABLE_ASCII.fullmatch(email):
        if not FORBIDDEN_CHARACTERS.isdisjoint(email):
            return False
    elif any(char.isspace() or not char.isprintable() or char in FORBIDDEN_CHARACTERS for char in email):
        return False

    local, domain = email.split("@")
    if not local or len(local) > MAX_LOCAL_PART_LENGTH:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False

    labels = domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(_is_valid_label(label) for label in labels)


def _is_valid_label(label):
    if not label or len(label) > MAX_LABEL_LENGTH:
        return False
    if label.startswith("-") or label.endswith("-"):
        return False
    if label.isascii():
        return label.replace("-", "").isalnum()
    return all(char.isalnum() or char == "-" for char in label)


def emails_to_look_up(sources: Iterable[Record]):
    """Return the distinct valid normalised emails of the live source records, in batch order."""
    emails = {}
    for record in sources:
        if record.deleted:
            continue
        email = normalize_email(record.email)
        if email:
            emails[email] = None
    return list(emails)


def match_batch(
    sources: Sequence[Record],
    found: Mapping[str, Sequence[Record]],
    links: Mapping[str, str] | None = None,
    linked_records: Mapping[str, Record] | None = None,
):
    """
    Match each source record of a batch and return one MatchResult per record, in batch order.

    `found` maps a normalised email to the destination records the tool
    returned for it, by primary or secondary email. `links` maps a source
    record id to the destination record id an earlier run wrote to, and
    `linked_records` maps such a destination id to the record fetched for it.
    """
    links = links or {}
    linked_records = linked_records or {}
    keys = {record.id: normalize_email(record.email) for record in sources}
    ids_by_key = defaultdict(list)
    for record in sources:
        if not record.deleted and keys[record.id]:
            ids_by_key[keys[record.id]].append(record.id)

    results = []
    for record in sources:
        key = keys[record.id]
        if record.deleted:
            results.append(MatchResult(record, MatchKind.SOURCE_DELETED, key))
        elif key is None:
            results.append(_missing_email(record))
        elif len(ids_by_key[key]) > 1:
            results.append(_duplicate_source(record, key, ids_by_key[key]))
        else:
            linked = linked_records.get(links.get(record.id, ""))
            results.append(_match_one(record, key, found.get(key, ()), linked))
    return results


def _match_one(record, key, candidates, linked):
    candidates = _distinct(candidates)
    if linked is not None:
        return _match_linked(record, key, candidates, linked)

    live = [candidate for candidate in candidates if not candidate.deleted]
    if len(live) > 1:
        ids = ", ".join(candidate.id for candidate in live)
        message = (
            f"{len(live)} destination records have the email {key} (ids {ids}); "
            "merge them in the tool or remove the email from all but one, then retry."
        )
        return MatchResult(record, MatchKind.DUPLICATE_DESTINATION, key, message=message)
    if live:
        return MatchResult(record, MatchKind.MATCHED, key, destination=live[0])
    if candidates:
        return _destination_deleted(record, key, candidates[0])
    return MatchResult(record, MatchKind.UNMATCHED, key)


def _match_linked(record, key, candidates, linked):
    if linked.deleted:
        return _destination_deleted(record, key, linked)

    # Another live record already holding the new email would become a
    # duplicate once the linked record gets that email too.
    others = [c for c in candidates if c.id != linked.id and not c.deleted]
    if others:
        ids = ", ".join(other.id for other in others)
        message = (
            f"Source record {record.id} is linked to destination record {linked.id}, "
            f"but destination record {ids} already has its email {key}; merge them in the tool, then retry."
        )
        return MatchResult(record, MatchKind.DUPLICATE_DESTINATION, key, message=message)
    return MatchResult(record, MatchKind.MATCHED, key, destination=linked, linked=True)


def _distinct(candidates):
    by_id = {}
    for candidate in candidates:
        by_id.setdefault(candidate.id, candidate)
    return list(by_id.values())


def _missing_email(record):
    if record.email is None or not str(record.email).strip():
        message = f"Source record {record.id} has no email, so it can't be matched; add an email in the tool."
    else:
        message = f"Source record {record.id} has an invalid email {record.email!r}; correct it in the tool."
    return MatchResult(record, MatchKind.MISSING_EMAIL, None, message=message)


def _duplicate_source(record, key, ids):
    others = ", ".join(other for other in ids if other != record.id)
    message = (
        f"Source records {record.id} and {others} share the email {key}, so neither is synced; "
        "give each its own email or merge them in the tool."
    )
    return MatchResult(record, MatchKind.DUPLICATE_SOURCE, key, message=message)


def _destination_deleted(record, key, destination):
    message = (
        f"Destination record {destination.id} for {key} is deleted or archived in the tool; "
        "restore it there to sync it again."
    )
    return MatchResult(record, MatchKind.DESTINATION_DELETED, key, destination=destination, message=message)
