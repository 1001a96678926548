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


SYNC_NAMES = [
    "Stripe customers → HubSpot contacts",
    "Zendesk users → HubSpot contacts",
    "Stripe customers → Mailchimp audience",
]


@pytest.fixture(scope="module")
def runs(django_db_setup, django_db_blocker):
    output = StringIO()
    with django_db_blocker.unblock():
        call_command("demo", once=True, json=True, sandbox_port=0, stdout=output)
    return [json.loads(line) for line in output.getvalue().splitlines()]


@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
def test_demo_once_prints_two_runs_per_sync(runs):
    assert [run["sync"] for run in runs] == [name for name in SYNC_NAMES for _ in range(2)]


@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("position", range(3))
def test_demo_first_run_writes(runs, position):
    first = runs[2 * position]
    assert EXPECTED_KEYS <= set(first)
    assert first["read"] > 0
    assert first["updated"] > 0
    assert first["api_calls"]["write"] > 0


@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("position", range(3))
def test_demo_second_run_writes_nothing(runs, position):
    second = runs[2 * position + 1]
    assert second["api_calls"]["write"] == 0
    assert second["updated"] == 0


@pytest.mark.live_http
@pytest.mark.django_db(transaction=True)
def test_demo_runs_show_expected_failures(runs):
    stripe_hubspot, zendesk_hubspot, stripe_mailchimp = runs[0], runs[2], runs[4]
    assert stripe_hubspot["failures_by_category"].get("type_mismatch", 0) > 0
    assert stripe_hubspot["failures_by_category"].get("missing_email", 0) > 0
    assert zendesk_hubspot["failures_by_category"].get("missing_email", 0) > 0
    assert stripe_mailchimp["failures_by_category"].get("type_mismatch", 0) > 0
