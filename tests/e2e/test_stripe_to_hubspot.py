"""A Stripe to HubSpot sync over mocked HTTP, served by the sandbox in process."""

import json

import pytest
import responses

from syncs.demo import reset_demo_workspace, run_once
from syncs.models import FieldChange, RecordState
from tests.sandbox_mock import SANDBOX_URL, mock_sandbox


@pytest.fixture
def sandbox(db):
    return mock_sandbox(customers=60, contacts=55, seed=7)


@pytest.fixture
def sync(sandbox):
    _workspace, syncs = reset_demo_workspace(SANDBOX_URL)
    return syncs[0]


def hubspot_writes():
    return [call for call in responses.calls if call.request.url.endswith("/contacts/batch/update")]


def test_first_run_writes_changed_fields_only(sync, sandbox):
    run = run_once(sync)

    changes = list(FieldChange.objects.filter(run=run))
    assert run.updated_count > 0
    assert run.unchanged_count > 0
    assert changes
    assert all(change.old_value != change.new_value for change in changes)
    sent = [item for call in hubspot_writes() for item in json.loads(call.request.body)["inputs"]]
    assert sum(len(item["properties"]) for item in sent) == len(changes)


def test_second_run_makes_zero_write_calls(sync, sandbox):
    run_once(sync)
    writes_after_first = len(hubspot_writes())

    second = run_once(sync)

    assert len(hubspot_writes()) == writes_after_first
    assert second.api_calls.get("write", 0) == 0
    assert second.updated_count == 0


def test_one_changed_field_writes_exactly_that_field(sync, sandbox):
    run_once(sync)
    account = sandbox.state.stripe_account()
    state = next(
        state
        for state in RecordState.objects.filter(sync=sync).exclude(record_id_b="")
        if _active_known_plan(account, state.record_id_a)
    )
    subscription_id = account.subscriptions_by_customer[state.record_id_a][0]
    writes_before = len(hubspot_writes())

    account.update_subscription(subscription_id, status="past_due")
    run = run_once(sync)

    new_writes = hubspot_writes()[writes_before:]
    inputs = [item for call in new_writes for item in json.loads(call.request.body)["inputs"]]
    assert len(new_writes) == 1
    assert inputs == [{"id": state.record_id_b, "properties": {"subscription_status": "past_due"}}]
    assert run.updated_count == 1


def _active_known_plan(account, customer_id):
    subscription_ids = account.subscriptions_by_customer.get(customer_id) or []
    if len(subscription_ids) != 1:
        return False
    subscription = account.subscriptions.get(subscription_ids[0])
    price = account.prices.get(subscription.price)
    return subscription.status == "active" and not price["nickname"].startswith("Enterprise")
