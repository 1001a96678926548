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
from connections.crypto import encrypt_credentials
from connections.models import Connection
from connections.providers.errors import ProviderError

logger = logging.getLogger(__name__)


class AccountMismatch(Exception):
    """Raised when re-authorisation reached another tool account than the connection's."""


class ConnectionInUse(Exception):
    """Raised when a connection can't be deleted because other rows, such as syncs, still use it."""


class InvalidConnectInput(ValueError):
    """
    Raised when connect options or credentials are invalid, before any request to the tool.

    `errors` maps the name of each invalid input to its message; the key
    None stands for the inputs taken together.
    """

    def __init__(self, errors):
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


def build_connection(workspace, provider_class, auth_method, user=None):
    """Return an unsaved Connection of `provider_class` in `workspace`, without credentials."""
    return Connection(
        workspace=workspace,
        provider=provider_class.name,
        auth_method=auth_method,
        base_url=settings.PROVIDER_BASE_URLS.get(provider_class.name, ""),
        created_by=user,
    )


def connect_options(provider_class):
    """Return the options a provider requires before connecting (such as Zendesk's subdomain), as dicts."""
    return list(getattr(provider_class, "connect_options", None) or [])


def clean_connect_options(provider_class, values):
    """
    Return the provider's connect options from `values`, each checked by the provider.

    An option `name` is checked by the provider's `clean_<name>` classmethod
    when it has one, and otherwise only has to be present. Raises
    InvalidConnectInput naming every missing, invalid or unknown option.
    """
    declared = connect_options(provider_class)
    declared_names = [option["name"] for option in declared]
    errors = {}
    for name in sorted(set(values) - set(declared_names), key=str):
        errors[name] = (
            f"{provider_class.label} has no connect option {name!r}. Its options are: "
            f"{', '.join(declared_names) or 'none'}."
        )
    options = {}
    for option in declared:
        name = option["name"]
        label = option.get("label") or name
        value = values.get(name)
        if isinstance(value, str):
            value = value.strip()
        cleaner = getattr(provider_class, f"clean_{name}", None)
        try:
            if cleaner is not None:
                value = cleaner(value)
            elif value in (None, ""):
                raise ValueError(f"The {label} is missing. {option.get('help', '')}".strip())
            elif not isinstance(value, str):
                raise ValueError(f"The {label} must be text, not {type(value).__name__}.")
        except ValueError as error:
            errors[name] = str(error)
            continue
        except ProviderError as error:
            errors[name] = error.message
            continue
        options[name] = value
    if errors:
        raise InvalidConnectInput(errors)
    return options


def clean_credentials(provider_class, values):
    """
    Return (credentials, options) from the credential fields entered, checked by the provider before any request.

    A provider with `clean_api_token` takes an email with an API token. A
    provider with `clean_api_key` checks the key's form, and one with
    `options_for_api_key` derives connection options from the key (such as
    Mailchimp's data centre). Other providers get the values as entered.
    Raises InvalidConnectInput with the provider's message.
    """
    clean_api_token = getattr(provider_class, "clean_api_token", None)
    if clean_api_token is not None:
        try:
            credentials = clean_api_token(values.get("email"), values.get("api_token"))
        except ProviderError as error:
            raise InvalidConnectInput({None: error.message}) from None
        return credentials, {}

    if "api_key" not in values:
        return dict(values), {}
    api_key = (values.get("api_key") or "").strip()
    try:
        clean_api_key = getattr(provider_class, "clean_api_key", None)
        if clean_api_key is not None:
            api_key = clean_api_key(api_key)
        options_for_api_key = getattr(provider_class, "options_for_api_key", None)
        options = options_for_api_key(api_key) if options_for_api_key is not None else {}
    except ProviderError as error:
        raise InvalidConnectInput({"api_key": without_secret(error.message, api_key)}) from None
    return {"api_key": api_key}, dict(options)


def options_after_oauth(provider_class, token_set, base_url):
    """
    Return the connection options learnt from an OAuth token set: its non-secret extras and the provider's own.

    A provider with `account_options_after_oauth` requests them from the
    tool (Mailchimp's data centre); raises ProviderError when that fails.
    """
    options = {
        key: value
        for key, value in (token_set.extra or {}).items()
        if not _looks_secret(key)
    }
    account_options = getattr(provider_class, "account_options_after_oauth", None)
    # A provider whose token exchange already filled the extras (Mailchimp's
    # does) is not asked a second time.
    if account_options is not None and not token_set.extra:
        options.update(account_options(token_set, base_url))
    return options


def _looks_secret(key):
    key = str(key).lower()
    return "secret" in key or key in {"access_token", "refresh_token", "id_token", "api_key", "password"}


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


def without_secrets(message, secrets):
    """Return `message` with each of `secrets` replaced."""
    for secret in secrets:
        message = without_secret(message, secret)
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
    Give `connection` the verified credentials and options of `candidate`, keeping its id, syncs and history.

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
        credentials = candidate.get_credentials()
        secret = locked.get_credentials().get("webhook_secret")
        if secret and "webhook_secret" not in credentials:
            credentials["webhook_secret"] = secret
        locked.encrypted_credentials = encrypt_credentials(credentials)
        locked.token_expires_at = candidate.token_expires_at
        locked.options = candidate.options
        locked.account_id = identity.account_id
        locked.account_name = identity.account_name
        locked.status = Connection.Status.ACTIVE
        locked.last_error = ""
        locked.last_verified_at = timezone.now()
        locked.save(
            update_fields=[
                "encrypted_credentials",
                "token_expires_at",
                "options",
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
