"""
Encryption of connection credentials at rest.

Credentials are a JSON object encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256 tag, from the cryptography package), so a changed or truncated
ciphertext fails to decrypt instead of yielding garbage. ENCRYPTION_KEYS
lists keys newest first: encryption uses the first, decryption tries each,
and `manage.py rotate_credentials` re-encrypts everything with the first.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsDecryptionError(Exception):
    """Raised when stored credentials can't be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys):
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip()))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEYS entry {position} is not a valid Fernet key: "
                f"each key must be 32 bytes encoded as URL-safe base64 (44 "
                f"characters). Generate one with `python -c \"from "
                f"cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`."
            )
    return MultiFernet(fernets)


def get_fernet():
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt_credentials(credentials):
    """Encrypt a dict of credentials with the newest key and return the token as text."""
    payload = json.dumps(credentials, separators=(",", ":"), sort_keys=True).encode()
    return get_fernet().encrypt(payload).decode()


def decrypt_credentials(token, label="credentials"):
    """
    Decrypt a token made by encrypt_credentials and return the dict.

    Raises CredentialsDecryptionError, naming `label` but never the token,
    when no configured key opens it.
    """
    if not token:
        raise CredentialsDecryptionError(f"{label} are missing: reconnect the tool.")
    try:
        payload = get_fernet().decrypt(token.encode())
    except InvalidToken:
        raise CredentialsDecryptionError(
            f"{label} could not be decrypted: the key that encrypted them is "
            f"not in ENCRYPTION_KEYS, or the stored value was changed. Restore "
            f"the old key in ENCRYPTION_KEYS, or reconnect the tool."
        ) from None
    return json.loads(payload)


def rotate_token(token):
    """Return `token` re-encrypted with the newest key; raises CredentialsDecryptionError like decryption."""
    try:
        return get_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsDecryptionError(
            "Stored credentials could not be decrypted with any key in "
            "ENCRYPTION_KEYS, so they can't be re-encrypted."
        ) from None
