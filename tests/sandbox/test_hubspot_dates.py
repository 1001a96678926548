"""The HubSpot sandbox writes epoch milliseconds as HubSpot does: ISO 8601 in UTC, with milliseconds."""

from datetime import UTC, datetime

import pytest

from sandbox.hubspot_store import date_from_ms, iso_from_ms


@pytest.mark.parametrize(
    "ms",
    [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, 1_733_270_400_001, 4_102_444_799_999, -1, -86_400_001],
)
def test_milliseconds_written_as_utc_text(ms):
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)

    assert iso_from_ms(ms) == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    assert date_from_ms(ms) == moment.strftime("%Y-%m-%d")
