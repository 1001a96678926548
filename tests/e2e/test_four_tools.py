"""The Zendesk to HubSpot and Stripe to Mailchimp demo syncs over mocked HTTP, served by the sandbox in process."""

import json
from urllib.parse import urlsplit

import pytest
import responses

from sandbox.mailchimp_store import subscriber_hash
from sandbox.state import DEMO_MAILCHIMP_LIST
from syncs.demo import reset_demo_workspace, run_once
from syncs.models import FieldChange, RecordFailure, RecordState
from tests.sandbox_mock import SANDBOX_URL, mock_sandbox


@pytest.fixture
def sandbox(db):
    return mock_sandbox(customers=80, contacts=72, seed=11)


@pytest.fixture
def syncs(sandbox):
    _workspace, syncs = reset_demo_workspace(SANDBOX_URL)
    return {sync.name.split(" ")[0] + " " + sync.name.split("→ ")[1].split(" ")[0]: sync for sync in syncs}


@pytest.fixture
def zendesk_sync(syncs):
    return syncs["Zendesk HubSpot"]


@pytest.fixture
def mailchimp_sync(syncs):
    return syncs["Stripe Mailchimp"]


def calls_to(method, path_end):
    return [
        call for call in responses.calls
        if call.request.method == method and urlsplit(call.request.url).path.endswith(path_end)
    ]


def hubspot_writes():
    return calls_to("POST", "/hubspot/crm/v3/objects/contacts/batch/update")


def mailchimp_writes():
    return calls_to("POST", f"/mailchimp/3.0/lists/{DEMO_MAILCHIMP_LIST}")


def test_demo_creates_three_syncs(syncs):
    assert set(syncs) == {"Stripe HubSpot", "Zendesk HubSpot", "Stripe Mailchimp"}


def test_zendesk_first_run_writes_ticket_facts(zendesk_sync, sandbox):
    run = run_once(zendesk_sync)

    sent = [item for call in hubspot_writes() for item in json.loads(call.request.body)["inputs"]]
    written_fields = {name for item in sent for name in item["properties"]}
    assert run.status in ("succeeded", "partial")
    assert run.updated_count > 0
    assert run.unchanged_count > 0
    assert written_fields <= {"ticket_count", "open_ticket_count", "last_ticket_date"}
    assert sum(len(item["properties"]) for item in sent) == FieldChange.objects.filter(run=run).count()


def test_zendesk_written_counts_match_sandbox_tickets(zendesk_sync, sandbox):
    run_once(zendesk_sync)

    desk = sandbox.state.zendesk_account()
    portal = sandbox.state.hubspot_portal()
    state = RecordState.objects.filter(sync=zendesk_sync).exclude(record_id_b="").first()
    user = desk.users[int(state.record_id_a)]
    tickets = [t for t in desk.tickets.values() if t.requester_id == user.id and t.status != "deleted"]
    contact = portal.stores["contacts"].records[int(state.record_id_b)]
    assert contact.properties.get("ticket_count", "0") == str(len(tickets))


def test_zendesk_user_without_email_is_a_failure(zendesk_sync, sandbox):
    run_once(zendesk_sync)

    assert RecordFailure.objects.filter(sync=zendesk_sync, category="missing_email").exists()


def test_zendesk_second_run_makes_zero_writes(zendesk_sync, sandbox):
    run_once(zendesk_sync)
    writes_after_first = len(hubspot_writes())

    second = run_once(zendesk_sync)

    assert len(hubspot_writes()) == writes_after_first
    assert second.api_calls.get("write", 0) == 0
    assert second.updated_count == 0


def test_zendesk_new_ticket_updates_one_contact(zendesk_sync, sandbox):
    run_once(zendesk_sync)
    desk = sandbox.state.zendesk_account()
    state = RecordState.objects.filter(sync=zendesk_sync).exclude(record_id_b="").first()
    user = desk.users[int(state.record_id_a)]
    writes_before = len(hubspot_writes())

    desk.add_ticket(user, "new", "Refund please", created_at=desk.now())
    # Zendesk's exports leave out the last minute of changes.
    sandbox.state.clock.advance(120)
    run = run_once(zendesk_sync)

    inputs = [item for call in hubspot_writes()[writes_before:] for item in json.loads(call.request.body)["inputs"]]
    assert [item["id"] for item in inputs] == [state.record_id_b]
    assert "ticket_count" in inputs[0]["properties"]
    assert run.updated_count == 1


def test_mailchimp_first_run_writes_merge_fields(mailchimp_sync, sandbox):
    run = run_once(mailchimp_sync)

    members = [member for call in mailchimp_writes() for member in json.loads(call.request.body)["members"]]
    assert run.updated_count > 0
    assert members
    assert all(set(member) <= {"email_address", "merge_fields"} for member in members)
    assert all(set(member["merge_fields"]) <= {"PLAN", "STATUS"} for member in members)


def test_mailchimp_first_run_stores_values_in_audience(mailchimp_sync, sandbox):
    run_once(mailchimp_sync)

    audience = sandbox.state.mailchimp_account().lists[DEMO_MAILCHIMP_LIST]
    first = json.loads(mailchimp_writes()[0].request.body)["members"][0]
    member = audience.members[subscriber_hash(first["email_address"])]
    for tag, value in first["merge_fields"].items():
        assert member.merge_fields[tag] == value


def test_mailchimp_enterprise_plan_is_rejected(mailchimp_sync, sandbox):
    run_once(mailchimp_sync)

    failures = RecordFailure.objects.filter(sync=mailchimp_sync, values__has_key="merge_fields.PLAN")
    assert any("Enterprise" in failure.message for failure in failures)


def test_mailchimp_write_keeps_member_status(mailchimp_sync, sandbox):
    audience = sandbox.state.mailchimp_account().lists[DEMO_MAILCHIMP_LIST]
    before = {member_id: member.status for member_id, member in audience.members.items()}

    run_once(mailchimp_sync)

    after = {member_id: member.status for member_id, member in audience.members.items()}
    assert after == before


def test_mailchimp_second_run_makes_zero_writes(mailchimp_sync, sandbox):
    run_once(mailchimp_sync)
    writes_after_first = len(mailchimp_writes())

    second = run_once(mailchimp_sync)

    assert len(mailchimp_writes()) == writes_after_first
    assert second.api_calls.get("write", 0) == 0
    assert second.updated_count == 0
