"""
Connecting a tool account, shared by the pages and the REST API.

Credentials are checked with the tool on an unsaved Connection before any
row is written, so a key or token the tool rejects leaves nothing behind.
"""

import logging

from django.conf import settings
from django.db import router, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.deletion import Collector
from django.utils import timezone

from accounts.models import Workspace
from connections.models import Connection

logger = logging.getLogger(__name__)


class AccountMismatch(Exception):
    """Raised when re-authorisation reached another tool account than the connection's."""


class ConnectionInUse(Exception):
    """Raised when a connection can't be deleted because other rows, such as syncs, still use it."""


def build_connection(workspace, provider_class, auth_method, user=None):
    """Return an unsaved Connection of `provider_class` in `workspace`, without credentials."""
    return Connection(
        workspace=workspace,
        provider=provider_class.name,
        auth_method=auth_method,
        base_url=settings.PROVIDER_BASE_URLS.get(provider_class.name, ""),
        created_by=user,
    )


def identify(connection):
    """
    Ask the tool which account the connection's credentials reach, and return the AccountIdentity.

    Works on an unsaved connection and stores nothing. A 401 is not followed
    by a token refresh, because fresh credentials that get 401 are wrong, and
    an unsaved connection has no row to lock. Raises ProviderError.
    """
    provider = connection.get_provider()
    provider.http.refresh = None
    return provider.verify()


def without_secret(message, secret):
    """Return `message` with `secret` replaced, in case the tool quoted a rejected key back."""
    if secret:
        return message.replace(secret, "[redacted]")
    return message


def check_connection_limit(workspace):
    """Raise PlanLimitExceeded if the workspace's plan allows no more connections."""
    workspace.check_plan_limit("connections", workspace.connections.count())


def save_new_connection(connection, identity, display_name=""):
    """
    Store a verified connection with the account the tool reported, and return it.

    The workspace row is locked while the plan's limit is checked, so two
    members connecting at once can't both take the last place. Raises
    PlanLimitExceeded and then stores nothing.
    """
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().select_related("plan").get(
            pk=connection.workspace_id
        )
        check_connection_limit(workspace)
        connection.account_id = identity.account_id
        connection.account_name = identity.account_name
        connection.display_name = (
            display_name or identity.account_name or connection.provider_label
        )[: Connection._meta.get_field("display_name").max_length]
        connection.status = Connection.Status.ACTIVE
        connection.last_error = ""
        connection.last_verified_at = timezone.now()
        connection.save()
    logger.info(
        "Connected %s connection %s (account %s) in workspace %s, by user %s",
        connection.provider,
        connection.pk,
        connection.account_id,
        connection.workspace_id,
        connection.created_by_id,
    )
    return connection


def replace_credentials(connection, candidate, identity):
    """
    Give `connection` the verified credentials of `candidate`, keeping its id, syncs and history.

    Raises AccountMismatch, and changes nothing, when the tool reports
    another account than the one the connection was made for. A connection
    that never learnt its account id takes the reported one.
    """
    if connection.account_id and identity.account_id != connection.account_id:
        raise AccountMismatch(
            f"You authorised the {connection.provider_label} account "
            f"{identity.account_name or identity.account_id} (id "
            f"{identity.account_id}), but {connection.display_name} is connected "
            f"to account {connection.account_name or connection.account_id} (id "
            f"{connection.account_id}). Nothing was changed. Log in to "
            f"{connection.provider_label} as that account and reconnect again, "
            f"or connect the other account as a new connection."
        )
    with transaction.atomic():
        # The row lock keeps a concurrent token refresh from writing the old
        # credentials back over the new ones.
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        locked.encrypted_credentials = candidate.encrypted_credentials
        locked.token_expires_at = candidate.token_expires_at
        locked.account_id = identity.account_id
        locked.account_name = identity.account_name
        locked.status = Connection.Status.ACTIVE
        locked.last_error = ""
        locked.last_verified_at = timezone.now()
        locked.save(
            update_fields=[
                "encrypted_credentials",
                "token_expires_at",
                "account_id",
                "account_name",
                "status",
                "last_error",
                "last_verified_at",
                "updated_at",
            ]
        )
    logger.info(
        "Reconnected %s connection %s (account %s) in workspace %s",
        connection.provider,
        connection.pk,
        identity.account_id,
        connection.workspace_id,
    )
    connection.refresh_from_db()
    return connection


def blocking_rows(connection):
    """Return the rows, such as syncs, whose foreign keys keep the connection from being deleted."""
    collector = Collector(using=router.db_for_write(Connection))
    try:
        collector.collect([connection])
    except ProtectedError as error:
        return sorted(error.protected_objects, key=str)
    except RestrictedError as error:
        return sorted(error.restricted_objects, key=str)
    return []


def disconnect(connection, user=None):
    """
    Delete the connection and its credentials.

    Raises ConnectionInUse, naming the syncs, while syncs still use the
    connection, because their foreign keys protect it.
    """
    # NOTE: the syncs that use the connection could be paused or deleted here
    # instead, so that disconnecting needs one step. Until then the member
    # deletes those syncs first.
    connection_id = connection.pk
    try:
        with transaction.atomic():
            connection.delete()
    except (ProtectedError, RestrictedError) as error:
        blocking = getattr(error, "protected_objects", None) or getattr(error, "restricted_objects", ())
        names = ", ".join(sorted(str(row) for row in blocking))
        raise ConnectionInUse(
            f"{connection.display_name} can't be disconnected because these syncs "
            f"use it: {names}. Delete those syncs first, then disconnect it."
        ) from None
    logger.info(
        "Disconnected %s connection %s of workspace %s, by user %s",
        connection.provider,
        connection_id,
        connection.workspace_id,
        getattr(user, "pk", None),
    )
