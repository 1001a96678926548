"""
Stripe webhooks as a run trigger, and the page form that stores their signing secret.

Stripe signs each delivery with the endpoint's signing secret (`whsec_…`)
in the Stripe-Signature header: `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
where each v1 is the hex HMAC-SHA256, keyed with the whole secret, of
`<t>.` followed by the raw request body. The body is verified
as the bytes received, because parsing and re-serialising the JSON changes
its whitespace and breaks every signature. While a secret is being rolled,
Stripe sends one v1 per active secret, so any one that matches is enough.

A verified event queues a run of each active, enabled sync that reads from
the connection. The run reads Stripe's events since its cursor as a
scheduled run does, so the event body itself is only used for the log line.

The signing secret is a credential: it is stored encrypted with the
connection's other credentials under "webhook_secret", is never shown or
logged, and is set only from the connection's page (the REST API has no
field for it).
"""

import hashlib
import hmac
import json
import logging
import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_view
from connections.crypto import CredentialsDecryptionError, encrypt_credentials
from connections.models import Connection

logger = logging.getLogger(__name__)

# The maximum difference between a signature's timestamp and this server's
# clock, which bounds replays of a captured delivery. Stripe's libraries use
# 300 seconds by default (stripe-java's Webhook.Signature.verifyHeader
# documents the tolerance as this difference).
SIGNATURE_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "Stripe-Signature"
SIGNATURE_SCHEME = "v1"
SECRET_KEY = "webhook_secret"
SECRET_PREFIX = "whsec_"
SECRET_MAX_LENGTH = 200
# NOTE: Stripe is the only tool whose webhooks are accepted. Another tool's
# webhooks need their own verification and route.
WEBHOOK_PROVIDERS = frozenset({"stripe"})
UNKNOWN_CONNECTION_MESSAGE = "No Stripe connection has this webhook address. Check the endpoint URL in the Stripe Dashboard."


class SignatureError(Exception):
    """A webhook request whose Stripe-Signature doesn't prove it came from Stripe, with the reason as its message."""


def parse_signature_header(header):
    """Return (timestamp, [v1 signatures]) from a Stripe-Signature header, or raise SignatureError when either is missing."""
    if not header:
        raise SignatureError(
            f"The {SIGNATURE_HEADER} header is missing. Stripe signs every webhook delivery, "
            "so this request did not come from Stripe."
        )
    timestamp = None
    signatures = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == SIGNATURE_SCHEME and value:
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit():
        raise SignatureError(
            f"The {SIGNATURE_HEADER} header has no valid timestamp: it must contain t= and the Unix time in seconds."
        )
    if not signatures:
        raise SignatureError(f"The {SIGNATURE_HEADER} header has no {SIGNATURE_SCHEME}= signature.")
    return int(timestamp), signatures


def verify_stripe_signature(payload, header, secret, now=None, tolerance=SIGNATURE_TOLERANCE_SECONDS):
    """
    Check a Stripe webhook's signature over the raw `payload` bytes and return its timestamp.

    Raises SignatureError when no v1 signature matches or when the
    timestamp is more than `tolerance` seconds before or after `now`.
    """
    timestamp, signatures = parse_signature_header(header)
    signed = f"{timestamp}.".encode() + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureError(
            f"No {SIGNATURE_SCHEME} signature in the {SIGNATURE_HEADER} header matches the request body "
            "and this connection's webhook signing secret. Check that the secret saved on the connection "
            "is the signing secret of this endpoint in the Stripe Dashboard."
        )

    now = time.time() if now is None else now
    age = int(now) - timestamp
    if age > tolerance:
        raise SignatureError(
            f"The {SIGNATURE_HEADER} timestamp {timestamp} is {age} seconds old, more than the "
            f"{tolerance} seconds allowed, so the delivery is rejected as a possible replay."
        )
    if -age > tolerance:
        raise SignatureError(
            f"The {SIGNATURE_HEADER} timestamp {timestamp} is {-age} seconds in the future, more than the "
            f"{tolerance} seconds allowed. Check the clock of this server."
        )
    return timestamp


def syncs_reading_from(connection):
    """Return the active, enabled syncs that have a field mapping whose source is `connection`."""
    from syncs.models import Direction, Sync

    reads_from_connection = Q(connection_a=connection, mappings__direction=Direction.A_TO_B) | Q(
        connection_b=connection, mappings__direction=Direction.B_TO_A
    )
    return (
        Sync.objects.filter(workspace_id=connection.workspace_id, enabled=True, status=Sync.Status.ACTIVE)
        .filter(reads_from_connection)
        .distinct()
        .order_by("pk")
    )


def queue_runs(connection):
    """Queue a run of each sync that reads from `connection` and return the runs, which may be runs already queued."""
    from syncs.models import Run
    from syncs.services import start_run

    runs = []
    for sync in syncs_reading_from(connection):
        # A run already queued or running is returned instead of a second one.
        run, _ = start_run(sync, Run.Trigger.WEBHOOK)
        runs.append(run)
    return runs


def event_summary(payload):
    """Return the (event id, event type) of a verified event body for the log, with "?" for a missing one."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return "?", "?"
    if not isinstance(event, dict):
        return "?", "?"
    return str(event.get("id") or "?")[:100], str(event.get("type") or "?")[:100]


def _webhook_connection(connection_id):
    """Return the Stripe connection with public id `connection_id` (text), or None for a malformed or unknown id."""
    try:
        public_id = uuid.UUID(str(connection_id))
    except ValueError:
        return None
    return Connection.objects.filter(public_id=public_id, provider__in=WEBHOOK_PROVIDERS).first()


def _plain(response_class, text):
    return response_class(text, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def stripe_webhook(request, connection_id):
    """
    Verify a Stripe webhook delivery and queue runs of the syncs that read from its connection.

    Returns 404 for a malformed or unknown connection id alike, 400 with
    the reason for a signature that doesn't verify, and 200 once the runs
    are queued. Stripe retries a delivery that gets no 2xx.
    """
    connection = _webhook_connection(connection_id)
    if connection is None:
        return _plain(HttpResponseNotFound, UNKNOWN_CONNECTION_MESSAGE)

    try:
        secret = connection.get_credentials().get(SECRET_KEY)
    except CredentialsDecryptionError as error:
        logger.error("Stripe webhook for connection %s: %s", connection.pk, error)
        return _plain(HttpResponseBadRequest, "The connection's credentials can't be read. Reconnect Stripe in Oneprofile.")
    if not secret:
        logger.warning("Rejected a Stripe webhook for connection %s: no signing secret is set", connection.pk)
        return _plain(
            HttpResponseBadRequest,
            "This connection has no webhook signing secret, so the delivery can't be verified. "
            "Paste the endpoint's signing secret (whsec_…) on the connection's page in Oneprofile.",
        )

    try:
        verify_stripe_signature(request.body, request.headers.get(SIGNATURE_HEADER, ""), secret)
    except SignatureError as error:
        logger.warning("Rejected a Stripe webhook for connection %s: %s", connection.pk, error)
        return _plain(HttpResponseBadRequest, str(error))

    runs = queue_runs(connection)
    event_id, event_type = event_summary(request.body)
    logger.info(
        "Stripe webhook event %s (%s) for connection %s of workspace %s queued runs %s",
        event_id,
        event_type,
        connection.pk,
        connection.workspace_id,
        [run.pk for run in runs] or "(no sync reads from this connection)",
    )
    return _plain(HttpResponse, f"Received. Runs queued for {len(runs)} sync(s).")


# The signing secret form on the connection's page -----------------------


def clean_webhook_secret(value):
    """Return the secret stripped of surrounding space, or raise ValueError saying what is wrong without quoting it."""
    secret = (value or "").strip()
    where = "Copy it from Developers > Webhooks > your endpoint > Signing secret in the Stripe Dashboard."
    if not secret:
        raise ValueError(f"The webhook signing secret is empty. {where}")
    if not secret.startswith(SECRET_PREFIX) or len(secret) == len(SECRET_PREFIX):
        raise ValueError(f"A Stripe webhook signing secret starts with {SECRET_PREFIX}, and this one doesn't. {where}")
    if len(secret) > SECRET_MAX_LENGTH or any(char.isspace() or not char.isprintable() for char in secret):
        raise ValueError(
            f"The webhook signing secret contains spaces or is longer than {SECRET_MAX_LENGTH} characters, "
            f"so it was not copied whole. {where}"
        )
    return secret


def store_webhook_secret(connection, secret):
    """
    Set (or with an empty `secret`, remove) the connection's webhook signing secret among its encrypted credentials.

    The row is locked while the credentials are rewritten, so a token
    refresh at the same time can't write the old credentials back over the
    secret.
    """
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        credentials = locked.get_credentials()
        if secret:
            credentials[SECRET_KEY] = secret
        else:
            credentials.pop(SECRET_KEY, None)
        # Not set_credentials(): that would clear the access token's expiry.
        locked.encrypted_credentials = encrypt_credentials(credentials)
        locked.save(update_fields=["encrypted_credentials", "updated_at"])
    connection.encrypted_credentials = locked.encrypted_credentials


def has_webhook_secret(connection):
    """Return whether the connection has a webhook signing secret, which is False when its credentials can't be read."""
    try:
        return bool(connection.get_credentials().get(SECRET_KEY))
    except CredentialsDecryptionError:
        return False


def webhook_endpoint_url(connection):
    """Return the absolute address to enter as the endpoint URL in the Stripe Dashboard."""
    return settings.SITE_URL + reverse("webhooks:stripe", args=[connection.public_id])


@workspace_view(manager_only=True)
@require_POST
def webhook_secret(request, workspace, connection_id):
    """Store or remove the webhook signing secret of a Stripe connection, then return to its page."""
    connection = get_object_or_404(Connection, workspace=workspace, public_id=connection_id)
    if connection.provider not in WEBHOOK_PROVIDERS:
        raise Http404(f"{connection.provider_label} webhooks are not accepted, so there is no signing secret to set.")

    removing = bool(request.POST.get("remove"))
    try:
        secret = "" if removing else clean_webhook_secret(request.POST.get("webhook_secret"))
        store_webhook_secret(connection, secret)
    except ValueError as error:
        messages.error(request, f"The signing secret was not saved: {error}")
        return redirect(connection)
    except CredentialsDecryptionError as error:
        logger.error("Connection %s of workspace %s: %s", connection.pk, workspace.pk, error)
        messages.error(request, f"The signing secret was not saved: {error}")
        return redirect(connection)

    action = "removed" if removing else "set"
    logger.info("User %s %s the webhook signing secret of connection %s", request.user.pk, action, connection.pk)
    messages.success(request, f"The webhook signing secret of {connection.display_name} was {action}.")
    return redirect(connection)
