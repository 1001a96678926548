"""
The fields of a Mailchimp audience member, and their values on the wire.

Each audience has its own merge fields (GET /lists/{id}/merge-fields),
written under `merge_fields` keyed by their tag; Oneprofile names them
`merge_fields.{TAG}`. An address merge field is an object, so it becomes
one field per part (`merge_fields.ADDRESS.city`). Value formats follow
Mailchimp's merge-field guide: dates in the field's `date_format`,
birthdays as month and day (MM/DD or DD/MM), text up to 255 bytes.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from connections.providers.types import FailureCategory, FieldSpec, FieldType

MERGE_PREFIX = "merge_fields."
TEXT_MAX_BYTES = 255

MEMBER_STATUSES = {
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "cleaned": "Cleaned",
    "pending": "Pending",
    "transactional": "Transactional",
    "archived": "Archived",
}
# Statuses a new member may start with (`status_if_new`).
NEW_MEMBER_STATUSES = ("subscribed", "unsubscribed", "pending", "transactional")

ADDRESS_PARTS = {
    "addr1": "Street address",
    "addr2": "Address line 2",
    "city": "City",
    "state": "State, province or region",
    "zip": "Postal code",
    "country": "Country",
}
# Mailchimp takes an address only with these parts filled in.
ADDRESS_REQUIRED_PARTS = ("addr1", "city", "state", "zip")

OWN_FIELDS = [
    FieldSpec("email_address", "Email address", FieldType.EMAIL),
    FieldSpec(
        "status",
        "Subscription status",
        FieldType.ENUMERATION,
        options=MEMBER_STATUSES,
        description="New members start with this status. For existing members only 'unsubscribed' is "
        "applied: Mailchimp lets only the person subscribe again, and sets cleaned and archived itself.",
    ),
    FieldSpec(
        "tags",
        "Tags",
        FieldType.MULTI_SELECT,
        description="The member's tags. A write replaces the whole set; tags that don't exist yet are created.",
    ),
]

READ_ONLY_FIELDS = [
    FieldSpec(
        "member_rating",
        "Member rating",
        FieldType.NUMBER,
        writable=False,
        description="Mailchimp's 1 to 5 star rating of the member's engagement.",
    ),
    FieldSpec(
        "last_changed",
        "Last changed",
        FieldType.DATETIME,
        writable=False,
        description="When the member's data last changed in Mailchimp.",
    ),
    FieldSpec(
        "avg_open_rate",
        "Average open rate",
        FieldType.NUMBER,
        writable=False,
        derived=True,
        description="Share of campaigns the member opened, from 0 to 1.",
    ),
    FieldSpec(
        "avg_click_rate",
        "Average click rate",
        FieldType.NUMBER,
        writable=False,
        derived=True,
        description="Share of campaigns the member clicked in, from 0 to 1.",
    ),
]
# NOTE: the member's last campaign activity is not offered: Mailchimp keeps
# it only in each member's activity feed, which costs one request per member.

OWN_FIELDS_BY_NAME = {spec.name: spec for spec in OWN_FIELDS}
READ_ONLY_FIELDS_BY_NAME = {spec.name: spec for spec in READ_ONLY_FIELDS}

# Member attributes requested with `fields=`, so that responses stay small.
MEMBER_ATTRIBUTES = ("id", "email_address", "status", "merge_fields", "tags", "last_changed", "member_rating", "stats")

DEFAULT_DATE_FORMAT = "MM/DD/YYYY"
DEFAULT_BIRTHDAY_FORMAT = "MM/DD"
_FORMAT_TOKENS = {"YYYY": "%Y", "MM": "%m", "DD": "%d"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

STRING_TYPES = ("text", "phone", "url", "imageurl", "zip")


class InvalidWriteValue(ValueError):
    """A value that can't be sent to Mailchimp, found before any request."""

    def __init__(self, message, category=FailureCategory.TYPE_MISMATCH):
        super().__init__(message)
        self.category = category
        self.message = message


@dataclass(frozen=True)
class MergeField:
    """One merge field of an audience, as GET /lists/{id}/merge-fields describes it."""

    tag: str
    name: str
    type: str
    date_format: str = ""
    choices: tuple[str, ...] = ()
    required: bool = False

    @classmethod
    def from_api(cls, item):
        options = item.get("options") or {}
        return cls(
            tag=item["tag"],
            name=item.get("name") or item["tag"],
            type=item.get("type") or "text",
            date_format=options.get("date_format") or "",
            choices=tuple(str(choice) for choice in options.get("choices") or ()),
            required=bool(item.get("required")),
        )

    @property
    def strftime_format(self):
        """Return the field's date format as a strftime pattern ("DD/MM/YYYY" becomes "%d/%m/%Y")."""
        default = DEFAULT_BIRTHDAY_FORMAT if self.type == "birthday" else DEFAULT_DATE_FORMAT
        pattern = (self.date_format or default).upper()
        for token, directive in _FORMAT_TOKENS.items():
            pattern = pattern.replace(token, directive)
        return pattern

    def specs(self):
        """Return the FieldSpecs of this merge field: one, or one per part of an address."""
        name = f"{MERGE_PREFIX}{self.tag}"
        if self.type == "address":
            return [
                FieldSpec(f"{name}.{part}", f"{self.name}: {label}", FieldType.STRING, max_length=TEXT_MAX_BYTES)
                for part, label in ADDRESS_PARTS.items()
            ]
        if self.type == "number":
            return [FieldSpec(name, self.name, FieldType.NUMBER)]
        if self.type == "date":
            return [
                FieldSpec(
                    name,
                    self.name,
                    FieldType.DATE,
                    description=f"Sent to Mailchimp as {self.date_format or DEFAULT_DATE_FORMAT}.",
                )
            ]
        if self.type == "birthday":
            shown = self.date_format or DEFAULT_BIRTHDAY_FORMAT
            return [
                FieldSpec(
                    name,
                    self.name,
                    FieldType.STRING,
                    max_length=5,
                    description=f"Month and day as {shown}; a full date is written as its month and day.",
                )
            ]
        if self.type in ("dropdown", "radio"):
            return [FieldSpec(name, self.name, FieldType.ENUMERATION, options={choice: choice for choice in self.choices})]
        description = {"zip": "A 5-digit US ZIP code.", "url": "A web address.", "imageurl": "An image's web address."}
        return [
            FieldSpec(
                name,
                self.name,
                FieldType.STRING,
                max_length=TEXT_MAX_BYTES,
                description=description.get(self.type, ""),
            )
        ]


def split_field_name(name):
    """Return (tag, address part or "") of a merge field name, or None for other fields."""
    if not name.startswith(MERGE_PREFIX):
        return None
    tag, _, part = name.removeprefix(MERGE_PREFIX).partition(".")
    return tag, part


# Reading ------------------------------------------------------------------


def member_values(member, merge_fields):
    """Return a member's fields as wire values: dates as ISO 8601, tags as a list of names."""
    stats = member.get("stats") or {}
    values = {
        "email_address": member.get("email_address"),
        "status": member.get("status"),
        "tags": [tag.get("name") for tag in member.get("tags") or [] if isinstance(tag, dict) and tag.get("name")],
        "member_rating": member.get("member_rating"),
        "last_changed": member.get("last_changed") or None,
        "avg_open_rate": stats.get("avg_open_rate"),
        "avg_click_rate": stats.get("avg_click_rate"),
    }
    current = member.get("merge_fields") or {}
    for tag, field in merge_fields.items():
        raw = current.get(tag)
        if field.type == "address":
            address = raw if isinstance(raw, dict) else {}
            for part in ADDRESS_PARTS:
                values[f"{MERGE_PREFIX}{tag}.{part}"] = address.get(part) or None
        elif field.type == "date":
            values[f"{MERGE_PREFIX}{tag}"] = read_date(raw, field)
        else:
            values[f"{MERGE_PREFIX}{tag}"] = None if raw == "" else raw
    return values


def read_date(raw, field):
    """
    Return a date merge value as an ISO 8601 date, or the raw text when it can't be read.

    NOTE: Mailchimp documents the formats it accepts, not the one it
    returns; both ISO 8601 and the field's own date format are read.
    """
    if not raw or not isinstance(raw, str):
        return None
    if _ISO_DATE.match(raw):
        return raw[:10]
    try:
        return datetime.strptime(raw, field.strftime_format).date().isoformat()
    except ValueError:
        return raw


# Writing ------------------------------------------------------------------


def encode_merge_value(value, field, param):
    """Return a converted value in the wire form of a merge field, or raise InvalidWriteValue."""
    if value is None:
        # An empty string clears a merge field.
        return ""
    if field.type == "number":
        return _number(value, param)
    if field.type == "date":
        return _date(value, param).strftime(field.strftime_format)
    if field.type == "birthday":
        return _birthday(value, field, param)
    if isinstance(value, list | tuple | set | dict):
        raise InvalidWriteValue(f"Mailchimp takes a single value in {param}, and the value is {value!r:.80}.")
    text = value if isinstance(value, str) else str(value)
    if field.type in ("dropdown", "radio") and field.choices and text not in field.choices:
        raise InvalidWriteValue(
            f"Mailchimp's {field.name} ({param}) takes one of {', '.join(field.choices)}, and the value is {text!r}. "
            "Add a value map to the field mapping.",
            FailureCategory.REJECTED_VALUE,
        )
    size = len(text.encode("utf-8"))
    if size > TEXT_MAX_BYTES:
        raise InvalidWriteValue(
            f"Mailchimp takes at most {TEXT_MAX_BYTES} bytes in {param}, and the value has {size} bytes in UTF-8. "
            "Shorten the source value or set the mapping to truncate it."
        )
    return text


def _number(value, param):
    if isinstance(value, bool):
        raise InvalidWriteValue(f"Mailchimp takes a number in {param}, and the value is a boolean ({value}).")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidWriteValue(f"Mailchimp takes a number in {param}, and the value is {value!r:.80}.") from None
    if not number.is_finite():
        raise InvalidWriteValue(f"Mailchimp takes a finite number in {param}, and the value is {value!r}.")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _date(value, param):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise InvalidWriteValue(f"Mailchimp takes a date in {param}, and the value {value!r:.80} is not an ISO 8601 date.")


def _birthday(value, field, param):
    """Return a birthday in the field's format; "nn/nn" text is taken to be in that format already."""
    pattern = field.strftime_format
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}/\d{1,2}", value.strip()):
        try:
            parsed = datetime.strptime(f"{value.strip()}/2000", f"{pattern}/%Y")
        except ValueError:
            raise InvalidWriteValue(
                f"Mailchimp takes a month and day as {field.date_format or DEFAULT_BIRTHDAY_FORMAT} in {param}, "
                f"and {value!r} is not a valid one."
            ) from None
        return parsed.strftime(pattern)
    try:
        day = _date(value, param)
    except InvalidWriteValue:
        raise InvalidWriteValue(
            f"Mailchimp takes a month and day as {field.date_format or DEFAULT_BIRTHDAY_FORMAT} in {param}, "
            f"or a full date, and the value is {value!r:.80}."
        ) from None
    return day.strftime(pattern)
