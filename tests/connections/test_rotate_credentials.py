"""`manage.py rotate_credentials`, and decryption failures that must never pass as empty credentials."""

from io import StringIO

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.urls import reverse

from connections.crypto import CredentialsDecryptionError
from connections.models import Connection
from tests.connections.conftest import create_connection

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
UNKNOWN_KEY = Fernet.generate_key().decode()


def run_rotation(**options):
    stdout, stderr = StringIO(), StringIO()
    call_command("rotate_credentials", stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def old_rows(workspace, settings):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    rows = [
        create_connection(workspace, display_name=f"Faketool {number}", credentials={"api_key": f"key-{number}"})
        for number in range(3)
    ]
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    return rows


def test_rotation_lets_old_key_be_removed(old_rows, settings):
    run_rotation(batch_size=2)
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    credentials = [connection.get_credentials() for connection in Connection.objects.order_by("pk")]

    assert credentials == [{"api_key": "key-0"}, {"api_key": "key-1"}, {"api_key": "key-2"}]


def test_rotation_prints_counts(old_rows):
    stdout, _ = run_rotation()

    assert "Re-encrypted 3 connections with the newest key; 0 already used it; 0 could not be decrypted" in stdout


def test_second_rotation_changes_nothing(old_rows):
    run_rotation()
    before = list(Connection.objects.order_by("pk").values_list("encrypted_credentials", flat=True))

    stdout, _ = run_rotation()

    after = list(Connection.objects.order_by("pk").values_list("encrypted_credentials", flat=True))
    assert "Re-encrypted 0 connections with the newest key; 3 already used it" in stdout
    assert after == before


def test_unknown_key_row_is_reported_after_others(old_rows, workspace, settings):
    settings.ENCRYPTION_KEYS = [UNKNOWN_KEY]
    lost = create_connection(workspace, display_name="Lost", credentials={"api_key": "lost-key-secret"})
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    stderr = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("rotate_credentials", stdout=StringIO(), stderr=stderr)

    settings.ENCRYPTION_KEYS = [NEW_KEY]
    assert f"ids {lost.pk}" in str(raised.value)
    assert f"Connection {lost.pk}:" in stderr.getvalue()
    assert "lost-key-secret" not in stderr.getvalue() + str(raised.value)
    rotated = Connection.objects.filter(pk__in=[row.pk for row in old_rows]).order_by("pk")
    assert [row.get_credentials()["api_key"] for row in rotated] == ["key-0", "key-1", "key-2"]


def test_rotation_rejects_zero_batch_size(old_rows):
    with pytest.raises(CommandError, match="--batch-size must be 1 or more, not 0"):
        run_rotation(batch_size=0)


# Decryption failures


def test_unknown_key_raises_not_empty(workspace, settings):
    settings.ENCRYPTION_KEYS = [UNKNOWN_KEY]
    connection = create_connection(workspace)
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(CredentialsDecryptionError, match=f"connection {connection.pk} could not be decrypted"):
        connection.get_credentials()


def test_empty_credentials_raise(workspace):
    connection = create_connection(workspace)
    Connection.objects.filter(pk=connection.pk).update(encrypted_credentials="")
    connection.refresh_from_db()

    with pytest.raises(CredentialsDecryptionError, match="are missing"):
        connection.get_credentials()


def test_verify_page_reports_decryption_failure(owner_client, workspace, settings):
    settings.ENCRYPTION_KEYS = [UNKNOWN_KEY]
    connection = create_connection(workspace)
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    url = reverse("connections:verify", args=[workspace.public_id, connection.public_id])

    response = owner_client.post(url, follow=True)

    assert "could not be decrypted" in response.content.decode()
    assert len(responses.calls) == 0


def test_verify_api_reports_decryption_failure(api_client, workspace, settings):
    settings.ENCRYPTION_KEYS = [UNKNOWN_KEY]
    connection = create_connection(workspace)
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    response = api_client.post(f"/api/v1/connections/{connection.public_id}/verify/")

    assert response.json()["verified"] is False
    assert "could not be decrypted" in response.json()["detail"]
    assert len(responses.calls) == 0
