"""
Alerts to a workspace's owners and admins, by email and optionally Slack.

A run that fails as a whole and a connection that needs re-authorisation
alert at once. Record failures are gathered into a digest per workspace,
never one message per record.
"""

import logging
from collections import Counter, defaultdict

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from connections.providers.types import FAILURE_LABELS, FailureCategory

logger = logging.getLogger(__name__)

SLACK_TIMEOUT = (5, 10)


def notify(workspace, subject, body):
    """Email `subject` and `body` to the workspace's owners and admins, and post them to its Slack webhook."""
    recipients = workspace.alert_recipients()
    if recipients:
        send_mail(f"[Oneprofile] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    if workspace.slack_webhook_url:
        post_to_slack(workspace, f"*{subject}*\n{body}")


def post_to_slack(workspace, text):
    try:
        response = requests.post(workspace.slack_webhook_url, json={"text": text}, timeout=SLACK_TIMEOUT)
    except requests.RequestException as exc:
        logger.warning("Slack alert for workspace %s failed: %s", workspace.pk, type(exc).__name__)
        return False
    if response.status_code >= 400:
        logger.warning("Slack alert for workspace %s failed with HTTP %s", workspace.pk, response.status_code)
        return False
    return True


def absolute(path):
    return settings.SITE_URL + path


def alert_run_failed(run):
    sync = run.sync
    body = (
        f"The sync {sync.name} could not run: {run.error}\n\n"
        f"Open the sync: {absolute(sync.get_absolute_url())}\n"
    )
    if sync.status == sync.Status.BLOCKED:
        body += "Scheduled runs are paused until this is fixed.\n"
    notify(sync.workspace, f"Sync {sync.name} failed", body)


def alert_connection_needs_reauth(connection):
    body = (
        f"{connection.last_error or connection.reauth_message()}\n\n"
        f"Reconnect it: {absolute(connection.get_absolute_url())}\n"
    )
    notify(connection.workspace, f"Reconnect {connection.display_name}", body)


def send_failure_digests():
    """Send one digest per workspace of the record failures no digest has announced yet; returns the count sent."""
    from syncs.models import RecordFailure

    with transaction.atomic():
        failures = list(
            RecordFailure.objects.select_for_update(skip_locked=True)
            .filter(notified_at__isnull=True, status=RecordFailure.Status.OPEN)
            .select_related("sync__workspace")
        )
        if not failures:
            return 0
        by_workspace = defaultdict(list)
        for failure in failures:
            by_workspace[failure.sync.workspace].append(failure)
        RecordFailure.objects.filter(pk__in=[failure.pk for failure in failures]).update(notified_at=timezone.now())
    for workspace, workspace_failures in by_workspace.items():
        lines = []
        by_sync = defaultdict(Counter)
        syncs = {}
        for failure in workspace_failures:
            by_sync[failure.sync_id][failure.category] += 1
            syncs[failure.sync_id] = failure.sync
        for sync_id, categories in by_sync.items():
            sync = syncs[sync_id]
            summary = ", ".join(
                f"{count} {FAILURE_LABELS[FailureCategory(category)].lower()}" for category, count in categories.most_common()
            )
            failures_url = absolute(reverse("syncs:failures", args=[workspace.public_id, sync.public_id]))
            lines.append(f"- {sync.name}: {summary}\n  {failures_url}")
        total = len(workspace_failures)
        notify(
            workspace,
            f"{total} new record failure{'s' if total != 1 else ''}",
            "These records could not be written:\n\n" + "\n".join(lines) + "\n\nEach can be retried from the failures page.\n",
        )
    return len(by_workspace)
