"""
Check a field mapping's transform before it is saved.

A transform is None or a dict with any of these keys:

- "value_map": {source value: destination value}, both strings. Applied
  before conversion to a single value, or to each item of a multi-select.
  A source value is looked up as its text ("true"/"false" for booleans,
  "12.5" for numbers), first exactly, then ignoring case. A target of ""
  clears the destination field. Targets for an enumeration or multi-select
  destination must be option values, not labels.
- "truncate": true cuts a string longer than the destination's max_length
  down to that length instead of failing the record.
- "scale": a number that multiplies numeric and money amounts, for a unit
  change (0.01 turns cents into dollars, 12 turns a monthly amount into a
  yearly one).
- "currency": the three-letter currency of plain numbers written into a
  money destination.
- "date_format": a strptime/strftime pattern ("%m/%d/%Y") used to read date
  strings from the source and to write dates into string destinations.
- "epoch_unit": "seconds" or "milliseconds", to read epoch numbers in that
  unit instead of guessing it from their size.
"""

from decimal import Decimal, InvalidOperation

from connections.providers.types import FieldSpec, FieldType

from .dates import EPOCH_UNITS

TRANSFORM_KEYS = ("value_map", "truncate", "scale", "currency", "date_format", "epoch_unit")


def validate_transform(transform):
    """Return a list of error messages for a transform's shape; an empty list means it is valid."""
    if transform is None:
        return []
    if not isinstance(transform, dict):
        return [f"A transform must be an object with the keys {', '.join(TRANSFORM_KEYS)}; got {transform!r}."]

    errors = [
        f"Unknown transform key {key!r}; use one of {', '.join(TRANSFORM_KEYS)}."
        for key in transform
        if key not in TRANSFORM_KEYS
    ]
    value_map = transform.get("value_map")
    if value_map is not None and not (
        isinstance(value_map, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value_map.items())
    ):
        errors.append("value_map must map source values to destination values, both as text.")
    if "truncate" in transform and not isinstance(transform["truncate"], bool):
        errors.append(f"truncate must be true or false; got {transform['truncate']!r}.")
    if "scale" in transform and not _is_finite_number(transform["scale"]):
        errors.append(f"scale must be a number, such as 0.01 to turn cents into dollars; got {transform['scale']!r}.")
    currency = transform.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        errors.append(f"currency must be a three-letter code such as usd; got {currency!r}.")
    date_format = transform.get("date_format")
    if date_format is not None and not (isinstance(date_format, str) and "%" in date_format):
        errors.append(f"date_format must be a strptime pattern such as %m/%d/%Y; got {date_format!r}.")
    unit = transform.get("epoch_unit")
    if unit is not None and unit not in EPOCH_UNITS:
        errors.append(f"epoch_unit must be seconds or milliseconds; got {unit!r}.")
    return errors


def validate_value_map(value_map, destination: FieldSpec):
    """Return a list of error messages for value map targets that aren't options of `destination`."""
    if not value_map:
        return []
    if destination.type not in (FieldType.ENUMERATION, FieldType.MULTI_SELECT) or not destination.options:
        return []

    labels = {label.casefold(): value for value, label in destination.options.items()}
    allowed = ", ".join(destination.options)
    errors = []
    for source_value, target in value_map.items():
        if target == "" or target in destination.options:
            continue
        hint = f"allowed values are {allowed}"
        if isinstance(target, str) and target.casefold() in labels:
            hint = f"{target!r} is the label of the option {labels[target.casefold()]!r}; map to that value instead"
        errors.append(
            f"The value map sends {source_value!r} to {target!r}, which is not an option of "
            f"{destination.label} ({destination.name}): {hint}."
        )
    return errors


def map_value(value, value_map):
    """Return the value map's target for `value`, or `value` itself when the map has no entry for it."""
    if not value_map:
        return value
    text = value_text(value)
    if text is None:
        return value
    if text in value_map:
        return value_map[text]
    folded = {key.casefold(): target for key, target in value_map.items()}
    return folded.get(text.casefold(), value)


def value_text(value):
    """Return the text a value map looks up for a scalar value, or None for other values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            return None
        return decimal_text(number)
    return None


def decimal_text(number):
    """Format a Decimal without exponent or trailing zeros, as in "12.5" or "1200"."""
    text = f"{number.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _is_finite_number(value):
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return False
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return False
