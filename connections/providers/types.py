"""
Plain data shared by the providers and the sync engine.

Nothing here touches the database or the network, so the engine's match,
convert and diff steps can be tested on these types alone.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    MONEY = "money"  # a dict {"amount": Decimal, "currency": "usd"} once converted
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    ENUMERATION = "enumeration"
    MULTI_SELECT = "multi_select"
    EMAIL = "email"


class FailureCategory(StrEnum):
    """The reason one record, or a whole run, could not be written, as a stable code."""

    RATE_LIMITED = "rate_limited"
    TYPE_MISMATCH = "type_mismatch"
    REJECTED_VALUE = "rejected_value"
    NOT_FOUND = "not_found"
    DUPLICATE = "duplicate"
    MISSING_EMAIL = "missing_email"
    AUTHORISATION = "authorisation"
    TOOL_ERROR = "tool_error"
    TIMEOUT = "timeout"

    @property
    def is_transient(self):
        """True when retrying the same request later can succeed without a member's help."""
        return self in (self.RATE_LIMITED, self.TOOL_ERROR, self.TIMEOUT)


FAILURE_LABELS = {
    FailureCategory.RATE_LIMITED: "Rate limited",
    FailureCategory.TYPE_MISMATCH: "Type mismatch",
    FailureCategory.REJECTED_VALUE: "Rejected value",
    FailureCategory.NOT_FOUND: "Not found",
    FailureCategory.DUPLICATE: "Duplicate match",
    FailureCategory.MISSING_EMAIL: "Missing or invalid email",
    FailureCategory.AUTHORISATION: "Authorisation",
    FailureCategory.TOOL_ERROR: "Tool error",
    FailureCategory.TIMEOUT: "Timeout",
}


@dataclass(frozen=True)
class FieldSpec:
    """One readable, and maybe writable, field of an object in a tool."""

    name: str
    label: str
    type: FieldType
    writable: bool = True
    # Enumeration and multi-select options as {internal value: label}.
    options: dict[str, str] = field(default_factory=dict)
    # The maximum string length the tool accepts, in characters, or None when unlimited.
    max_length: int | None = None
    # Derived fields are computed by the provider from several API objects
    # (for example Stripe MRR); they are never writable.
    derived: bool = False
    description: str = ""


@dataclass
class Record:
    """One record read from a tool: its id there, its email, and the values of the fields asked for."""

    id: str
    email: str | None
    values: dict[str, Any]
    # Extra emails the tool matches on (HubSpot's additional emails).
    secondary_emails: tuple[str, ...] = ()
    # The record's last change in the tool, as an ISO 8601 string; used for cursors.
    updated_at: str | None = None
    # True when the tool reported the record deleted or archived since the cursor.
    deleted: bool = False


@dataclass
class Page:
    """A page of records changed since a cursor, and the cursor to store once they are handled."""

    records: list[Record]
    cursor: str | None
    has_more: bool


@dataclass
class RecordWrite:
    """The changed fields of one destination record, as the engine's converted values; the provider encodes them."""

    key: str  # the match key, the normalised email
    record_id: str | None  # None means create the record
    values: dict[str, Any]
    # A stable id for this change, so that a retried write is not applied twice.
    idempotency_key: str = ""


@dataclass
class WriteOutcome:
    """The result of one RecordWrite in the tool."""

    key: str
    ok: bool
    record_id: str | None = None
    category: FailureCategory | None = None
    message: str = ""
    # The tool's response for this record, trimmed and without secrets.
    response: str = ""
