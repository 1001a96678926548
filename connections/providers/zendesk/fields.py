"""
The fields of Zendesk users and organizations, and the JSON of a write.

Standard fields sit at the top of a user or organization object. Custom
fields sit in its `user_fields` or `organization_fields` object, keyed by
the field's key, and become fields named `user_fields.<key>` or
`organization_fields.<key>`. Their definitions come from
GET /api/v2/user_fields.json and /api/v2/organization_fields.json.

Values are read in Zendesk's wire form (ISO 8601 timestamps, "YYYY-MM-DD"
dates, lists of tags) and written from the engine's Python values.
"""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from connections.providers.types import FailureCategory, FieldSpec, FieldType

from .tickets import TICKET_FIELDS

USER_FIELDS_PREFIX = "user_fields."
ORGANIZATION_FIELDS_PREFIX = "organization_fields."

ROLES = {"end-user": "End user", "agent": "Agent", "admin": "Administrator"}

USER_FIELDS = [
    FieldSpec("email", "Email", FieldType.EMAIL, max_length=254,
              description="The primary email. A change adds the new address as an identity and makes it primary."),
    FieldSpec("name", "Name", FieldType.STRING, max_length=255),
    FieldSpec("phone", "Phone", FieldType.STRING),
    FieldSpec("external_id", "External id", FieldType.STRING, max_length=255),
    FieldSpec("alias", "Alias", FieldType.STRING),
    FieldSpec("tags", "Tags", FieldType.MULTI_SELECT),
    FieldSpec("time_zone", "Time zone", FieldType.STRING,
              description="A Zendesk time zone name, for example Eastern Time (US & Canada)."),
    FieldSpec("notes", "Notes", FieldType.STRING),
    FieldSpec("details", "Details", FieldType.STRING),
    FieldSpec("organization_id", "Organization id", FieldType.NUMBER),
    # Changing a role changes the agent seats billed, so Oneprofile never writes it.
    FieldSpec("role", "Role", FieldType.ENUMERATION, writable=False, options=ROLES),
    FieldSpec("locale", "Locale", FieldType.STRING, writable=False),
    FieldSpec("verified", "Verified", FieldType.BOOLEAN, writable=False),
    FieldSpec("suspended", "Suspended", FieldType.BOOLEAN, writable=False),
    FieldSpec("created_at", "Created at", FieldType.DATETIME, writable=False),
    FieldSpec("updated_at", "Updated at", FieldType.DATETIME, writable=False),
    FieldSpec("last_login_at", "Last login at", FieldType.DATETIME, writable=False),
]

ORGANIZATION_FIELDS = [
    FieldSpec("name", "Name", FieldType.STRING, max_length=255),
    FieldSpec("external_id", "External id", FieldType.STRING, max_length=255),
    FieldSpec("details", "Details", FieldType.STRING),
    FieldSpec("notes", "Notes", FieldType.STRING),
    FieldSpec("domain_names", "Domain names", FieldType.MULTI_SELECT),
    FieldSpec("tags", "Tags", FieldType.MULTI_SELECT),
    FieldSpec("group_id", "Group id", FieldType.NUMBER),
    FieldSpec("shared_tickets", "Shared tickets", FieldType.BOOLEAN),
    FieldSpec("shared_comments", "Shared comments", FieldType.BOOLEAN),
    FieldSpec("created_at", "Created at", FieldType.DATETIME, writable=False),
    FieldSpec("updated_at", "Updated at", FieldType.DATETIME, writable=False),
]

STANDARD_FIELDS = {
    "user": {spec.name: spec for spec in USER_FIELDS},
    "organization": {spec.name: spec for spec in ORGANIZATION_FIELDS},
}
DERIVED_FIELDS = {
    "user": {spec.name: spec for spec in TICKET_FIELDS},
    "organization": {},
}

# Custom field type → the engine's field type. Lookup fields hold the id of
# a related record, which no other tool's value can mean, so they are read-only.
CUSTOM_FIELD_TYPES = {
    "text": FieldType.STRING,
    "textarea": FieldType.STRING,
    "regexp": FieldType.STRING,
    "checkbox": FieldType.BOOLEAN,
    "date": FieldType.DATE,
    "integer": FieldType.NUMBER,
    "decimal": FieldType.NUMBER,
    "dropdown": FieldType.ENUMERATION,
    "tagger": FieldType.ENUMERATION,
    "multiselect": FieldType.MULTI_SELECT,
    "lookup": FieldType.STRING,
}
READ_ONLY_CUSTOM_TYPES = frozenset({"lookup"})


class InvalidWriteValue(ValueError):
    """A value that can't be sent to Zendesk, found before any request."""

    def __init__(self, message, category=FailureCategory.TYPE_MISMATCH):
        super().__init__(message)
        self.category = category
        self.message = message


def custom_field_spec(definition, prefix):
    """Return the FieldSpec of one user_fields or organization_fields definition, or None for an inactive one."""
    key = definition.get("key")
    if not key or definition.get("active") is False:
        return None
    zendesk_type = definition.get("type") or "text"
    field_type = CUSTOM_FIELD_TYPES.get(zendesk_type, FieldType.STRING)
    options = {}
    if field_type in (FieldType.ENUMERATION, FieldType.MULTI_SELECT):
        # A dropdown stores the option's value (its tag), not its display name.
        options = {
            str(option["value"]): str(option.get("name") or option["value"])
            for option in definition.get("custom_field_options") or []
            if option.get("value") is not None
        }
    description = definition.get("description") or ""
    if zendesk_type == "regexp" and definition.get("regexp_for_validation"):
        description = f"{description} Values must match {definition['regexp_for_validation']}.".strip()
    return FieldSpec(
        f"{prefix}{key}",
        definition.get("title") or key,
        field_type,
        writable=zendesk_type not in READ_ONLY_CUSTOM_TYPES,
        options=options,
        description=description,
    )


def record_values(obj, field_names, prefix):
    """Return the values of `field_names` in a user or organization object, without derived fields."""
    custom = obj.get(prefix.rstrip(".")) or {}
    values = {}
    for name in field_names:
        if name.startswith(prefix):
            values[name] = custom.get(name.removeprefix(prefix))
        else:
            values[name] = obj.get(name)
    return values


def encode_value(value, name, spec, definition=None):
    """
    Return a value in the JSON form Zendesk takes for the field, or raise InvalidWriteValue.

    `definition` is the definition of a custom field, or None. A regexp
    field's value is checked against its pattern here, so an invalid value
    costs no request.
    """
    if value is None:
        return [] if spec.type == FieldType.MULTI_SELECT else None
    zendesk_type = (definition or {}).get("type")

    if spec.type == FieldType.MULTI_SELECT:
        items = value if isinstance(value, list | tuple) else [value]
        return [str(item) for item in items]
    if isinstance(value, list | tuple | dict):
        raise InvalidWriteValue(
            f"Zendesk takes a single value in {name}, and the value is {type(value).__name__}: {value!r:.80}."
        )
    if spec.type == FieldType.BOOLEAN:
        return bool(value)
    if spec.type == FieldType.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return str(value)
    if spec.type == FieldType.NUMBER:
        return _number(value, name, integer=zendesk_type == "integer" or name in ("organization_id", "group_id"))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = format(value, "f")
    text = str(value)
    if spec.max_length and len(text) > spec.max_length:
        raise InvalidWriteValue(
            f"Zendesk takes at most {spec.max_length} characters in {name}, and the value has {len(text)}. "
            "Shorten the source value or set the mapping to truncate it."
        )
    pattern = (definition or {}).get("regexp_for_validation")
    if zendesk_type == "regexp" and pattern and not _matches(pattern, text):
        raise InvalidWriteValue(
            f"Zendesk rejects {text!r:.80} for {name}: the field only takes values matching {pattern}. "
            "Correct the source value or map another field.",
            FailureCategory.REJECTED_VALUE,
        )
    return text


def _number(value, name, integer):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidWriteValue(f"Zendesk takes a number in {name}, and the value is {value!r:.80}.") from None
    if integer:
        if number != number.to_integral_value():
            raise InvalidWriteValue(f"Zendesk takes a whole number in {name}, and the value is {value}.")
        return int(number)
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _matches(pattern, text):
    # Zendesk checks regexp fields with Ruby regular expressions; the
    # patterns admins write (anchors, classes, counts) read the same in Python.
    try:
        return re.search(pattern, text) is not None
    except re.error:
        # NOTE: a pattern Python can't compile is left for Zendesk to check.
        return True
