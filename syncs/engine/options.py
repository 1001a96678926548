"""
Convert values into enumeration and multi-select options.

Values match an option by its internal value, exactly, after trimming. The
value map of the transform is applied to each item of a multi-select.
"""

from decimal import Decimal

from .errors import mismatch
from .transforms import decimal_text, map_value

MULTI_SELECT_SEPARATOR = ";"


def to_enumeration(value, destination, transform):
    """Return a value as one option of the destination, or raise ConversionError."""
    option = _option_text(value, destination)
    _check_options([option], value, destination)
    return option


def to_multi_select(value, destination, transform):
    """Return a list or separated string as distinct options of the destination, or raise ConversionError."""
    if isinstance(value, str):
        separator = MULTI_SELECT_SEPARATOR if MULTI_SELECT_SEPARATOR in value else ","
        items = value.split(separator)
    elif isinstance(value, list | tuple | set | frozenset):
        items = ordered(value)
    else:
        items = [value]

    options = []
    for item in items:
        item = map_value(item, transform.get("value_map"))
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        option = _option_text(item, destination)
        if option not in options:
            options.append(option)
    _check_options(options, value, destination)
    return options or None


def _option_text(value, destination):
    if isinstance(value, dict | list | tuple | set | frozenset):
        raise mismatch(value, destination, "it contains more than one value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            raise mismatch(value, destination, "it is not a finite number")
        return decimal_text(number)
    return str(value).strip()


def _check_options(options, value, destination):
    if not destination.options:
        return
    invalid = [option for option in options if option not in destination.options]
    if not invalid:
        return

    allowed = ", ".join(destination.options)
    labels = {label.casefold(): internal for internal, label in destination.options.items()}
    hints = [
        f"{option!r} is the label of {labels[option.casefold()]!r}"
        for option in invalid
        if option.casefold() in labels
    ]
    reason = f"{', '.join(repr(option) for option in invalid)} is not an option (allowed values are {allowed})"
    if hints:
        reason += f"; {'; '.join(hints)}, so add it to the field mapping's value map"
    raise mismatch(value, destination, reason)


def ordered(items):
    """Return a collection's items as a list, sorting sets so that every run writes the same text."""
    if isinstance(items, set | frozenset):
        return sorted(items, key=str)
    return list(items)
