"""Stripe webhooks: signature checks on the raw body, the runs they queue, and the signing secret form."""

import hashlib
import hmac
import json
import logging
import time
import uuid

import pytest
from django.test import Client
from django.urls import include, path, reverse

from connections.models import Connection
from connections.webhooks import SIGNATURE_TOLERANCE_SECONDS, SignatureError, verify_stripe_signature
from oneprofile import urls as site_urls
from syncs import services
from syncs.models import Direction, FieldMapping, Run, Sync
from tests.connections.conftest import create_connection

# The site's URLconf, with the webhook routes added when it doesn't include them itself.
urlpatterns = list(site_urls.urlpatterns)
if not any(getattr(pattern, "namespace", None) == "webhooks" for pattern in urlpatterns):
    urlpatterns.append(path("", include("connections.webhook_urls")))

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SECRET = "whsec_test_secret"
OTHER_SECRET = "whsec_rolled_secret"
API_KEY = "rk_test_51Webhooks0000000000000000"
# Stripe sends pretty-printed JSON, and its exact bytes are what is signed.
RAW_BODY = (
    b'{\n  "id": "evt_1Q",\n  "object": "event",\n  "type": "customer.updated",\n'
    b'  "data": {\n    "object": {\n      "id": "cus_W1",\n      "email": "wendy@example.com"\n    }\n  }\n}'
)


def signature(body, secret=SECRET, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return timestamp, digest


def header(body, secret=SECRET, timestamp=None):
    timestamp, digest = signature(body, secret, timestamp)
    return f"t={timestamp},v1={digest}"


def webhook_url(connection_id):
    return reverse("webhooks:stripe", args=[connection_id])


def secret_url(connection):
    return reverse("webhooks:secret", args=[connection.workspace.public_id, connection.public_id])


def deliver(client, connection_id, body=RAW_BODY, signature_header=None):
    headers = {} if signature_header is None else {"Stripe-Signature": signature_header}
    return client.post(webhook_url(connection_id), data=body, content_type="application/json", headers=headers)


@pytest.fixture
def stripe_connection(workspace, owner):
    connection = Connection(
        workspace=workspace,
        provider="stripe",
        display_name="Acme Stripe",
        account_id="acct_1Webhooks",
        auth_method=Connection.AuthMethod.API_KEY,
        created_by=owner,
    )
    connection.set_credentials({"api_key": API_KEY, "webhook_secret": SECRET})
    connection.save()
    return connection


@pytest.fixture
def other_connection(workspace):
    return create_connection(workspace, display_name="Faketool CRM")


def make_sync(connection_a, connection_b, direction=Direction.A_TO_B, **fields):
    sync = Sync.objects.create(
        workspace=connection_a.workspace,
        name=fields.pop("name", "Stripe to CRM"),
        connection_a=connection_a,
        object_a="customers",
        connection_b=connection_b,
        object_b="contact",
        **fields,
    )
    FieldMapping.objects.create(sync=sync, direction=direction, source_field="email", destination_field="email")
    return sync


@pytest.fixture
def sync(stripe_connection, other_connection):
    return make_sync(stripe_connection, other_connection)


@pytest.fixture
def enqueued(monkeypatch):
    """Record the runs handed to the task queue instead of queueing them."""
    runs = []
    monkeypatch.setattr(services, "enqueue", runs.append)
    return runs


@pytest.fixture
def stripe_client():
    """A client without a session that enforces CSRF, as Stripe's deliveries are."""
    return Client(enforce_csrf_checks=True)


# Signature checks ---------------------------------------------------------------


def test_known_signature_verifies():
    # v1 = HMAC-SHA256("whsec_test_secret", "1733312345." + RAW_BODY), checked 55 seconds later.
    signed = "t=1733312345,v1=b940e4203bdbfd71eae3c871385c4c7799307daace6d1d32944316664caec3a4"

    assert verify_stripe_signature(RAW_BODY, signed, SECRET, now=1733312400) == 1733312345


def test_known_signature_of_reserialised_body_fails():
    signed = "t=1733312345,v1=b940e4203bdbfd71eae3c871385c4c7799307daace6d1d32944316664caec3a4"
    compact = json.dumps(json.loads(RAW_BODY), separators=(",", ":")).encode()

    with pytest.raises(SignatureError):
        verify_stripe_signature(compact, signed, SECRET, now=1733312400)


@pytest.mark.parametrize(
    "signed, words",
    [
        ("", "header is missing"),
        ("v1=abc", "no valid timestamp"),
        ("t=soon,v1=abc", "no valid timestamp"),
        ("t=1733312345", "no v1= signature"),
        ("t=1733312345,v0=abc", "no v1= signature"),
    ],
)
def test_malformed_header_names_problem(signed, words):
    with pytest.raises(SignatureError) as caught:
        verify_stripe_signature(RAW_BODY, signed, SECRET, now=1733312400)

    assert words in str(caught.value)


def test_timestamp_at_tolerance_accepted():
    timestamp = 1733312345
    signed = header(RAW_BODY, timestamp=timestamp)

    assert verify_stripe_signature(RAW_BODY, signed, SECRET, now=timestamp + SIGNATURE_TOLERANCE_SECONDS) == timestamp


# Deliveries ---------------------------------------------------------------------


def test_valid_signature_queues_one_run(stripe_client, stripe_connection, sync, enqueued):
    response = deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY))

    assert response.status_code == 200
    assert Run.objects.filter(sync=sync).count() == 1
    assert Run.objects.get(sync=sync).trigger == Run.Trigger.WEBHOOK
    assert [run.sync_id for run in enqueued] == [sync.pk]


def test_second_delivery_joins_queued_run(stripe_client, stripe_connection, sync, enqueued):
    deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY))

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY))

    assert response.status_code == 200
    assert Run.objects.filter(sync=sync).count() == 1
    assert len(enqueued) == 1


def test_reserialised_body_rejected(stripe_client, stripe_connection, sync, enqueued):
    compact = json.dumps(json.loads(RAW_BODY), separators=(",", ":")).encode()

    response = deliver(stripe_client, stripe_connection.public_id, body=compact, signature_header=header(RAW_BODY))

    assert response.status_code == 400
    assert "No v1 signature" in response.content.decode()
    assert Run.objects.count() == 0
    assert enqueued == []


def test_changed_byte_rejected(stripe_client, stripe_connection, sync, enqueued):
    changed = RAW_BODY.replace(b"wendy", b"wendi")

    response = deliver(stripe_client, stripe_connection.public_id, body=changed, signature_header=header(RAW_BODY))

    assert response.status_code == 400
    assert Run.objects.count() == 0


def test_wrong_secret_rejected(stripe_client, stripe_connection, sync, enqueued):
    signed = header(RAW_BODY, secret="whsec_someone_else")

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=signed)

    assert response.status_code == 400
    assert Run.objects.count() == 0


def test_old_timestamp_rejected(stripe_client, stripe_connection, sync, enqueued):
    signed = header(RAW_BODY, timestamp=int(time.time()) - SIGNATURE_TOLERANCE_SECONDS - 60)

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=signed)

    assert response.status_code == 400
    assert "seconds old" in response.content.decode()
    assert Run.objects.count() == 0


def test_future_timestamp_rejected(stripe_client, stripe_connection, sync, enqueued):
    signed = header(RAW_BODY, timestamp=int(time.time()) + SIGNATURE_TOLERANCE_SECONDS + 60)

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=signed)

    assert response.status_code == 400
    assert "in the future" in response.content.decode()
    assert Run.objects.count() == 0


def test_one_valid_v1_among_several_accepted(stripe_client, stripe_connection, sync, enqueued):
    # While a secret is rolled, Stripe signs with the old and the new one.
    timestamp, old_digest = signature(RAW_BODY, secret=OTHER_SECRET)
    _, digest = signature(RAW_BODY, timestamp=timestamp)
    signed = f"t={timestamp},v1={old_digest},v1={digest},v0=ignored"

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=signed)

    assert response.status_code == 200
    assert Run.objects.filter(sync=sync).count() == 1


def test_missing_signature_header_rejected(stripe_client, stripe_connection, sync, enqueued):
    response = deliver(stripe_client, stripe_connection.public_id)

    assert response.status_code == 400
    assert "Stripe-Signature header is missing" in response.content.decode()
    assert Run.objects.count() == 0


def test_connection_without_secret_rejected(stripe_client, stripe_connection, sync, enqueued):
    stripe_connection.set_credentials({"api_key": API_KEY})
    stripe_connection.save()

    response = deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY))

    assert response.status_code == 400
    assert "no webhook signing secret" in response.content.decode()
    assert Run.objects.count() == 0


@pytest.mark.parametrize("kind", ["unknown", "malformed", "not_stripe"])
def test_unknown_connection_404(stripe_client, stripe_connection, other_connection, enqueued, kind):
    connection_id = {"unknown": uuid.uuid4(), "malformed": "not-a-uuid", "not_stripe": other_connection.public_id}[kind]

    response = deliver(stripe_client, connection_id, signature_header=header(RAW_BODY))

    assert response.status_code == 404
    assert response.content.decode() == (
        "No Stripe connection has this webhook address. Check the endpoint URL in the Stripe Dashboard."
    )


def test_webhook_get_not_allowed(stripe_client, stripe_connection):
    response = stripe_client.get(webhook_url(stripe_connection.public_id))

    assert response.status_code == 405


def test_only_syncs_reading_from_connection_run(stripe_client, stripe_connection, other_connection, enqueued):
    reading_as_b = make_sync(other_connection, stripe_connection, Direction.B_TO_A, name="Read as side B")
    writing = make_sync(stripe_connection, other_connection, Direction.B_TO_A, name="Writes to Stripe")
    paused = make_sync(stripe_connection, other_connection, name="Paused", status=Sync.Status.PAUSED)
    disabled = make_sync(stripe_connection, other_connection, name="Disabled", enabled=False)

    deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY))

    assert Run.objects.filter(sync=reading_as_b).count() == 1
    assert Run.objects.filter(sync=writing).count() == 0
    assert Run.objects.filter(sync=paused).count() == 0
    assert Run.objects.filter(sync=disabled).count() == 0


# The signing secret form -------------------------------------------------------


def stored_secret(connection):
    connection.refresh_from_db()
    return connection.get_credentials().get("webhook_secret")


def test_owner_sets_secret(owner_client, stripe_connection):
    response = owner_client.post(secret_url(stripe_connection), {"webhook_secret": f"  {OTHER_SECRET} "})

    assert response.status_code == 302
    assert stored_secret(stripe_connection) == OTHER_SECRET
    assert stripe_connection.get_credentials()["api_key"] == API_KEY


def test_setting_secret_keeps_token_expiry(owner_client, stripe_connection):
    stripe_connection.set_credentials({"access_token": "sk_test_oauth", "webhook_secret": SECRET}, expires_in=3600)
    stripe_connection.save()
    expires = stripe_connection.token_expires_at

    owner_client.post(secret_url(stripe_connection), {"webhook_secret": OTHER_SECRET})

    stripe_connection.refresh_from_db()
    assert stripe_connection.token_expires_at == expires


def test_member_cannot_set_secret(member_client, stripe_connection):
    response = member_client.post(secret_url(stripe_connection), {"webhook_secret": OTHER_SECRET})

    assert response.status_code == 403
    assert stored_secret(stripe_connection) == SECRET


def test_outsider_gets_404_setting_secret(outsider_client, stripe_connection):
    response = outsider_client.post(secret_url(stripe_connection), {"webhook_secret": OTHER_SECRET})

    assert response.status_code == 404
    assert stored_secret(stripe_connection) == SECRET


@pytest.mark.parametrize(
    "value, words",
    [
        ("", "is empty"),
        ("sk_test_123", "starts with whsec_"),
        ("whsec_", "starts with whsec_"),
        ("whsec_abc def", "contains spaces"),
    ],
)
def test_invalid_secret_not_saved(owner_client, stripe_connection, value, words):
    response = owner_client.post(secret_url(stripe_connection), {"webhook_secret": value}, follow=True)

    assert "The signing secret was not saved: " in response.content.decode()
    assert words in response.content.decode()
    assert stored_secret(stripe_connection) == SECRET


def test_owner_removes_secret(owner_client, stripe_connection):
    owner_client.post(secret_url(stripe_connection), {"remove": "1"})

    assert stored_secret(stripe_connection) is None
    assert stripe_connection.get_credentials()["api_key"] == API_KEY


def test_secret_form_404_for_other_tools(owner_client, other_connection):
    response = owner_client.post(secret_url(other_connection), {"webhook_secret": OTHER_SECRET})

    assert response.status_code == 404


def test_secret_never_in_page_or_logs(owner_client, stripe_client, stripe_connection, sync, enqueued, caplog):
    caplog.set_level(logging.DEBUG)
    owner_client.post(secret_url(stripe_connection), {"webhook_secret": OTHER_SECRET})
    signed = header(RAW_BODY, secret=OTHER_SECRET)
    deliver(stripe_client, stripe_connection.public_id, signature_header=signed)
    deliver(stripe_client, stripe_connection.public_id, signature_header=header(RAW_BODY, secret=SECRET))

    page = owner_client.get(stripe_connection.get_absolute_url()).content.decode()

    assert "Signing secret</dt><dd>set" in page
    assert OTHER_SECRET not in page
    assert OTHER_SECRET not in caplog.text
    assert "wendy@example.com" not in caplog.text
    assert signed.split("v1=")[1] not in caplog.text


def test_detail_page_shows_endpoint_url(member_client, stripe_connection):
    page = member_client.get(stripe_connection.get_absolute_url()).content.decode()

    assert f"https://oneprofile.example/webhooks/stripe/{stripe_connection.public_id}/" in page
    assert 'name="webhook_secret"' not in page


def test_detail_page_of_other_tool_has_no_webhooks(owner_client, other_connection):
    page = owner_client.get(other_connection.get_absolute_url()).content.decode()

    assert "Webhooks</h2>" not in page
