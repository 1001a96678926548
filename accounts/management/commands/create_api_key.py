import difflib
import logging

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey, Workspace

logger = logging.getLogger(__name__)

DEFAULT_KEY_NAME = "Command-line key"
KEY_NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length
LIST_HINT = "List the workspaces' slugs with: python manage.py create_api_key --list-workspaces"


class Command(BaseCommand):
    help = (
        "Create an API key for a workspace and print it once. Only the key's "
        "SHA-256 digest is stored, so the key can't be shown again: store it "
        "when it is printed. The key alone goes to standard output, the rest "
        "to standard error, so `KEY=$(manage.py create_api_key acme)` works."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "workspace_slug",
            nargs="?",
            help="Slug of the workspace the key gives access to.",
        )
        parser.add_argument(
            "--name",
            default=DEFAULT_KEY_NAME,
            help=(
                f"Label that tells the key apart on the API keys page, 1 to "
                f"{KEY_NAME_MAX_LENGTH} characters (default: '{DEFAULT_KEY_NAME}')."
            ),
        )
        parser.add_argument(
            "--list-workspaces",
            action="store_true",
            help="Print each workspace's slug and name, and create no key.",
        )

    def handle(self, *args, workspace_slug, name, list_workspaces, **options):
        if list_workspaces:
            self._list_workspaces()
            return
        if not workspace_slug:
            raise CommandError(f"Missing the workspace slug. {LIST_HINT}")

        name = name.strip()
        if not name:
            raise CommandError(
                f"The key name can't be blank. Pass --name with 1 to "
                f"{KEY_NAME_MAX_LENGTH} characters, or leave it out for "
                f"'{DEFAULT_KEY_NAME}'."
            )
        if len(name) > KEY_NAME_MAX_LENGTH:
            raise CommandError(
                f"The key name has {len(name)} characters, more than the maximum "
                f"of {KEY_NAME_MAX_LENGTH}. Pass a shorter --name."
            )

        workspace = Workspace.objects.filter(slug=workspace_slug).first()
        if workspace is None:
            raise CommandError(self._unknown_slug_message(workspace_slug))

        api_key, raw_key = ApiKey.create_key(workspace, name)
        logger.info(
            "Created API key %s for workspace %s from the command line",
            api_key.prefix,
            workspace.pk,
        )
        self.stderr.write(
            f"Created the API key '{api_key.name}' ({api_key.prefix}…) for the "
            f"workspace '{workspace.name}' ({workspace.slug}). Store it now: it "
            f"can't be shown again. Revoke it on the API keys page or in the "
            f"staff admin."
        )
        self.stdout.write(raw_key)

    def _list_workspaces(self):
        workspaces = Workspace.objects.order_by("slug").values_list("slug", "name")
        if not workspaces:
            self.stderr.write("There are no workspaces yet. Sign up on the site to create one.")
            return
        for slug, workspace_name in workspaces:
            self.stdout.write(f"{slug}\t{workspace_name}")

    def _unknown_slug_message(self, slug):
        message = f"No workspace has the slug '{slug}'."
        # Reading every slug is acceptable on the error path of an operator's
        # command, and suggesting the closest ones catches the usual typo.
        slugs = list(Workspace.objects.values_list("slug", flat=True))
        close = difflib.get_close_matches(slug.lower(), slugs, n=3)
        if close:
            message += " Did you mean " + " or ".join(f"'{match}'" for match in close) + "?"
        return f"{message} {LIST_HINT}"
