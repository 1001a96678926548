"""Decrypted credentials are kept for a connection's life in memory, never past a change."""

from unittest import mock

import pytest
from cryptography.fernet import Fernet

from connections import models
from connections.crypto import CredentialsDecryptionError
from tests.connections.conftest import create_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def decryptions():
    with mock.patch.object(models, "decrypt_credentials", wraps=models.decrypt_credentials) as spy:
        yield spy


def test_credentials_decrypted_once_while_unchanged(workspace, decryptions):
    connection = create_connection(workspace, credentials={"api_key": "key-0001"})

    values = [connection.get_credentials() for _ in range(3)]

    assert values == [{"api_key": "key-0001"}] * 3
    assert decryptions.call_count == 1


def test_credentials_returned_as_copies(workspace):
    connection = create_connection(workspace, credentials={"api_key": "key-0001"})

    connection.get_credentials()["api_key"] = "changed by a caller"

    assert connection.get_credentials() == {"api_key": "key-0001"}


def test_new_credentials_are_decrypted_afresh(workspace, decryptions):
    connection = create_connection(workspace, credentials={"api_key": "key-0001"})
    connection.get_credentials()

    connection.set_credentials({"api_key": "key-0002"})

    assert connection.get_credentials() == {"api_key": "key-0002"}
    assert decryptions.call_count == 2


def test_credentials_reloaded_from_the_database_are_decrypted_afresh(workspace):
    connection = create_connection(workspace, credentials={"api_key": "key-0001"})
    connection.get_credentials()
    other = type(connection).objects.get(pk=connection.pk)
    other.set_credentials({"api_key": "key-0002"})
    other.save()

    connection.refresh_from_db()

    assert connection.get_credentials() == {"api_key": "key-0002"}


def test_removed_key_fails_even_after_a_decryption(workspace, settings):
    connection = create_connection(workspace, credentials={"api_key": "key-0001"})
    connection.get_credentials()

    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CredentialsDecryptionError, match="could not be decrypted"):
        connection.get_credentials()
