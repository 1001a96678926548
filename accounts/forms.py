"""Forms of the account and workspace pages."""

from datetime import timedelta
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from accounts.validators import validate_visible_text
from accounts.models import (
    Invitation,
    Membership,
    User,
    Workspace,
    create_workspace,
    normalize_email,
)

SLACK_WEBHOOK_HOST = "hooks.slack.com"


def emails_match(first, second):
    """Return True when two email addresses are the same, whatever their letter case."""
    return normalize_email(first).casefold() == normalize_email(second).casefold()


def pending_invitations(workspace):
    """Return the workspace's invitations not accepted yet, newest first."""
    return workspace.invitations.filter(accepted_at__isnull=True).select_related("invited_by")


def invitation_expires_at(invitation):
    """Return when the link of an invitation stops working.

    The link is signed when the invitation email is sent, right after the
    invitation is created, so its age is measured from `created_at`.
    """
    return invitation.created_at + timedelta(seconds=settings.INVITATION_MAX_AGE)


class EmailAuthenticationForm(AuthenticationForm):
    """The log-in form, with an error message that fits log in by email."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "The email address or password is incorrect. Check both, or reset "
            "your password if you forgot it."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].widget.input_type = "email"
        self.fields["username"].widget.attrs["autocomplete"] = "email"


class SignupForm(forms.Form):
    """
    Create an account and its first workspace, or join the workspace of an invitation.

    With an invitation the email address must be the invited one, and the
    workspace name may stay blank: the new user then only joins the invited
    workspace.
    """

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common password and not only digits.",
    )
    workspace_name = forms.CharField(
        label="Workspace name",
        max_length=100,
        required=False,
        help_text="Usually your company's name. You can rename it later.",
        validators=[validate_visible_text],
    )
    invitation = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, invitation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation_object = invitation
        if invitation is not None:
            self.fields["workspace_name"].help_text = (
                f"Leave blank to only join {invitation.workspace.name}, or name "
                f"a workspace of your own to create it as well."
            )

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "An account with the email address %(email)s already exists. Log "
                "in, or reset your password if you forgot it.",
                code="duplicate_email",
                params={"email": email},
            )
        invitation = self.invitation_object
        if invitation is not None and not emails_match(email, invitation.email):
            raise ValidationError(
                "The invitation was sent to %(invited)s, not %(email)s. Sign up "
                "with %(invited)s to join the workspace.",
                code="invitation_email_mismatch",
                params={"invited": invitation.email, "email": email},
            )
        return email

    def clean_workspace_name(self):
        return self.cleaned_data["workspace_name"].strip()

    def clean(self):
        cleaned_data = super().clean()
        password = cleaned_data.get("password")
        if password:
            # The similarity validator compares the password with the email.
            candidate = User(email=cleaned_data.get("email") or "")
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned_data

    def default_workspace_name(self):
        local_part = self.cleaned_data["email"].split("@", 1)[0]
        return f"{local_part}'s workspace"[:100]

    def save(self):
        """
        Create the user, then the first workspace and the invited membership, all or nothing.

        Returns (user, workspace to land on). Raises InvitationError, and
        stores nothing, when the invitation was used or withdrawn meanwhile.
        """
        invitation = self.invitation_object
        workspace_name = self.cleaned_data["workspace_name"]
        with transaction.atomic():
            user = User.objects.create_user(
                email=self.cleaned_data["email"], password=self.cleaned_data["password"]
            )
            own_workspace = None
            if workspace_name or invitation is None:
                own_workspace = create_workspace(
                    workspace_name or self.default_workspace_name(), user
                )
            if invitation is not None:
                invitation.accept(user)
                return user, invitation.workspace
        return user, own_workspace


class WorkspaceForm(forms.Form):
    """The name of a new workspace."""

    name = forms.CharField(
        label="Workspace name",
        max_length=100,
        help_text="Usually your company's or team's name.",
        validators=[validate_visible_text],
    )

    def save(self, owner):
        return create_workspace(self.cleaned_data["name"], owner)


def validate_slack_webhook_url(value):
    """Raise ValidationError unless `value` is a Slack incoming-webhook URL."""
    message = (
        "%(value)s is not a Slack incoming-webhook URL: it must start with "
        "https://hooks.slack.com/. Copy the URL from the Incoming Webhooks "
        "page of your Slack app, or leave the field blank to send no alerts "
        "to Slack."
    )
    try:
        URLValidator(schemes=["https"])(value)
    except ValidationError:
        raise ValidationError(message, code="invalid_slack_url", params={"value": value})
    parts = urlsplit(value)
    if parts.hostname != SLACK_WEBHOOK_HOST or parts.port is not None or parts.path in ("", "/"):
        raise ValidationError(message, code="invalid_slack_url", params={"value": value})


class WorkspaceSettingsForm(forms.ModelForm):
    """The workspace's name and where its alerts go."""

    slack_webhook_url = forms.CharField(
        label="Slack webhook URL",
        max_length=200,
        required=False,
        help_text=(
            "Alerts about failed runs are posted to this Slack "
            "incoming webhook, for example https://hooks.slack.com/services/T000/B000/XXXX."
        ),
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
    )

    class Meta:
        model = Workspace
        fields = ["name", "slack_webhook_url"]
        labels = {"name": "Workspace name"}

    def clean_name(self):
        name = self.cleaned_data["name"]
        validate_visible_text(name)
        return name

    def clean_slack_webhook_url(self):
        value = self.cleaned_data["slack_webhook_url"].strip()
        if value:
            validate_slack_webhook_url(value)
        return value


ROLE_HELP = (
    "Owners manage everything, including other owners. Admins manage members, "
    "connections, syncs and API keys. Members see everything and run syncs."
)


def assignable_roles(membership):
    """Return the role choices a manager may give: only owners may make owners."""
    if membership.role == Membership.Role.OWNER:
        return list(Membership.Role.choices)
    return [
        (value, label)
        for value, label in Membership.Role.choices
        if value != Membership.Role.OWNER
    ]


class InvitationForm(forms.Form):
    """Invite someone by email to join a workspace with a role."""

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label="Role", choices=Membership.Role.choices, initial=Membership.Role.MEMBER,
        help_text=ROLE_HELP,
    )

    def __init__(self, *args, workspace, inviter, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.inviter = inviter
        # The select offers only the roles this inviter may give; clean_role
        # rejects the others when a request sends them anyway.
        self.fields["role"].widget.choices = assignable_roles(inviter)

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if self.workspace.memberships.filter(user__email__iexact=email).exists():
            raise ValidationError(
                "%(email)s is already a member of this workspace.",
                code="already_member",
                params={"email": email},
            )
        now = timezone.now()
        for invitation in pending_invitations(self.workspace).filter(email__iexact=email):
            if invitation_expires_at(invitation) > now:
                raise ValidationError(
                    "%(email)s already has a pending invitation. Withdraw it "
                    "below to send a new one.",
                    code="already_invited",
                    params={"email": email},
                )
        return email

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role not in dict(assignable_roles(self.inviter)):
            raise ValidationError(
                "Only owners can invite owners. Choose admin or member.",
                code="owner_only",
            )
        return role

    def save(self):
        """Create the invitation, replacing the expired pending ones to the same email."""
        email = self.cleaned_data["email"]
        pending_invitations(self.workspace).filter(email__iexact=email).delete()
        return Invitation.objects.create(
            workspace=self.workspace,
            email=email,
            role=self.cleaned_data["role"],
            invited_by=self.inviter.user,
        )


class RoleForm(forms.Form):
    """A new role for a member."""

    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        error_messages={
            "invalid_choice": "%(value)s is not a role. Choose owner, admin or member.",
        },
    )


class ApiKeyForm(forms.Form):
    """The name of a new API key."""

    name = forms.CharField(
        label="Key name",
        max_length=100,
        help_text="Says where the key is used, for example “Nightly export script”.",
    )
