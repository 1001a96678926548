import json
from io import StringIO

import pytest
from django.core.management import call_command

EXPECTED_KEYS = {
    "sync",
    "run",
    "read",
    "matched",
    "unmatched",
    "unchanged",
    "updated",
    "created",
    "failed",
    "failures_by_category",
    "api_calls",
}


@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
def test_demo_once_runs_each_sync_twice():
    output = StringIO()

    call_command("demo", once=True, json=True, sandbox_port=0, stdout=output)

    runs = [json.loads(line) for line in output.getvalue().splitlines()]
    first, second = runs[0], runs[1]
    assert len(runs) % 2 == 0
    assert EXPECTED_KEYS <= set(first)
    assert first["read"] > 0
    assert first["updated"] > 0
    assert first["api_calls"]["write"] > 0
    assert second["api_calls"]["write"] == 0
    assert second["updated"] == 0
    assert first["failures_by_category"].get("type_mismatch", 0) > 0
    assert first["failures_by_category"].get("missing_email", 0) > 0
