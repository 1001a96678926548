"""
Build the type-mismatch errors of a conversion, naming the value, the field and the expected type.
"""

from connections.providers.types import FailureCategory, FieldSpec, FieldType

SHOWN_VALUE_LENGTH = 60

EXPECTED = {
    FieldType.STRING: "text",
    FieldType.EMAIL: "an email address",
    FieldType.NUMBER: "a number such as 12 or 12.5",
    FieldType.MONEY: "an amount with a currency",
    FieldType.BOOLEAN: "true or false",
    FieldType.DATE: "a date (ISO 8601 or epoch seconds or milliseconds)",
    FieldType.DATETIME: "a date and time (ISO 8601 or epoch seconds or milliseconds)",
    FieldType.ENUMERATION: "one of the field's options",
    FieldType.MULTI_SELECT: "a list of the field's options",
}


class ConversionError(ValueError):
    """A value that can't be written into a destination field."""

    def __init__(self, message, category=FailureCategory.TYPE_MISMATCH):
        super().__init__(message)
        self.category = category
        self.message = message


def mismatch(value, destination: FieldSpec, reason=""):
    """Build a ConversionError naming the value, the field and the expected type."""
    expected = EXPECTED[destination.type]
    message = f"{shown(value)} can't be written to {destination.label} ({destination.name}): expected {expected}"
    if reason:
        message += f", but {reason}"
    return ConversionError(message + ".")


def shown(value):
    """Return a short repr of a value for messages."""
    text = repr(value)
    if len(text) > SHOWN_VALUE_LENGTH:
        text = text[: SHOWN_VALUE_LENGTH - 1] + "…"
    return text
