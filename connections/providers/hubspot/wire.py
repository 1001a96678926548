"""
HubSpot property definitions and wire formats.

Every property value travels as a string in a `properties` map. Dates are
epoch milliseconds at midnight UTC, datetimes any epoch milliseconds,
booleans "true"/"false", multiple checkboxes their option values joined
with ";", and an empty string clears a value
(https://developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis,
and the examples of the contacts batch update reference).
"""

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from connections.providers.timestamps import iso_milliseconds
from connections.providers.types import FieldSpec, FieldType

# HubSpot's limit for text values set through the CRM, per
# https://knowledge.hubspot.com/contacts/property-field-types-in-hubspot
# (single-line and multi-line text). Forms are not limited.
MAX_STRING_LENGTH = 65_536

MULTI_SELECT_SEPARATOR = ";"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# (type, fieldType) pairs whose meaning differs by fieldType; other types
# are mapped by `type` alone in SIMPLE_TYPES.
SIMPLE_TYPES = {
    "string": FieldType.STRING,
    "phone_number": FieldType.STRING,
    "phonenumber": FieldType.STRING,
    "number": FieldType.NUMBER,
    "date": FieldType.DATE,
    "datetime": FieldType.DATETIME,
    "bool": FieldType.BOOLEAN,
    "enumeration": FieldType.ENUMERATION,
}
# fieldType values that override the type: a checkbox set contains several
# options, a booleancheckbox is a yes/no enumeration, a textarea is text.
FIELD_TYPE_OVERRIDES = {
    "checkbox": FieldType.MULTI_SELECT,
    "booleancheckbox": FieldType.BOOLEAN,
    "textarea": FieldType.STRING,
    "phonenumber": FieldType.STRING,
}
EMAIL_PROPERTIES = frozenset({"email", "work_email"})


class WireEncodingError(ValueError):
    """A value that can't be sent to a HubSpot property; the message names the value, property and fix."""


def field_spec_from_property(definition):
    """Build a FieldSpec from one property definition of GET /crm/v3/properties/{objectType}."""
    name = definition["name"]
    field_type = FIELD_TYPE_OVERRIDES.get(definition.get("fieldType") or "")
    if field_type is None:
        field_type = SIMPLE_TYPES.get(definition.get("type") or "", FieldType.STRING)
    if name in EMAIL_PROPERTIES or definition.get("fieldType") == "email":
        field_type = FieldType.EMAIL

    options = {}
    if field_type in (FieldType.ENUMERATION, FieldType.MULTI_SELECT):
        for option in definition.get("options") or []:
            if option.get("hidden"):
                continue
            value = option.get("value")
            if value is None:
                continue
            options[str(value)] = option.get("label") or str(value)

    metadata = definition.get("modificationMetadata") or {}
    read_only = bool(metadata.get("readOnlyValue")) or bool(definition.get("calculated"))
    max_length = MAX_STRING_LENGTH if field_type in (FieldType.STRING, FieldType.EMAIL) else None
    return FieldSpec(
        name=name,
        label=definition.get("label") or name,
        type=field_type,
        writable=not read_only,
        options=options,
        max_length=max_length,
        description=definition.get("description") or "",
    )


def to_wire(value, spec: FieldSpec | None, name=None):
    """
    Encode the engine's Python value for a HubSpot property and return the string to send.

    `spec` is the property's FieldSpec; without one the value is encoded by
    its Python type. None and "" clear the property. Raises
    WireEncodingError for a value the property can't take, such as a date
    property given a time that isn't midnight UTC.
    """
    name = name or (spec.name if spec else "?")
    if value is None or value == "" or value == [] or value == ():
        return ""
    field_type = spec.type if spec else _type_of(value)

    if field_type == FieldType.DATE:
        return str(_date_milliseconds(value, name))
    if field_type == FieldType.DATETIME:
        return str(_datetime_milliseconds(value, name))
    if field_type == FieldType.BOOLEAN:
        return _boolean_text(value, name)
    if field_type in (FieldType.NUMBER, FieldType.MONEY):
        return _number_text(value, name)
    if field_type == FieldType.MULTI_SELECT:
        return _multi_select_text(value, spec)
    if field_type == FieldType.ENUMERATION:
        return _enumeration_text(value, spec)
    if isinstance(value, (list, tuple)):
        return MULTI_SELECT_SEPARATOR.join(str(item) for item in value)
    return str(value)


def _type_of(value):
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, datetime):
        return FieldType.DATETIME
    if isinstance(value, date):
        return FieldType.DATE
    if isinstance(value, (int, float, Decimal)):
        return FieldType.NUMBER
    if isinstance(value, (list, tuple, set, frozenset)):
        return FieldType.MULTI_SELECT
    return FieldType.STRING


def _date_milliseconds(value, name):
    if isinstance(value, datetime):
        instant = as_utc(value)
        if instant.timetz().replace(tzinfo=None) != time(0):
            raise WireEncodingError(
                f"HubSpot date property {name} takes a date at midnight UTC, but the value "
                f"{instant.isoformat().replace('+00:00', 'Z')} has a time of day; "
                "map it to a date, or use a datetime property."
            )
        value = instant.date()
    if isinstance(value, date):
        return milliseconds(datetime.combine(value, time(0), tzinfo=UTC))
    if isinstance(value, str):
        try:
            return milliseconds(datetime.combine(date.fromisoformat(value.strip()), time(0), tzinfo=UTC))
        except ValueError:
            pass
    raise WireEncodingError(
        f"HubSpot date property {name} takes a date such as 2024-12-04, not {value!r}."
    )


def _datetime_milliseconds(value, name):
    if isinstance(value, datetime):
        return milliseconds(as_utc(value))
    if isinstance(value, date):
        return milliseconds(datetime.combine(value, time(0), tzinfo=UTC))
    if isinstance(value, str):
        try:
            return milliseconds(as_utc(datetime.fromisoformat(value.strip())))
        except ValueError:
            pass
    raise WireEncodingError(
        f"HubSpot datetime property {name} takes a date and time such as 2024-12-04T11:39:05Z, not {value!r}."
    )


def _boolean_text(value, name):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise WireEncodingError(f"HubSpot boolean property {name} takes true or false, not {value!r}.")


def _number_text(value, name):
    if isinstance(value, dict) and "amount" in value:
        value = value["amount"]
    if isinstance(value, bool):
        raise WireEncodingError(f"HubSpot number property {name} takes a number, not {value!r}.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise WireEncodingError(f"HubSpot number property {name} takes a number such as 12.5, not {value!r}.")
    # Format without an exponent: Decimal("1E+3") is sent as "1000".
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _multi_select_text(value, spec):
    if isinstance(value, str):
        items = [item.strip() for item in value.split(MULTI_SELECT_SEPARATOR) if item.strip()]
    else:
        items = [str(item) for item in value]
    if spec and spec.options:
        unknown = [item for item in items if item not in spec.options]
        if unknown:
            raise WireEncodingError(option_message(unknown[0], spec, "multiple checkboxes"))
    return MULTI_SELECT_SEPARATOR.join(items)


def _enumeration_text(value, spec):
    text = str(value)
    if spec and spec.options and text not in spec.options:
        raise WireEncodingError(option_message(text, spec, "enumeration"))
    return text


def option_message(value, spec: FieldSpec, kind="enumeration"):
    """Return the member's message for a value that isn't one of an enumeration property's options."""
    allowed = ", ".join(spec.options) if spec.options else "none are listed"
    return f"HubSpot rejected {value!r} for the {kind} property {spec.name}: allowed values are {allowed}."


def as_utc(value):
    """Return a datetime in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def milliseconds(instant):
    """Return an aware datetime as whole epoch milliseconds."""
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_timestamp_ms(value):
    """
    Return a HubSpot timestamp as epoch milliseconds, or None when empty or unreadable.

    HubSpot's v3 API returns ISO 8601 ("2024-12-04T11:39:05.123Z") in
    responses; an all-digit string is read as epoch milliseconds.
    """
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return milliseconds(as_utc(datetime.fromisoformat(text)))
    except ValueError:
        return None


def iso_from_ms(value):
    """Format epoch milliseconds as ISO 8601 in UTC with a "Z" suffix."""
    if type(value) is int:
        return iso_milliseconds(value)
    instant = datetime.fromtimestamp(value / 1000, tz=UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
