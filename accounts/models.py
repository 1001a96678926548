import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core import signing
from django.db import models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify


class PlanLimitExceeded(Exception):
    """Raised when creating an object would pass one of the workspace plan's limits."""

    def __init__(self, plan, limit, allowed, message):
        self.plan = plan
        self.limit = limit
        self.allowed = allowed
        super().__init__(message)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        # Emails are unique whatever their letter case, so log in compares
        # them case-insensitively.
        return self.get(email__iexact=email.strip())

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required to create a user.")
        user = self.model(email=normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


def normalize_email(email):
    """Strip an email address and lower-case its domain, keeping the local part as typed."""
    return BaseUserManager.normalize_email((email or "").strip())


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Lets the user log in to the staff admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email address already exists.",
            ),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def get_short_name(self):
        return self.name or self.email

    def get_full_name(self):
        return self.name or self.email


class Plan(models.Model):
    """A price tier with the limits that apply to each workspace on it."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    max_connections = models.PositiveIntegerField()
    max_syncs = models.PositiveIntegerField()
    min_interval_minutes = models.PositiveIntegerField(
        help_text="The shortest schedule interval a sync may use, in minutes."
    )
    max_records_per_month = models.PositiveIntegerField(
        help_text="Records written to the tools per calendar month (UTC), all syncs together."
    )
    is_default = models.BooleanField(
        default=False, help_text="New workspaces start on the default plan."
    )

    class Meta:
        ordering = ["max_records_per_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="accounts_plan_one_default",
            ),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def default(cls):
        return cls.objects.get(is_default=True)


# The plan a workspace gets when no plan is marked default, for example
# after staff removed every plan. It has the seeded Free plan's limits.
FALLBACK_PLAN = {
    "code": "free",
    "name": "Free",
    "max_connections": 3,
    "max_syncs": 2,
    "min_interval_minutes": 15,
    "max_records_per_month": 10_000,
}


def default_plan_id():
    plan = Plan.objects.only("pk").filter(is_default=True).first()
    if plan is None:
        plan, _ = Plan.objects.get_or_create(code=FALLBACK_PLAN["code"], defaults=FALLBACK_PLAN)
    return plan.pk


class Workspace(models.Model):
    """The tenant: every row that belongs to a customer hangs off a workspace."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, default=default_plan_id)
    slack_webhook_url = models.URLField(
        blank=True,
        help_text="Optional Slack incoming-webhook URL that receives the workspace's alerts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("accounts:dashboard", args=[self.public_id])

    def _unique_slug(self):
        base = slugify(self.name)[:50] or "workspace"
        slug = base
        while Workspace.objects.filter(slug=slug).exclude(pk=self.pk).exists():
            slug = f"{base}-{secrets.token_hex(3)}"
        return slug

    def membership_for(self, user):
        """Return the user's membership of this workspace, or None."""
        if not user.is_authenticated:
            return None
        return self.memberships.filter(user=user).first()

    def owners(self):
        return self.memberships.filter(role=Membership.Role.OWNER)

    def alert_recipients(self):
        """Return the emails of the owners and admins, who receive alerts."""
        return list(
            self.memberships.filter(
                role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
                user__is_active=True,
            ).values_list("user__email", flat=True)
        )

    def check_plan_limit(self, limit, current_count):
        """
        Raise PlanLimitExceeded if adding one more object would pass a count limit.

        `limit` is "connections" or "syncs"; `current_count` is how many the
        workspace has now.
        """
        allowed = getattr(self.plan, f"max_{limit}")
        if current_count + 1 > allowed:
            raise PlanLimitExceeded(
                self.plan,
                limit,
                allowed,
                f"The {self.plan.name} plan allows {allowed} {limit} per "
                f"workspace and this workspace has {current_count}. Remove one "
                f"or move to a larger plan.",
            )

    def check_schedule_interval(self, minutes):
        """Raise PlanLimitExceeded if a sync schedule of `minutes` is shorter than the plan allows."""
        allowed = self.plan.min_interval_minutes
        if minutes < allowed:
            raise PlanLimitExceeded(
                self.plan,
                "min_interval_minutes",
                allowed,
                f"A schedule of every {minutes} minutes is shorter than the "
                f"{self.plan.name} plan allows: choose {allowed} minutes or "
                f"more, or move to a larger plan.",
            )

    def check_records_quota(self, used_this_month, additional):
        """Raise PlanLimitExceeded if writing `additional` records would pass the monthly quota."""
        allowed = self.plan.max_records_per_month
        if used_this_month + additional > allowed:
            raise PlanLimitExceeded(
                self.plan,
                "max_records_per_month",
                allowed,
                f"The {self.plan.name} plan allows {allowed:,} records synced "
                f"per month and this workspace has used {used_this_month:,}. "
                f"Syncs resume next month, or move to a larger plan.",
            )


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="accounts_membership_unique"
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) in {self.workspace}"

    @property
    def is_manager(self):
        """True for owners and admins, who manage members, API keys and connections."""
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    def is_last_owner(self):
        return (
            self.role == self.Role.OWNER
            and not self.workspace.owners().exclude(pk=self.pk).exists()
        )


class LastOwnerError(Exception):
    """Raised when a change would leave a workspace without an owner."""


def change_role(membership, role):
    """Set a membership's role, keeping at least one owner in the workspace."""
    with transaction.atomic():
        # Lock the workspace's owner rows so two concurrent demotions can't
        # both see another owner and leave none.
        list(membership.workspace.owners().select_for_update())
        membership.refresh_from_db()
        if role != Membership.Role.OWNER and membership.is_last_owner():
            raise LastOwnerError(
                f"{membership.user.email} is the workspace's last owner. Make "
                f"another member an owner first."
            )
        membership.role = role
        membership.save(update_fields=["role"])


def remove_membership(membership):
    """Delete a membership, keeping at least one owner in the workspace."""
    with transaction.atomic():
        list(membership.workspace.owners().select_for_update())
        membership.refresh_from_db()
        if membership.is_last_owner():
            raise LastOwnerError(
                f"{membership.user.email} is the workspace's last owner and "
                f"can't be removed. Make another member an owner first."
            )
        membership.delete()


class Invitation(models.Model):
    """An invitation by email to join a workspace, accepted through a signed, expiring link."""

    SIGNING_SALT = "accounts.invitation"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.email} to {self.workspace}"

    def token(self):
        return signing.dumps(
            {"invitation": self.pk, "workspace": str(self.workspace.public_id)},
            salt=self.SIGNING_SALT,
        )

    def get_accept_url(self):
        return settings.SITE_URL + reverse("accounts:accept_invitation", args=[self.token()])

    @classmethod
    def from_token(cls, token):
        """
        Return the pending invitation a signed token points to.

        Raises InvitationError with a message for a member when the token is
        malformed, expired, already used or revoked.
        """
        try:
            data = signing.loads(
                token, salt=cls.SIGNING_SALT, max_age=settings.INVITATION_MAX_AGE
            )
        except signing.SignatureExpired:
            raise InvitationError(
                "This invitation link has expired. Ask the person who invited "
                "you to send a new one."
            )
        except signing.BadSignature:
            raise InvitationError(
                "This invitation link is not valid. Check that you copied the "
                "whole link from the email."
            )
        invitation = (
            cls.objects.select_related("workspace")
            .filter(pk=data.get("invitation"), workspace__public_id=data.get("workspace"))
            .first()
        )
        if invitation is None:
            raise InvitationError(
                "This invitation was withdrawn. Ask the workspace's owner for a new one."
            )
        if invitation.accepted_at is not None:
            raise InvitationError(
                "This invitation has already been used. Log in to reach the workspace."
            )
        return invitation

    def accept(self, user):
        """Make `user` a member with the invited role; a second use of the same invitation fails."""
        with transaction.atomic():
            locked = Invitation.objects.select_for_update().get(pk=self.pk)
            if locked.accepted_at is not None:
                raise InvitationError(
                    "This invitation has already been used. Log in to reach the workspace."
                )
            membership, created = Membership.objects.get_or_create(
                workspace=self.workspace, user=user, defaults={"role": self.role}
            )
            locked.accepted_at = timezone.now()
            locked.accepted_by = user
            locked.save(update_fields=["accepted_at", "accepted_by"])
        self.accepted_at = locked.accepted_at
        return membership


class InvitationError(Exception):
    """Raised for an invitation link that can't be used, with a message for the person who clicked it."""


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """
    A workspace-scoped key for the REST API.

    The full key is shown once, when it is created. Only its SHA-256 digest is
    stored: the key carries 256 bits of randomness, so a slow password hash
    would add cost to every request without adding safety.
    """

    PREFIX = "op_"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The key's first characters, shown to tell keys apart."
    )
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw_key):
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def create_key(cls, workspace, name, created_by=None):
        """Create a key and return (api_key, raw_key); the raw key is not stored anywhere."""
        identifier = secrets.token_hex(4)
        raw_key = f"{cls.PREFIX}{identifier}_{secrets.token_urlsafe(32)}"
        api_key = cls.objects.create(
            workspace=workspace,
            name=name,
            prefix=f"{cls.PREFIX}{identifier}",
            hashed_key=cls.hash(raw_key),
            created_by=created_by,
        )
        return api_key, raw_key

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


def create_workspace(name, owner):
    """Create a workspace on the default plan with `owner` as its first owner."""
    with transaction.atomic():
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    return workspace
