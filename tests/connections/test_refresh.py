"""Refreshing an OAuth access token: one refresh for concurrent workers, and a refused refresh."""

import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.db import connections as db_connections
from django.utils import timezone

from connections.models import Connection
from connections.providers.errors import ReauthorizationRequired
from tests.connections.conftest import create_connection
from tests.connections.fake_provider import FaketoolProvider, mock_token, token_calls


def expired_oauth_connection(workspace):
    connection = create_connection(
        workspace,
        auth_method=Connection.AuthMethod.OAUTH,
        credentials={"access_token": "old-access", "refresh_token": "old-refresh"},
    )
    connection.token_expires_at = timezone.now() - timedelta(minutes=1)
    connection.save()
    return connection


@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_calls_token_endpoint_once(workspace):
    connection = expired_oauth_connection(workspace)
    calls = []

    def slow_token_endpoint(request):
        calls.append(parse_qs(request.body)["refresh_token"][0])
        # Long enough for the other worker to reach the lock while this one holds it.
        time.sleep(0.2)
        return 200, {}, '{"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 1800}'

    responses.add_callback(responses.POST, FaketoolProvider.token_url(), callback=slow_token_endpoint)
    errors = []
    start = threading.Barrier(2)

    def worker():
        try:
            # Each worker loads its own copy, as two processes would.
            copy = Connection.objects.get(pk=connection.pk)
            start.wait()
            copy.ensure_fresh_token()
            assert copy.get_credentials()["access_token"] == "new-access"
        except Exception as error:  # reported below, with the thread's error
            errors.append(error)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    connection.refresh_from_db()
    assert errors == []
    assert calls == ["old-refresh"]
    assert connection.get_credentials() == {"access_token": "new-access", "refresh_token": "new-refresh"}


@pytest.mark.django_db
def test_refresh_stores_rotated_refresh_token(workspace):
    connection = expired_oauth_connection(workspace)
    mock_token(access_token="new-access", refresh_token="rotated-refresh", expires_in=1800)

    connection.ensure_fresh_token()

    connection.refresh_from_db()
    assert connection.get_credentials() == {"access_token": "new-access", "refresh_token": "rotated-refresh"}
    assert connection.token_expires_at > timezone.now() + timedelta(minutes=25)


@pytest.mark.django_db
def test_refused_refresh_marks_needs_reauth(workspace):
    connection = expired_oauth_connection(workspace)
    mock_token(status=400, body={"error": "invalid_grant"})

    with pytest.raises(ReauthorizationRequired):
        connection.ensure_fresh_token()

    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTH
    assert "Reconnect Faketool EU" in connection.last_error


@pytest.mark.django_db
def test_refused_refresh_is_not_retried(workspace):
    connection = expired_oauth_connection(workspace)
    mock_token(status=400, body={"error": "invalid_grant"})
    with pytest.raises(ReauthorizationRequired):
        connection.ensure_fresh_token()
    later = Connection.objects.get(pk=connection.pk)

    with pytest.raises(ReauthorizationRequired):
        later.ensure_fresh_token()

    assert len(token_calls()) == 1
    assert len(responses.calls) == 1
