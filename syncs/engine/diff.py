"""
Compare converted values with a destination record's current values.

Tools return values in their own wire form (HubSpot returns every property
as a string: "12.5", "true", "1733270400000", "vip;beta"), so both sides are
brought to one comparable form of the destination field's type first:

- None, "", blank strings and empty lists are all the same empty value.
- Numbers compare as decimals, so Decimal("12.50") equals "12.5".
- Money compares by amount, and by currency when both sides have one.
- Dates compare as UTC calendar dates, so date(2024, 12, 4) equals
  "1733270400000" and "2024-12-04". Datetimes compare as whole epoch
  milliseconds, the precision HubSpot stores. Epoch numbers in current
  values follow the same size rule as source values, so a millisecond value
  below 1e11 (before March 1973) reads as seconds.
- Multi-select values compare as sets, so "beta;vip" equals ["vip", "beta"].
- Emails compare after normalisation, so case doesn't count.
- Strings compare exactly.
- A current value that can't be read as the field's type never equals a
  desired value, so it gets overwritten.

Echo rule: a mapping in the other direction may have written into a source
field. When the source value still equals what this sync last wrote there,
it is the sync's own write coming back, not a new change, so it is not
written onward.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from connections.providers.types import FieldSpec, FieldType

from .conversion import ConversionError, convert, is_empty
from .dates import epoch_milliseconds
from .matching import normalize_email
from .money import MoneyParseError, parse_money

# A money value that is neither empty nor readable as an amount.
UNREADABLE = object()
AMOUNT_FIELD = FieldSpec(name="amount", label="Amount", type=FieldType.NUMBER)
# Value types whose equal values have one comparable form for every field
# type. datetime is left out, because equal datetimes in two time zones
# format as different text.
CACHED_VALUE_TYPES = frozenset({str, int, float, bool, Decimal, date})
# Lenient copies of the field specs compared, by id of the original, each
# stored with the original so that an id is never reused while it is cached.
_LENIENT_FIELDS = {}
_LENIENT_FIELDS_MAX = 1024


def comparable(value, field: FieldSpec):
    """Return a form of `value` that is equal for equal values of the field's type; None means empty."""
    if is_empty(value):
        return None
    if field.type == FieldType.EMAIL:
        return normalize_email(value) or _unreadable(value)

    if type(value) in CACHED_VALUE_TYPES:
        return _comparable_scalar(field.type, type(value), value)
    return _comparable_converted(value, _lenient(field))


@lru_cache(maxsize=8192)
def _comparable_scalar(field_type, _value_type, value):
    # Without options and length limits, the comparable form depends on
    # the field's type alone. The value's type is part of the key, because
    # True, 1 and 1.0 are equal keys that convert differently.
    return _comparable_converted(value, _generic_field(field_type))


@lru_cache(maxsize=None)
def _generic_field(field_type):
    return FieldSpec(name="value", label="Value", type=field_type)


def _comparable_converted(value, lenient):
    try:
        converted = convert(value, lenient, lenient)
    except (ConversionError, MoneyParseError):
        return _unreadable(value)

    if isinstance(converted, Decimal):
        return converted.normalize()
    if isinstance(converted, datetime):
        return epoch_milliseconds(converted)
    if isinstance(converted, list):
        return frozenset(converted)
    return converted


def _lenient(field):
    """Return the field without options and length limit, which decide what may be written, not what a value means."""
    cached = _LENIENT_FIELDS.get(id(field))
    if cached is not None and cached[0] is field:
        return cached[1]
    if len(_LENIENT_FIELDS) >= _LENIENT_FIELDS_MAX:
        _LENIENT_FIELDS.clear()
    lenient = replace(field, options={}, max_length=None)
    _LENIENT_FIELDS[id(field)] = (field, lenient)
    return lenient


def values_equal(desired, current, field: FieldSpec):
    """Check whether two values of a field mean the same thing (see the module rules)."""
    if field.type == FieldType.MONEY:
        return _money_equal(desired, current)
    return comparable(desired, field) == comparable(current, field)


def diff_values(desired: Mapping, current: Mapping, fields: Mapping[str, FieldSpec]):
    """Return the desired values, by field name, that differ from the current ones."""
    changed = {}
    for name, value in desired.items():
        if not values_equal(value, current.get(name), fields[name]):
            changed[name] = value
    return changed


def is_echo(source_value, written: Mapping, field: FieldSpec):
    """
    Check whether a source value is this sync's own earlier write coming back.

    `written` maps the source record's field names to the values this sync
    last wrote into them; `field` is the source field. A field the sync never
    wrote into is never an echo.
    """
    if field.name not in written:
        return False
    return values_equal(source_value, written[field.name], field)


def _money_equal(desired, current):
    left, right = _money_parts(desired), _money_parts(current)
    if left is None or right is None:
        return left is right
    if left is UNREADABLE or right is UNREADABLE:
        return False
    (left_amount, left_currency), (right_amount, right_currency) = left, right
    if left_currency and right_currency and left_currency != right_currency:
        return False
    return left_amount == right_amount


def _money_parts(value):
    """Return (amount, currency or None) of a money value or a plain number, None when empty."""
    if is_empty(value):
        return None
    if isinstance(value, dict):
        try:
            return parse_money(value)
        except MoneyParseError:
            return UNREADABLE
    number = comparable(value, AMOUNT_FIELD)
    if not isinstance(number, Decimal):
        return UNREADABLE
    return number, None


def _unreadable(value):
    # A tagged tuple never equals any converted value.
    return ("unreadable", repr(value))
