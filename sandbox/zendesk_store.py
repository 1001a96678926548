"""
Data of one Zendesk sandbox account: users and their identities, organizations, tickets, custom fields and jobs.

Timestamps are whole Unix seconds, as Zendesk's API shows them (ISO 8601
without fractions). Every change of a user, organization or ticket sets its
`updated_at`, which orders the incremental exports.

Validation follows Zendesk's RecordInvalid errors: `details` keyed by the
field, each a list of {"description", "error"}. Emails are stored lower-cased,
as Zendesk stores email identities.
"""

import base64
import binascii
import datetime
import json
import re
import secrets
import threading
from dataclasses import dataclass, field

ROLES = ("end-user", "agent", "admin")
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
# A subset of the time zone names Zendesk accepts, enough for sample data and tests.
TIME_ZONES = (
    "UTC", "London", "Paris", "Berlin", "Amsterdam", "Madrid", "Stockholm", "Athens",
    "Eastern Time (US & Canada)", "Central Time (US & Canada)", "Mountain Time (US & Canada)",
    "Pacific Time (US & Canada)", "Tokyo", "Sydney", "Singapore", "Mumbai",
)
EMAIL_PATTERN = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;.]+$")
PHONE_ALLOWED = re.compile(r"^\+?[0-9 ().\-]+$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Zendesk keeps the last 100 jobs of an account.
JOBS_KEPT = 100
FIELD_LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "time_zone": "Time zone",
    "role": "Role",
    "external_id": "External",
    "organization_id": "Organization",
    "value": "Value",
    "domain_names": "Domain names",
}


class RecordInvalid(Exception):
    """A change Zendesk rejects, as the 422 body's `details`: {field: [{"description", "error"}]}."""

    def __init__(self, details, error="RecordInvalid", description="Record validation errors"):
        self.details = details
        self.error = error
        self.description = description
        super().__init__(self.summary())

    @classmethod
    def one(cls, field_name, code, description):
        return cls({field_name: [{"description": description, "error": code}]})

    def body(self):
        return {"error": self.error, "description": self.description, "details": self.details}

    def summary(self):
        """Return the details as one line, as bulk job results report them."""
        return "; ".join(problem["description"] for problems in self.details.values() for problem in problems)

    def first_code(self):
        return next((problem["error"] for problems in self.details.values() for problem in problems), self.error)


class RecordNotFound(Exception):
    """A record id that the account doesn't have."""


def iso(timestamp):
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def label(field_name):
    return FIELD_LABELS.get(field_name, field_name.replace("_", " ").capitalize())


@dataclass(slots=True)
class User:
    id: int
    name: str
    email: str | None
    role: str
    created_at: int
    updated_at: int
    active: bool = True
    verified: bool = True
    phone: str | None = None
    external_id: str | None = None
    alias: str | None = None
    tags: list = field(default_factory=list)
    time_zone: str = "UTC"
    locale: str = "en-US"
    notes: str = ""
    details: str = ""
    organization_id: int | None = None
    suspended: bool = False
    last_login_at: int | None = None
    user_fields: dict = field(default_factory=dict)


@dataclass(slots=True)
class Identity:
    id: int
    user_id: int
    type: str
    value: str
    primary: bool
    verified: bool
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Organization:
    id: int
    name: str
    created_at: int
    updated_at: int
    external_id: str | None = None
    domain_names: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    details: str = ""
    notes: str = ""
    group_id: int | None = None
    shared_tickets: bool = False
    shared_comments: bool = False
    organization_fields: dict = field(default_factory=dict)
    deleted_at: int | None = None


@dataclass(slots=True)
class Ticket:
    id: int
    requester_id: int
    submitter_id: int
    status: str
    subject: str
    created_at: int
    updated_at: int
    priority: str | None = None
    type: str | None = None
    organization_id: int | None = None
    assignee_id: int | None = None
    tags: list = field(default_factory=list)


@dataclass(frozen=True)
class CustomField:
    """A user or organization field definition; `options` are (name, value) pairs of dropdown and multiselect fields."""

    id: int
    key: str
    type: str
    title: str
    position: int
    description: str = ""
    active: bool = True
    options: tuple = ()
    regexp: str = ""

    def option_values(self):
        return [value for _name, value in self.options]

    def render(self, base_url, kind):
        body = {
            "url": f"{base_url}/api/v2/{kind}/{self.id}.json",
            "id": self.id,
            "type": self.type,
            "key": self.key,
            "title": self.title,
            "description": self.description,
            "raw_title": self.title,
            "raw_description": self.description,
            "position": self.position,
            "active": self.active,
            "system": False,
            "regexp_for_validation": self.regexp or None,
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2023-01-01T00:00:00Z",
        }
        if self.type in ("dropdown", "multiselect"):
            body["custom_field_options"] = [
                {"id": self.id * 100 + index, "name": name, "raw_name": name, "value": value, "position": index}
                for index, (name, value) in enumerate(self.options)
            ]
        if self.type == "checkbox":
            body["tag"] = None
        return body


@dataclass
class Job:
    """A bulk request: `queued` until its due time, then run at once and `completed` with per-record results."""

    id: str
    job_type: str
    total: int
    due_at: float
    work: object
    status: str = "queued"
    results: list | None = None
    message: str | None = None
    progress: int | None = None

    def render(self, base_url):
        return {
            "id": self.id,
            "url": f"{base_url}/api/v2/job_statuses/{self.id}.json",
            "job_type": self.job_type,
            "total": self.total,
            "progress": self.progress,
            "status": self.status,
            "message": self.message,
            "results": self.results,
        }


def encode_cursor(updated_at, record_id):
    raw = json.dumps([int(updated_at), int(record_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text):
    """Return the (updated_at, id) position of an export cursor; raise ValueError for one Zendesk didn't issue."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        updated_at, record_id = json.loads(raw)
        return int(updated_at), int(record_id)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError(f"Invalid cursor {text!r}: pass the after_cursor of the previous page.") from None


class ZendeskAccount:
    """One Zendesk account (subdomain): its records, custom fields and jobs, behind one lock."""

    def __init__(self, subdomain, name, clock):
        self.subdomain = subdomain
        self.name = name
        self.clock = clock
        self.lock = threading.RLock()
        self.users = {}
        self.identities = {}
        self.email_owner = {}  # lower-cased email -> identity id
        self.organizations = {}
        self.tickets = {}
        self.user_fields = {}
        self.organization_fields = {}
        self.jobs = {}
        # Seconds a bulk job stays queued before it runs; tests raise it to watch a job wait.
        self.job_delay_seconds = 0.0
        self._next_ids = {"user": 360000001, "identity": 370000001, "organization": 380000001, "ticket": 1,
                          "field": 390000001}

    def now(self):
        return int(self.clock.now())

    def new_id(self, kind):
        value = self._next_ids[kind]
        self._next_ids[kind] += 1
        return value

    # Custom field definitions

    def add_custom_field(self, kind, key, field_type, title, options=(), regexp="", description="", active=True):
        """Define a user or organization field (`kind` "user" or "organization") and return it."""
        fields = self.user_fields if kind == "user" else self.organization_fields
        definition = CustomField(
            id=self.new_id("field"), key=key, type=field_type, title=title, position=len(fields),
            description=description, active=active, options=tuple(options), regexp=regexp,
        )
        fields[key] = definition
        return definition

    # Users and identities

    def add_user(self, name, email=None, role="end-user", created_at=None, updated_at=None, **values):
        """Store a user without validation, for seeding; an email becomes its primary identity."""
        with self.lock:
            created_at = self.now() if created_at is None else int(created_at)
            user = User(id=self.new_id("user"), name=name, email=None, role=role, created_at=created_at,
                        updated_at=int(updated_at or created_at), **values)
            self.users[user.id] = user
            if email:
                self._attach_identity(user, "email", email.lower(), created_at, primary=True)
            return user

    def _attach_identity(self, user, identity_type, value, timestamp, primary=False):
        identity = Identity(
            id=self.new_id("identity"), user_id=user.id, type=identity_type, value=value,
            primary=primary, verified=True, created_at=timestamp, updated_at=timestamp,
        )
        self.identities[identity.id] = identity
        if identity_type == "email":
            self.email_owner[value] = identity.id
            if primary:
                user.email = value
        return identity

    def add_secondary_email(self, user, email, timestamp=None):
        """Store another email identity of a user, for seeding."""
        with self.lock:
            return self._attach_identity(user, "email", email.lower(), timestamp or user.created_at)

    def user_identities(self, user_id):
        return [identity for identity in self.identities.values() if identity.user_id == user_id]

    def user_by_email(self, email):
        identity_id = self.email_owner.get((email or "").strip().lower())
        if identity_id is None:
            return None
        return self.users.get(self.identities[identity_id].user_id)

    def get_user(self, user_id):
        user = self.users.get(user_id)
        if user is None:
            raise RecordNotFound(f"User {user_id} not found")
        return user

    def create_user(self, values):
        """Validate and create a user from an API body; raise RecordInvalid."""
        with self.lock:
            email = values.get("email")
            cleaned = self.clean_user_values(values, None)
            if not cleaned.get("name"):
                raise RecordInvalid.one("name", "BlankValue", "Name: is too short (minimum one character)")
            if email:
                self._check_email_free(email, None, "email")
            now = self.now()
            user = User(id=self.new_id("user"), name=cleaned.pop("name"), email=None,
                        role=cleaned.pop("role", "end-user"), created_at=now, updated_at=now, verified=False)
            self._apply_user_values(user, cleaned)
            self.users[user.id] = user
            if email:
                self._attach_identity(user, "email", email.strip().lower(), now, primary=True)
            return user

    def update_user(self, user, values):
        """Validate and apply an API body to a user; return True when anything changed, raise RecordInvalid."""
        with self.lock:
            cleaned = self.clean_user_values(values, user)
            email = values.get("email")
            changed = self._apply_user_values(user, cleaned)
            if email and email.strip().lower() != (user.email or ""):
                self._check_email_free(email, user, "email")
                self._set_primary_email(user, email.strip().lower())
                changed = True
            if changed:
                user.updated_at = self.now()
            return changed

    def create_or_update_user(self, values):
        """Update the user with the body's email or external_id, else create one; return (user, "Created" or "Updated")."""
        with self.lock:
            existing = None
            if values.get("email"):
                existing = self.user_by_email(values["email"])
            if existing is None and values.get("external_id"):
                existing = next(
                    (user for user in self.users.values() if user.external_id == str(values["external_id"])), None
                )
            if existing is None:
                return self.create_user(values), "Created"
            update = {key: value for key, value in values.items() if key != "email"}
            self.update_user(existing, update)
            return existing, "Updated"

    def clean_user_values(self, values, user):
        """Return the writable values of an API user body, validated; raise RecordInvalid naming every bad field."""
        details = {}
        cleaned = {}

        def reject(name, code, description):
            details.setdefault(name, []).append({"description": description, "error": code})

        for name, value in values.items():
            if name in ("name", "alias", "notes", "details", "signature"):
                if value is not None and not isinstance(value, str):
                    reject(name, "InvalidValue", f"{label(name)}: {value!r} is not a text")
                elif name == "name" and value is not None and len(value) > 255:
                    reject(name, "TooLong", "Name: is too long (maximum is 255 characters)")
                else:
                    cleaned[name] = value if value is not None else ""
            elif name == "email":
                if value is not None and (not isinstance(value, str) or not EMAIL_PATTERN.match(value.strip())):
                    reject(name, "InvalidFormat", f"Email: {value} is not properly formatted")
            elif name == "phone":
                if value in (None, ""):
                    cleaned[name] = None
                elif not isinstance(value, str) or not PHONE_ALLOWED.match(value) or not 7 <= _digits(value) <= 15:
                    reject(name, "InvalidValue", f"Phone: {value} is not a valid phone number")
                else:
                    cleaned[name] = value
            elif name == "time_zone":
                if value not in TIME_ZONES:
                    reject(name, "InvalidValue", f"Time zone: {value} is not included in the list")
                else:
                    cleaned[name] = value
            elif name == "role":
                if value not in ROLES:
                    reject(name, "InvalidValue", f"Role: {value} is not included in the list")
                else:
                    cleaned[name] = value
            elif name == "external_id":
                text = None if value in (None, "") else str(value)
                taken = text and any(
                    other.external_id == text and other is not user for other in self.users.values()
                )
                if taken:
                    reject(name, "DuplicateValue", f"External: {text} has already been taken")
                else:
                    cleaned[name] = text
            elif name == "tags":
                if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
                    reject(name, "InvalidValue", f"Tags: {value!r} is not a list of tags")
                else:
                    cleaned[name] = normalize_tags(value)
            elif name == "organization_id":
                if value is not None and (not isinstance(value, int) or value not in self.organizations):
                    reject(name, "InvalidValue", f"Organization: {value} is invalid")
                else:
                    cleaned[name] = value
            elif name == "user_fields":
                if not isinstance(value, dict):
                    reject(name, "InvalidValue", "User fields: send an object keyed by field key")
                    continue
                cleaned[name] = {}
                for key, item in value.items():
                    definition = self.user_fields.get(key)
                    if definition is None or not definition.active:
                        # Zendesk ignores values of fields that don't exist.
                        continue
                    try:
                        cleaned[name][key] = clean_custom_value(definition, item)
                    except ValueError as error:
                        reject(key, "InvalidValue", str(error))
        if details:
            raise RecordInvalid(details)
        return cleaned

    def _apply_user_values(self, user, cleaned):
        changed = False
        for name, value in cleaned.items():
            if name == "user_fields":
                merged = {**user.user_fields, **value}
                if merged != user.user_fields:
                    user.user_fields = merged
                    changed = True
            elif name == "signature":
                continue
            elif getattr(user, name) != value:
                setattr(user, name, value)
                changed = True
        return changed

    def _check_email_free(self, email, user, field_name):
        owner = self.user_by_email(email)
        if owner is not None and (user is None or owner.id != user.id):
            raise RecordInvalid.one(
                field_name, "DuplicateValue",
                f"{label(field_name)}: {email.strip().lower()} is already being used by another user",
            )

    def _set_primary_email(self, user, email):
        """Make `email` the user's primary email, adding the identity when the user doesn't hold it yet."""
        identity_id = self.email_owner.get(email)
        identity = self.identities[identity_id] if identity_id else None
        if identity is None:
            identity = self._attach_identity(user, "email", email, self.now())
        self.make_primary(user, identity)

    def add_identity(self, user, identity_type, value):
        """Validate and add an identity through the API; raise RecordInvalid."""
        with self.lock:
            if identity_type not in ("email", "phone_number", "twitter", "facebook", "google", "agent_forwarding"):
                raise RecordInvalid.one("type", "InvalidValue", f"Type: {identity_type} is not included in the list")
            if not isinstance(value, str) or not value.strip():
                raise RecordInvalid.one("value", "BlankValue", "Value: cannot be blank")
            value = value.strip()
            if identity_type == "email":
                value = value.lower()
                if not EMAIL_PATTERN.match(value):
                    raise RecordInvalid.one("value", "InvalidFormat", f"Value: {value} is not properly formatted")
                self._check_email_free(value, None, "value")
            identity = self._attach_identity(user, identity_type, value, self.now())
            user.updated_at = self.now()
            if identity_type == "email" and not user.email:
                self.make_primary(user, identity)
            return identity

    def make_primary(self, user, identity):
        """Make an identity the primary one of its type; a primary email becomes the user's email."""
        with self.lock:
            for other in self.user_identities(user.id):
                if other.type == identity.type and other.primary and other.id != identity.id:
                    other.primary = False
                    other.updated_at = self.now()
            identity.primary = True
            identity.updated_at = self.now()
            if identity.type == "email":
                user.email = identity.value
            user.updated_at = self.now()

    def deactivate_user(self, user):
        """Delete a user as Zendesk does: it stays readable with `active: false`."""
        with self.lock:
            user.active = False
            user.updated_at = self.now()

    # Organizations

    def add_organization(self, name, created_at=None, **values):
        with self.lock:
            created_at = self.now() if created_at is None else int(created_at)
            organization = Organization(id=self.new_id("organization"), name=name, created_at=created_at,
                                        updated_at=created_at, **values)
            self.organizations[organization.id] = organization
            return organization

    def clean_organization_values(self, values, organization):
        details = {}
        cleaned = {}
        for name, value in values.items():
            if name == "name":
                if not isinstance(value, str) or not value.strip():
                    details.setdefault(name, []).append({"description": "Name: cannot be blank", "error": "BlankValue"})
                elif any(other.name.lower() == value.strip().lower() and other is not organization
                         for other in self.organizations.values() if other.deleted_at is None):
                    details.setdefault(name, []).append(
                        {"description": f"Name: {value} has already been taken", "error": "DuplicateValue"}
                    )
                else:
                    cleaned[name] = value.strip()
            elif name in ("details", "notes"):
                cleaned[name] = "" if value is None else str(value)
            elif name == "external_id":
                cleaned[name] = None if value in (None, "") else str(value)
            elif name in ("domain_names", "tags"):
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    details.setdefault(name, []).append(
                        {"description": f"{label(name)}: {value!r} is not a list", "error": "InvalidValue"}
                    )
                else:
                    cleaned[name] = normalize_tags(value) if name == "tags" else [item.lower() for item in value]
            elif name in ("shared_tickets", "shared_comments"):
                cleaned[name] = bool(value)
            elif name == "group_id":
                cleaned[name] = value if isinstance(value, int) else None
            elif name == "organization_fields" and isinstance(value, dict):
                cleaned[name] = {}
                for key, item in value.items():
                    definition = self.organization_fields.get(key)
                    if definition is None or not definition.active:
                        continue
                    try:
                        cleaned[name][key] = clean_custom_value(definition, item)
                    except ValueError as error:
                        details.setdefault(key, []).append({"description": str(error), "error": "InvalidValue"})
        if details:
            raise RecordInvalid(details)
        return cleaned

    def create_organization(self, values):
        with self.lock:
            cleaned = self.clean_organization_values(values, None)
            if "name" not in cleaned:
                raise RecordInvalid.one("name", "BlankValue", "Name: cannot be blank")
            organization = self.add_organization(cleaned.pop("name"))
            for name, value in cleaned.items():
                if name == "organization_fields":
                    organization.organization_fields.update(value)
                else:
                    setattr(organization, name, value)
            return organization

    def update_organization(self, organization, values):
        with self.lock:
            cleaned = self.clean_organization_values(values, organization)
            changed = False
            for name, value in cleaned.items():
                if name == "organization_fields":
                    merged = {**organization.organization_fields, **value}
                    if merged != organization.organization_fields:
                        organization.organization_fields = merged
                        changed = True
                elif getattr(organization, name) != value:
                    setattr(organization, name, value)
                    changed = True
            if changed:
                organization.updated_at = self.now()
            return changed

    # Tickets

    def add_ticket(self, requester, status, subject, created_at, updated_at=None, **values):
        """Store a ticket requested by `requester`, for seeding and tests."""
        with self.lock:
            ticket = Ticket(
                id=self.new_id("ticket"), requester_id=requester.id, submitter_id=requester.id, status=status,
                subject=subject, created_at=int(created_at), updated_at=int(updated_at or created_at),
                organization_id=requester.organization_id, **values,
            )
            self.tickets[ticket.id] = ticket
            return ticket

    def set_ticket_status(self, ticket_id, status):
        """Change a ticket's status (including "deleted"), as an agent would."""
        with self.lock:
            if status not in (*TICKET_STATUSES, "deleted"):
                raise ValueError(f"Unknown ticket status {status!r}; use one of {', '.join(TICKET_STATUSES)} or deleted.")
            ticket = self.tickets[ticket_id]
            ticket.status = status
            ticket.updated_at = self.now()
            return ticket

    # Incremental exports

    def export_page(self, records, position, per_page, until):
        """
        Return (items, last position, end_of_stream) of records changed after `position` and up to `until`.

        Records are ordered by (updated_at, id), so a cursor at the last
        record returned resumes right after it.
        """
        candidates = sorted(
            (record for record in records if position < (record.updated_at, record.id) and record.updated_at <= until),
            key=lambda record: (record.updated_at, record.id),
        )
        page = candidates[:per_page]
        last = (page[-1].updated_at, page[-1].id) if page else position
        return page, last, len(candidates) <= per_page

    # Jobs

    def submit_job(self, job_type, total, work, delay_seconds=0.0):
        """Queue a bulk job; `work()` returns its results when the job runs."""
        with self.lock:
            job = Job(id=secrets.token_hex(16), job_type=job_type, total=total,
                      due_at=self.clock.now() + delay_seconds, work=work)
            self.jobs[job.id] = job
            while len(self.jobs) > JOBS_KEPT:
                self.jobs.pop(next(iter(self.jobs)))
            return job

    def run_due_jobs(self):
        """Run the queued jobs whose time has come, oldest first."""
        with self.lock:
            now = self.clock.now()
            for job in list(self.jobs.values()):
                if job.status != "queued" or job.due_at > now:
                    continue
                job.status = "working"
                job.results = job.work()
                job.progress = job.total
                job.status = "completed"
                job.message = f"Completed at {datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc):%Y-%m-%d %H:%M:%S} +0000"
                job.work = None


def _digits(text):
    return sum(char.isdigit() for char in text)


def normalize_tags(tags):
    """Return tags as Zendesk stores them: lower-case, spaces as underscores, each once."""
    return list(dict.fromkeys(tag.strip().lower().replace(" ", "_") for tag in tags if tag.strip()))


def clean_custom_value(definition, value):
    """Return a custom field value as Zendesk stores it; raise ValueError with Zendesk's message."""
    title = definition.title
    if value is None or value == "":
        return [] if definition.type == "multiselect" else None
    kind = definition.type
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise ValueError(f"{title}: {value!r} is not a valid boolean")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
            raise ValueError(f"{title}: {value} is not a number")
        return int(value)
    if kind == "decimal":
        if isinstance(value, bool):
            raise ValueError(f"{title}: {value} is not a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{title}: {value} is not a number") from None
    if kind == "date":
        if not isinstance(value, str) or not DATE_PATTERN.match(value):
            raise ValueError(f"{title}: {value} is not a valid date, use YYYY-MM-DD")
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{title}: {value} is not a valid date, use YYYY-MM-DD") from None
        return value
    if kind == "dropdown":
        if value not in definition.option_values():
            raise ValueError(f"{title}: {value} is not a valid option")
        return value
    if kind == "multiselect":
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item not in definition.option_values():
                raise ValueError(f"{title}: {item} is not a valid option")
        return list(items)
    if kind == "regexp":
        if not isinstance(value, str) or not re.search(definition.regexp, value):
            raise ValueError(f"{title}: {value} is invalid")
        return value
    if kind == "lookup":
        if not isinstance(value, int):
            raise ValueError(f"{title}: {value} is not a valid record id")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{title}: {value!r} is not a text")
    return value
