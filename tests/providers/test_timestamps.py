"""Epoch timestamps written as ISO 8601 text in UTC give the text datetime gives."""

from datetime import UTC, datetime

import pytest

from connections.providers.timestamps import iso_date, iso_milliseconds, iso_seconds

SECONDS = [0, 1, 59, 86_399, 86_400, 951_782_400, 1_733_270_399, 1_733_270_400, 253_402_300_799, -1, -86_401]


@pytest.mark.parametrize("seconds", SECONDS)
def test_seconds_as_date_and_datetime(seconds):
    moment = datetime.fromtimestamp(seconds, tz=UTC)

    assert iso_date(seconds) == moment.date().isoformat()
    assert iso_seconds(seconds) == moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("seconds", SECONDS[:-2])
def test_milliseconds_as_datetime(seconds):
    milliseconds = seconds * 1000 + 7

    assert iso_milliseconds(milliseconds) == datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace(
        "+00:00", ".007Z"
    )


def test_milliseconds_exact_where_float_division_rounds():
    # 68706055245534 / 1000 as a float is just below .534, so datetime shows .533.
    assert iso_milliseconds(68_706_055_245_534) == "4147-03-17T23:20:45.534Z"
