"""
Read dates and datetimes from the forms the tools send, always in UTC.

Rules:

- An epoch number whose absolute value is at least 1e11 is milliseconds, and
  a smaller one is seconds. 1e11 seconds is the year 5138 and 1e11
  milliseconds is 3 March 1973, so the rule holds for seconds up to the year
  5138 and for milliseconds from March 1973 on. A mapping can name the unit
  outright with the transform key "epoch_unit".
- Numeric strings ("1733312345") are epoch numbers too.
- Other strings are ISO 8601 dates or datetimes ("2024-12-04",
  "2024-12-04T11:39:05Z", "2024-12-04T12:39:05+01:00"), unless the mapping
  gives a strptime pattern in the transform key "date_format".
- A datetime without an offset is taken to be UTC, and so is a naive
  datetime object.
- A date-only result is the UTC calendar date of the instant. Nothing here
  reads the server's local time zone.
"""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECONDS_THRESHOLD = Decimal(10**11)
EPOCH_UNITS = ("seconds", "milliseconds")
NUMERIC_STRING = re.compile(r"^[+-]?\d+(\.\d+)?$")


class DateParseError(ValueError):
    """A value that is not a date or datetime. The message gives the reason."""


def to_datetime(value, date_format=None, epoch_unit=None):
    """Return `value` as an aware datetime in UTC, or raise DateParseError."""
    if isinstance(value, bool):
        raise DateParseError("a boolean is not a date")
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal):
        return from_epoch(value, epoch_unit)
    if not isinstance(value, str):
        raise DateParseError(f"a {type(value).__name__} is not a date")

    text = value.strip()
    if NUMERIC_STRING.match(text):
        return from_epoch(Decimal(text), epoch_unit)
    if date_format:
        try:
            return _as_utc(datetime.strptime(text, date_format))
        except ValueError:
            raise DateParseError(f"it doesn't match the date format {date_format!r}") from None
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise DateParseError("it is neither an ISO 8601 date nor an epoch number") from None


def to_date(value, date_format=None, epoch_unit=None):
    """Return the UTC calendar date of `value`, or raise DateParseError."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return to_datetime(value, date_format, epoch_unit).date()


def from_epoch(number, unit=None):
    """Return the UTC datetime of an epoch number in seconds or milliseconds (see the module rules)."""
    try:
        amount = Decimal(str(number)) if isinstance(number, float) else Decimal(number)
    except InvalidOperation:
        raise DateParseError("it is not a number") from None
    if not amount.is_finite():
        raise DateParseError("it is not a finite number")

    if unit is None:
        unit = "milliseconds" if abs(amount) >= MILLISECONDS_THRESHOLD else "seconds"
    per_second = 1000 if unit == "milliseconds" else 1
    microseconds = int((amount * 1_000_000 / per_second).to_integral_value())
    try:
        return EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        raise DateParseError("it is outside the years 1 to 9999") from None


def epoch_milliseconds(value):
    """Return a date (at midnight UTC) or datetime as whole epoch milliseconds."""
    instant = to_datetime(value)
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso_datetime(value):
    """Format a datetime in UTC as ISO 8601 with a "Z" suffix, keeping milliseconds only when present."""
    instant = to_datetime(value)
    if instant.microsecond:
        return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return instant.isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_utc(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
