"""Authentication of REST API requests by workspace API key."""

import logging

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiKey

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per key, so that a busy client
# doesn't turn every read into a write.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """
    Authenticate `Authorization: Bearer op_...` with an active workspace API key.

    On success request.user is the key's creator (or None) and request.auth
    is the ApiKey, whose workspace scopes everything the request can reach.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        # The scheme is case-insensitive (RFC 9110, section 11.1).
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <API key>'."
            )
        raw_key = parts[1]
        if not raw_key.startswith(ApiKey.PREFIX):
            raise exceptions.AuthenticationFailed(
                "Malformed API key: Oneprofile keys start with 'op_'. Copy the "
                "whole key from the API keys page."
            )
        api_key = (
            ApiKey.objects.select_related("workspace", "workspace__plan")
            .filter(hashed_key=ApiKey.hash(raw_key))
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "Invalid API key. Create a new key on the workspace's API keys page."
            )
        if not api_key.is_active:
            logger.info("Rejected revoked API key %s of workspace %s", api_key.prefix, api_key.workspace_id)
            raise exceptions.AuthenticationFailed(
                f"The API key {api_key.prefix}… was revoked. Create a new key "
                f"on the workspace's API keys page."
            )
        now = timezone.now()
        if (
            api_key.last_used_at is None
            or (now - api_key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
        ):
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return (api_key.created_by, api_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
