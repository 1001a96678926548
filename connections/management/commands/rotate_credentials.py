"""
Re-encrypt every connection's credentials with the newest key.

To rotate: put a new key first in ENCRYPTION_KEYS, keep the old ones after
it, deploy, run this command, and remove an old key only once the command
exits with status 0.
"""

import logging

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections.crypto import CredentialsDecryptionError, get_fernet, rotate_token
from connections.models import Connection

logger = logging.getLogger(__name__)

ROTATED = "rotated"
CURRENT = "current"
FAILED = "failed"
MISSING = "missing"


class Command(BaseCommand):
    help = (
        "Re-encrypt the credentials of every connection with the newest key, the "
        "first of ENCRYPTION_KEYS. Rows already on that key are left alone. "
        "Exits with status 1, after processing every other row, when a row "
        "can't be decrypted with any configured key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Connection ids read per query (default 500). Each row is still updated in its own transaction.",
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError(f"--batch-size must be 1 or more, not {batch_size}.")
        get_fernet()  # raises ImproperlyConfigured, naming the entry, for a malformed key
        newest = Fernet(settings.ENCRYPTION_KEYS[0].strip())

        counts = {ROTATED: 0, CURRENT: 0, FAILED: 0, MISSING: 0}
        failed_ids = []
        last_pk = 0
        while True:
            batch = list(
                Connection.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            for pk in batch:
                outcome = self._rotate_one(pk, newest)
                counts[outcome] += 1
                if outcome == FAILED:
                    failed_ids.append(pk)
                    self.stderr.write(
                        f"Connection {pk}: its credentials can't be decrypted with any key in ENCRYPTION_KEYS."
                    )
            last_pk = batch[-1]

        self.stdout.write(
            f"Re-encrypted {counts[ROTATED]} connections with the newest key; "
            f"{counts[CURRENT]} already used it; {counts[FAILED]} could not be "
            f"decrypted; {counts[MISSING]} were deleted while the command ran."
        )
        logger.info(
            "rotate_credentials: %s re-encrypted, %s already current, %s failed",
            counts[ROTATED],
            counts[CURRENT],
            counts[FAILED],
        )
        if failed_ids:
            raise CommandError(
                f"{len(failed_ids)} connections could not be re-encrypted (ids "
                f"{', '.join(str(pk) for pk in failed_ids)}). Add the key that "
                f"encrypted them back to ENCRYPTION_KEYS and run the command again, "
                f"or have their workspaces reconnect them. Keep every old key until "
                f"this command succeeds."
            )

    def _rotate_one(self, pk, newest):
        # The row lock keeps a token refresh running at the same time from
        # being overwritten with the credentials read here.
        with transaction.atomic():
            token = (
                Connection.objects.select_for_update()
                .filter(pk=pk)
                .values_list("encrypted_credentials", flat=True)
                .first()
            )
            if token is None:
                return MISSING
            try:
                newest.decrypt(token.encode())
                return CURRENT
            except InvalidToken:
                pass
            try:
                rotated = rotate_token(token)
            except CredentialsDecryptionError:
                logger.error("rotate_credentials: connection %s can't be decrypted with any key", pk)
                return FAILED
            Connection.objects.filter(pk=pk).update(encrypted_credentials=rotated)
        return ROTATED
