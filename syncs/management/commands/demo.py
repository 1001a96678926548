"""Set up a demo user and workspace and serve the site."""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, User, Workspace, create_workspace

DEMO_EMAIL = "demo@oneprofile.test"
DEMO_PASSWORD = "demo-password-1234"
DEMO_WORKSPACE = "Demo Company"


class Command(BaseCommand):
    help = "Create (or reuse) the demo user and workspace, print the login, and serve the site."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument(
            "--no-serve", action="store_true", help="Set up the demo data and exit without serving."
        )

    def handle(self, *args, addrport, no_serve, **options):
        workspace = self.set_up_workspace()
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write(
            self.style.SUCCESS("Oneprofile demo is ready.")
            + f"\n  Open:     http://{host}{workspace.get_absolute_url()}"
            + f"\n  Email:    {DEMO_EMAIL}"
            + f"\n  Password: {DEMO_PASSWORD}\n"
        )
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)

    @transaction.atomic
    def set_up_workspace(self):
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, name="Demo User")
        workspace = Workspace.objects.filter(
            memberships__user=user, memberships__role=Membership.Role.OWNER, name=DEMO_WORKSPACE
        ).first()
        if workspace is None:
            workspace = create_workspace(DEMO_WORKSPACE, user)
        return workspace
