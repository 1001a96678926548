import json

import responses
from django.core import mail

from accounts.models import Membership
from connections.models import Connection
from syncs.alerts import send_failure_digests
from syncs.models import RecordFailure, Run
from syncs.services import start_run

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"


def seed(tools, count):
    for number in range(count):
        tools["billing"].add(f"b{number}", f"p{number}@example.com", plan="pro", seats=number)
        tools["crm"].add(f"c{number}", f"p{number}@example.com", plan="starter", seats=number)


def test_failed_run_emails_owners_and_admins(sync, tools, member):
    Membership.objects.filter(user=member).update(role=Membership.Role.ADMIN)
    Connection.objects.filter(pk=sync.connection_b_id).update(
        status=Connection.Status.NEEDS_REAUTH, last_error="Reconnect the CRM."
    )

    start_run(sync, Run.Trigger.MANUAL)

    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["member@acme.test", "owner@acme.test"]
    assert "Reconnect the CRM." in mail.outbox[0].body


def test_plain_members_get_no_alerts(sync, tools, member):
    Connection.objects.filter(pk=sync.connection_b_id).update(status=Connection.Status.NEEDS_REAUTH)

    start_run(sync, Run.Trigger.MANUAL)

    assert mail.outbox[0].to == ["owner@acme.test"]


def test_failure_digest_is_one_email_for_many_records(sync, tools):
    seed(tools, 4)
    for number in range(4):
        tools["crm"].fail_writes[f"c{number}"] = ("rejected_value", "Rejected")
    start_run(sync, Run.Trigger.MANUAL)
    mail.outbox.clear()

    sent = send_failure_digests()

    assert sent == 1
    assert len(mail.outbox) == 1
    assert "4 new record failures" in mail.outbox[0].subject
    assert "4 rejected value" in mail.outbox[0].body


def test_failure_digest_announces_each_failure_once(sync, tools):
    seed(tools, 2)
    tools["crm"].fail_writes["c0"] = ("rejected_value", "Rejected")
    start_run(sync, Run.Trigger.MANUAL)
    send_failure_digests()
    mail.outbox.clear()

    sent = send_failure_digests()

    assert sent == 0
    assert mail.outbox == []
    assert RecordFailure.objects.filter(notified_at__isnull=True).count() == 0


def test_alert_is_posted_to_slack_webhook(sync, tools, workspace):
    workspace.slack_webhook_url = SLACK_URL
    workspace.save()
    responses.add(responses.POST, SLACK_URL, body="ok")
    Connection.objects.filter(pk=sync.connection_b_id).update(
        status=Connection.Status.NEEDS_REAUTH, last_error="Reconnect the CRM."
    )

    start_run(sync, Run.Trigger.MANUAL)

    posted = json.loads(responses.calls[0].request.body)
    assert "Reconnect the CRM." in posted["text"]


def test_slack_failure_does_not_break_the_run(sync, tools, workspace):
    workspace.slack_webhook_url = SLACK_URL
    workspace.save()
    responses.add(responses.POST, SLACK_URL, status=500)
    Connection.objects.filter(pk=sync.connection_b_id).update(status=Connection.Status.NEEDS_REAUTH)

    run, _ = start_run(sync, Run.Trigger.MANUAL)

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert len(mail.outbox) == 1
