import copy
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from connections.crypto import CredentialsDecryptionError, decrypt_credentials, encrypt_credentials, get_fernet
from connections.providers import get_provider_class
from connections.providers.errors import ProviderError, ReauthorizationRequired

logger = logging.getLogger(__name__)

# An access token is renewed when it has less than this left, so that a
# request started just before expiry doesn't fail halfway through a run.
REFRESH_MARGIN = timedelta(minutes=5)


class Connection(models.Model):
    """One authorised account of one provider in one workspace."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
        DISABLED = "disabled", "Disabled"

    class AuthMethod(models.TextChoices):
        OAUTH = "oauth", "OAuth"
        API_KEY = "api_key", "API key"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="connections"
    )
    provider = models.CharField(max_length=30)
    display_name = models.CharField(max_length=100)
    account_id = models.CharField(
        max_length=100, blank=True, help_text="The account's id in the tool (HubSpot portal id, Stripe account id)."
    )
    account_name = models.CharField(max_length=200, blank=True)
    auth_method = models.CharField(max_length=10, choices=AuthMethod.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.TextField(blank=True, help_text="The last problem, in words a member understands.")
    # The API's address. Empty means the tool's real API; the sandbox and
    # tests point it at a local stand-in.
    base_url = models.URLField(blank=True)
    # Non-secret settings of the connection (a Zendesk subdomain, a
    # Mailchimp data centre and audience).
    options = models.JSONField(default=dict, blank=True)
    # Fernet token of a JSON object: access_token, refresh_token or api_key.
    encrypted_credentials = models.TextField(editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]
        indexes = [models.Index(fields=["workspace", "provider"])]

    def __str__(self):
        return f"{self.display_name} ({self.provider_label})"

    def get_absolute_url(self):
        return reverse("connections:detail", args=[self.workspace.public_id, self.public_id])

    # Provider ----------------------------------------------------------

    @property
    def provider_class(self):
        return get_provider_class(self.provider)

    @property
    def provider_label(self):
        try:
            return self.provider_class.label
        except KeyError:
            return self.provider

    def api_base_url(self):
        """Return the API address: the stored base URL, or the one the provider derives from the options."""
        if self.base_url:
            return self.base_url
        base_url_for = getattr(self.provider_class, "base_url_for", None)
        return base_url_for(self.options) if base_url_for else ""

    def get_provider(self):
        """Return a provider bound to this connection."""
        return self.provider_class(self)

    # Credentials -------------------------------------------------------

    def get_credentials(self):
        """
        Return the decrypted credentials; raises CredentialsDecryptionError, never an empty value.

        A run authenticates every request, so the decrypted value is kept for
        as long as the encrypted value and the configured keys are unchanged.
        A copy is returned, so a caller's change never reaches the kept value.
        """
        key = (self.encrypted_credentials, get_fernet())
        cached = getattr(self, "_decrypted", None)
        if cached is None or cached[0] != key:
            credentials = decrypt_credentials(
                self.encrypted_credentials, label=f"The credentials of connection {self.pk}"
            )
            cached = self._decrypted = (key, credentials)
        return copy.deepcopy(cached[1])

    def set_credentials(self, credentials, expires_in=None):
        """Encrypt and set credentials (not saved); `expires_in` is the access token's lifetime in seconds."""
        self.encrypted_credentials = encrypt_credentials(credentials)
        self.token_expires_at = (
            timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None
        )

    def store_tokens(self, token_set):
        """Set the credentials from an OAuth TokenSet, keeping the old refresh token when none was returned."""
        previous = self.get_credentials() if self.encrypted_credentials else {}
        credentials = {"access_token": token_set.access_token}
        refresh_token = token_set.refresh_token or previous.get("refresh_token")
        if refresh_token:
            credentials["refresh_token"] = refresh_token
        # The webhook signing secret is set by a member, not by the tool.
        if previous.get("webhook_secret"):
            credentials["webhook_secret"] = previous["webhook_secret"]
        self.set_credentials(credentials, token_set.expires_in)

    def token_needs_refresh(self):
        return (
            self.auth_method == self.AuthMethod.OAUTH
            and self.token_expires_at is not None
            and self.token_expires_at - REFRESH_MARGIN <= timezone.now()
        )

    def refresh_access_token(self, force=False):
        """
        Renew the OAuth access token under a per-connection lock; returns True if there is a token to try.

        Workers that need a refresh at the same time queue on the row lock
        (SELECT FOR UPDATE on PostgreSQL, the write lock of an IMMEDIATE
        transaction on SQLite). The first refreshes; the others find a fresh
        token once they hold the lock and use it. A rotated refresh token is
        committed before anything uses it. A refresh the tool refuses marks
        the connection as needing re-authorisation, and later calls stop
        here until a member reconnects.
        """
        if self.auth_method != self.AuthMethod.OAUTH:
            return False
        previous_credentials = self.encrypted_credentials
        refused = None
        with transaction.atomic():
            locked = Connection.objects.select_for_update().get(pk=self.pk)
            if locked.status == self.Status.NEEDS_REAUTH:
                self._copy_from(locked)
                raise ReauthorizationRequired(self.reauth_message())
            if locked.encrypted_credentials != previous_credentials:
                # Another worker refreshed while this one waited for the lock.
                self._copy_from(locked)
                return True
            if not force and not locked.token_needs_refresh():
                self._copy_from(locked)
                return True
            refresh_token = locked.get_credentials().get("refresh_token")
            if refresh_token:
                client = settings.OAUTH_CLIENTS.get(self.provider, {})
                try:
                    token_set = self.provider_class.refresh_tokens(
                        refresh_token=refresh_token,
                        client_id=client.get("client_id", ""),
                        client_secret=client.get("client_secret", ""),
                        base_url=self.api_base_url(),
                    )
                except ReauthorizationRequired as exc:
                    refused = exc.message
            else:
                refused = "the tool gave no refresh token"
            if refused is None:
                locked.store_tokens(token_set)
                locked.status = self.Status.ACTIVE
                locked.last_error = ""
                locked.save(
                    update_fields=["encrypted_credentials", "token_expires_at", "status", "last_error", "updated_at"]
                )
            else:
                # Stored in this transaction, and raised after it commits.
                locked._mark_needs_reauth(refused)
        self._copy_from(locked)
        if refused is not None:
            self._notify_needs_reauth()
            raise ReauthorizationRequired(self.reauth_message())
        logger.info("Refreshed the access token of connection %s (%s)", self.pk, self.provider)
        return True

    def ensure_fresh_token(self):
        """Refresh the access token first if it expires within the margin."""
        if self.token_needs_refresh():
            self.refresh_access_token()

    def _copy_from(self, other):
        for name in ("encrypted_credentials", "token_expires_at", "status", "last_error"):
            setattr(self, name, getattr(other, name))

    def without_own_secrets(self, text):
        """Return `text` with this connection's credential values replaced, for a tool that echoes them."""
        try:
            credentials = self.get_credentials()
        except CredentialsDecryptionError:
            return text
        for value in credentials.values():
            if isinstance(value, str) and value:
                text = text.replace(value, "[redacted]")
        return text

    # Status ------------------------------------------------------------

    def reauth_message(self):
        return (
            f"{self.provider_label} no longer accepts this connection's "
            f"authorisation. Reconnect {self.display_name} to resume its syncs."
        )

    def _mark_needs_reauth(self, reason):
        logger.warning(
            "Connection %s (%s) of workspace %s needs re-authorisation: %s",
            self.pk,
            self.provider,
            self.workspace_id,
            reason,
        )
        self.status = self.Status.NEEDS_REAUTH
        self.last_error = self.reauth_message()
        self.save(update_fields=["status", "last_error", "updated_at"])

    def mark_needs_reauth(self, reason=""):
        """Stop using the connection until a member reconnects it."""
        with transaction.atomic():
            self._mark_needs_reauth(reason or "marked by staff")
        self._notify_needs_reauth()

    def _notify_needs_reauth(self):
        # Alerts live with the syncs; a connection without them just logs.
        try:
            from syncs.alerts import alert_connection_needs_reauth
        except ImportError:
            return
        alert_connection_needs_reauth(self)

    def mark_active(self):
        self.status = self.Status.ACTIVE
        self.last_error = ""
        self.save(update_fields=["status", "last_error", "updated_at"])

    def verify(self):
        """
        Fetch the identity of the account the credentials reach, store it and return the AccountIdentity.

        A rejected authorisation marks the connection for re-authorisation.
        Any other error is stored as the last error and raised.
        """
        try:
            self.ensure_fresh_token()
            identity = self.get_provider().verify()
        except ReauthorizationRequired:
            raise
        except ProviderError as exc:
            if exc.category == exc.category.AUTHORISATION:
                self.mark_needs_reauth(exc.message)
            else:
                self.last_error = self.without_own_secrets(exc.message)
                self.save(update_fields=["last_error", "updated_at"])
            raise
        self.account_id = identity.account_id
        self.account_name = identity.account_name
        self.status = self.Status.ACTIVE
        self.last_error = ""
        self.last_verified_at = timezone.now()
        self.save(
            update_fields=["account_id", "account_name", "status", "last_error", "last_verified_at", "updated_at"]
        )
        return identity
