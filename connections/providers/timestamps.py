"""
Epoch timestamps as ISO 8601 text in UTC.

A full read formats a few timestamps per record (customer since, renewal
date, HubSpot's modification times), and datetime.fromtimestamp with
isoformat costs several microseconds each. Here the date comes from a cache
by day and the time of day from arithmetic, with the same text as a result.
"""

from datetime import date, timedelta
from functools import lru_cache

UNIX_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=16384)
def day_text(days):
    """Return the date `days` after 1970-01-01 as "YYYY-MM-DD"."""
    return (UNIX_EPOCH + timedelta(days=days)).isoformat()


def iso_date(seconds):
    """Return the UTC date of whole Unix seconds as "YYYY-MM-DD"."""
    return day_text(int(seconds) // 86400)


def iso_seconds(seconds):
    """Return whole Unix seconds as "YYYY-MM-DDTHH:MM:SSZ"."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    return f"{day_text(days)}T{hours:02d}:{minutes:02d}:{rest:02d}Z"


def iso_milliseconds(milliseconds):
    """Return whole epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ"."""
    seconds, millis = divmod(int(milliseconds), 1000)
    return f"{iso_seconds(seconds)[:-1]}.{millis:03d}Z"
