"""
Convert a source field's value into the type of the destination field.

`convert` returns the engine's form of the value, which each provider turns
into its wire format:

| destination type | converted value |
| --- | --- |
| string | str |
| email | str, trimmed and lower-cased |
| number | Decimal |
| money | {"amount": Decimal in major units, "currency": "usd"} |
| boolean | bool |
| date | datetime.date, the UTC calendar date |
| datetime | datetime.datetime in UTC |
| enumeration | str, an option's internal value |
| multi_select | list[str] of option values, first occurrence order, no repeats |

Rules:

- None, a blank string and an empty list convert to None, which clears the
  destination field. The diff treats None and "" as the same empty value.
- Dates follow the rules in `syncs.engine.dates`, money the rules in
  `syncs.engine.money`, and the transform shape is in
  `syncs.engine.transforms`.
- Numbers are ints, floats, Decimals or plain decimal strings ("12.5",
  "-3", "1e3"). Booleans, NaN, infinities and strings with thousands
  separators are type mismatches.
- Booleans are True/False, 1/0, or the strings true/false, yes/no, 1/0 in
  any case. Anything else is a type mismatch.
- Enumeration values match an option by its internal value, exactly. A
  label is not accepted unless the value map translates it. A destination
  that lists no options accepts any value.
- Multi-select values come from a list, or from a string split on ";" (or
  on "," when there is no ";"). Every item must be an option.
- A string longer than the destination's max_length is a type mismatch
  naming the length and the limit, unless the transform sets truncate.
- A list written into a string destination is joined with ";", the
  separator HubSpot uses for multiple checkboxes. A dict is a type mismatch.
- A money value written into a string destination reads "12.50 USD", and
  into a number destination it is the decimal amount without its currency.
"""

import re
from datetime import date, datetime
from decimal import Decimal

from connections.providers.types import FieldSpec, FieldType

from .dates import DateParseError, iso_datetime, to_date, to_datetime
from .errors import ConversionError, mismatch, shown
from .matching import normalize_email
from .money import MoneyParseError, format_money, normalize_currency, parse_money
from .options import MULTI_SELECT_SEPARATOR, ordered, to_enumeration, to_multi_select
from .transforms import decimal_text, map_value

NUMBER_STRING = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def is_empty(value):
    """Check whether a value means "no value": None, a blank string or an empty collection."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | set | frozenset | dict) and not value


def convert(value, source: FieldSpec, destination: FieldSpec, transform=None):
    """Convert a source value into the destination field's type, or raise ConversionError."""
    transform = transform or {}
    if destination.type == FieldType.ENUMERATION and isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if destination.type != FieldType.MULTI_SELECT:
        value = map_value(value, transform.get("value_map"))
    if is_empty(value):
        return None
    try:
        return CONVERTERS[destination.type](value, destination, transform)
    except ConversionError as error:
        message = f"{error.message} The value comes from {source.label} ({source.name})."
        raise ConversionError(message, error.category) from None


def _to_string(value, destination, transform):
    if isinstance(value, dict) and not _is_money(value):
        raise mismatch(value, destination, "a nested object has no single text form")
    if isinstance(value, list | tuple | set | frozenset):
        if any(isinstance(item, dict | list | tuple) for item in value):
            raise mismatch(value, destination, "the list contains nested lists or objects")
        text = MULTI_SELECT_SEPARATOR.join(to_text(item, transform) for item in ordered(value))
    else:
        try:
            text = to_text(value, transform)
        except MoneyParseError as error:
            raise mismatch(value, destination, str(error)) from None

    limit = destination.max_length
    if limit is None or len(text) <= limit:
        return text
    if transform.get("truncate"):
        return text[:limit]
    raise ConversionError(
        f"A {len(text)}-character text starting {shown(text[:20])} is too long for "
        f"{destination.label} ({destination.name}), which takes at most {limit} characters; "
        "shorten it in the source or set truncate in the field mapping."
    )


def to_text(value, transform=None):
    """Format one scalar value as text: numbers without exponent, dates as ISO 8601, booleans as true/false."""
    transform = transform or {}
    date_format = transform.get("date_format")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return to_datetime(value).strftime(date_format) if date_format else iso_datetime(value)
    if isinstance(value, date):
        return value.strftime(date_format) if date_format else value.isoformat()
    if isinstance(value, int | float | Decimal):
        return decimal_text(Decimal(str(value)))
    if _is_money(value):
        amount, currency = parse_money(value)
        return format_money(amount, currency)
    return str(value)


def _to_email(value, destination, transform):
    email = normalize_email(value)
    if email is None:
        raise mismatch(value, destination, "it is not a valid address")
    return email


def _to_number(value, destination, transform):
    if _is_money(value):
        try:
            number, _currency = parse_money(value)
        except MoneyParseError as error:
            raise mismatch(value, destination, str(error)) from None
    else:
        number = to_decimal(value, destination)
    return _scaled(number, transform)


def to_decimal(value, destination: FieldSpec):
    """Return a number or numeric string as a finite Decimal, or raise ConversionError."""
    if isinstance(value, bool):
        raise mismatch(value, destination, "it is a boolean")
    if isinstance(value, str):
        if not NUMBER_STRING.match(value.strip()):
            raise mismatch(value, destination, "it is not a plain number")
        number = Decimal(value.strip())
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    else:
        raise mismatch(value, destination, f"it is a {type(value).__name__}")
    if not number.is_finite():
        raise mismatch(value, destination, "it is not a finite number")
    return number


def _to_money(value, destination, transform):
    try:
        if _is_money(value):
            amount, currency = parse_money(value)
        else:
            if not transform.get("currency"):
                raise mismatch(value, destination, "it has no currency; set currency in the field mapping")
            amount, currency = to_decimal(value, destination), normalize_currency(transform["currency"])
    except MoneyParseError as error:
        raise mismatch(value, destination, str(error)) from None
    return {"amount": _scaled(amount, transform), "currency": currency}


def _scaled(number, transform):
    scale = transform.get("scale")
    if scale is None:
        return number
    return number * Decimal(str(scale))


def _to_boolean(value, destination, transform):
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise mismatch(value, destination, "it is not a yes/no value")


def _to_date(value, destination, transform):
    try:
        return to_date(value, transform.get("date_format"), transform.get("epoch_unit"))
    except DateParseError as error:
        raise mismatch(value, destination, str(error)) from None


def _to_datetime(value, destination, transform):
    try:
        return to_datetime(value, transform.get("date_format"), transform.get("epoch_unit"))
    except DateParseError as error:
        raise mismatch(value, destination, str(error)) from None


def _is_money(value):
    return isinstance(value, dict) and "amount" in value and "currency" in value


CONVERTERS = {
    FieldType.STRING: _to_string,
    FieldType.EMAIL: _to_email,
    FieldType.NUMBER: _to_number,
    FieldType.MONEY: _to_money,
    FieldType.BOOLEAN: _to_boolean,
    FieldType.DATE: _to_date,
    FieldType.DATETIME: _to_datetime,
    FieldType.ENUMERATION: to_enumeration,
    FieldType.MULTI_SELECT: to_multi_select,
}
