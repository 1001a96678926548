"""
Data of one Mailchimp sandbox account: audiences (lists), their merge fields and members.

A member is keyed by its subscriber hash, the MD5 of the lower-cased email
address, and keeps the address as given. Every change of a member sets its
`last_changed`, which `since_last_changed` filters on. Values are checked as
Mailchimp checks them: ASCII addresses only, generic addresses ("looks fake
or invalid"), addresses permanently deleted from the audience, statuses that
only the person can raise again (the compliance state), and merge field
formats.
"""

import datetime
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field

MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
WRITABLE_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
# Statuses that only the person can leave, through a signup form.
COMPLIANCE_STATUSES = ("unsubscribed", "cleaned")
TEXT_MAX_BYTES = 255
ADDRESS_REQUIRED = ("addr1", "city", "state", "zip")
ADDRESS_PARTS = ("addr1", "addr2", "city", "state", "zip", "country")
EMAIL_SHAPE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# Local parts Mailchimp turns away as generic; its full list is not published.
GENERIC_LOCAL_PARTS = frozenset({
    "test", "testing", "tester", "john.doe", "jane.doe", "johndoe", "janedoe", "john", "fake", "example",
    "asdf", "foo", "foobar", "noreply", "no-reply", "null", "nobody", "someone", "abc",
})


class MemberRejected(Exception):
    """A member write Mailchimp refuses: its problem title, the batch error text and, for merge fields, the field errors."""

    def __init__(self, title, detail, field_errors=(), code="ERROR_GENERIC"):
        super().__init__(detail)
        self.title = title
        self.detail = detail
        self.field_errors = list(field_errors)
        self.code = code


class MalformedAddress(Exception):
    """An address with a character Mailchimp's API fails on with HTTP 500 rather than a validation error."""


def subscriber_hash(email):
    return hashlib.md5((email or "").strip().lower().encode("utf-8")).hexdigest()


def iso(timestamp):
    if timestamp is None:
        return ""
    return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc).isoformat()


def parse_time(text):
    """Return Unix seconds of an ISO 8601 time ("2015-10-21T15:41:36+00:00"); raise ValueError."""
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def address_problem(email):
    """
    Return Mailchimp's message for an address it refuses, or "" when it takes the address.

    Raises MalformedAddress for a comma or a trailing dot, for which Mailchimp's
    API has returned HTTP 500 instead of a 400.
    """
    text = (email or "").strip()
    if not text:
        return "Please provide a valid email address."
    if "," in text or text.endswith("."):
        raise MalformedAddress(text)
    if not text.isascii() or not EMAIL_SHAPE.match(text):
        return "Please provide a valid email address."
    if text.split("@")[0].lower() in GENERIC_LOCAL_PARTS:
        return f"{text} looks fake or invalid, please enter a real email address."
    return ""


@dataclass(frozen=True)
class MergeFieldDefinition:
    merge_id: int
    tag: str
    name: str
    type: str
    display_order: int
    required: bool = False
    default_value: str = ""
    public: bool = True
    choices: tuple = ()
    date_format: str = ""
    size: int = 25

    def options(self):
        if self.type in ("dropdown", "radio"):
            return {"choices": list(self.choices)}
        if self.type in ("date", "birthday"):
            return {"date_format": self.date_format or ("MM/DD" if self.type == "birthday" else "MM/DD/YYYY")}
        if self.type == "address":
            return {"default_country": 164}
        if self.type == "phone":
            return {"phone_format": "none"}
        return {"size": self.size}

    def render(self, list_id):
        return {
            "merge_id": self.merge_id,
            "tag": self.tag,
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "public": self.public,
            "display_order": self.display_order,
            "options": self.options(),
            "help_text": "",
            "list_id": list_id,
        }

    def clean(self, value):
        """Return a value as Mailchimp stores it for this field; raise ValueError with Mailchimp's message."""
        if value in (None, ""):
            return ""
        kind = self.type
        if kind == "address":
            if not isinstance(value, dict):
                raise ValueError("Please enter a complete address")
            missing = [part for part in ADDRESS_REQUIRED if not str(value.get(part) or "").strip()]
            if missing:
                raise ValueError("Please enter a complete address")
            return {part: str(value.get(part) or "") for part in ADDRESS_PARTS}
        if isinstance(value, (dict, list)):
            raise ValueError("Please enter a single value")
        text = str(value)
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                raise ValueError("Please enter a number") from None
            return int(number) if number.is_integer() else number
        if kind in ("dropdown", "radio"):
            if text not in self.choices:
                raise ValueError("Please choose one of the listed options")
            return text
        if kind in ("date", "birthday"):
            return self._clean_date(text)
        if kind == "zip" and not re.fullmatch(r"\d{5}", text):
            raise ValueError("Please enter a 5-digit zip code")
        if kind in ("url", "imageurl") and not re.match(r"^https?://\S+$", text):
            raise ValueError("Please enter a valid URL")
        if len(text.encode("utf-8")) > TEXT_MAX_BYTES:
            raise ValueError(f"Please enter a value of at most {TEXT_MAX_BYTES} bytes")
        return text

    def _clean_date(self, text):
        if self.type == "birthday":
            pattern = (self.date_format or "MM/DD").replace("MM", "%m").replace("DD", "%d")
            try:
                datetime.datetime.strptime(f"{text}/2000", f"{pattern}/%Y")
            except ValueError:
                raise ValueError("Please enter a month (01-12) and a day (01-31)") from None
            return text
        formats = ("%Y-%m-%d", "%Y/%m/%d", "%d-%m-%Y", "%m/%d/%Y")
        for fmt in formats:
            try:
                day = datetime.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
            return day.isoformat()
        raise ValueError("Please enter the date")


@dataclass(slots=True)
class Member:
    id: str
    email_address: str
    status: str
    merge_fields: dict
    timestamp_signup: int
    last_changed: int
    web_id: int
    unique_email_id: str
    tags: list = field(default_factory=list)
    email_type: str = "html"
    language: str = ""
    vip: bool = False
    member_rating: int = 2
    avg_open_rate: float = 0.0
    avg_click_rate: float = 0.0
    source: str = "API - Generic"


class Audience:
    """One audience: merge field definitions, members by subscriber hash, tags and permanently deleted addresses."""

    def __init__(self, list_id, name, created, web_id):
        self.id = list_id
        self.name = name
        self.created = created
        self.web_id = web_id
        self.merge_fields = {}
        self.members = {}
        self.forgotten = set()
        self.tag_ids = {}

    def add_merge_field(self, tag, name, field_type, **options):
        definition = MergeFieldDefinition(
            merge_id=len(self.merge_fields) + 1, tag=tag, name=name, type=field_type,
            display_order=len(self.merge_fields) + 2, **options,
        )
        self.merge_fields[tag] = definition
        return definition

    def tag_id(self, name):
        if name not in self.tag_ids:
            self.tag_ids[name] = 100 + len(self.tag_ids)
        return self.tag_ids[name]


class MailchimpAccount:
    """One Mailchimp account (one user): its audiences, behind one lock."""

    def __init__(self, account_id, name, email, dc, clock):
        self.account_id = account_id
        self.name = name
        self.email = email
        self.dc = dc
        self.clock = clock
        self.login_id = str(31_000_000 + int(hashlib.md5(account_id.encode()).hexdigest()[:6], 16) % 1_000_000)
        self.lock = threading.RLock()
        self.lists = {}
        self._next_web_id = 10_000

    def now(self):
        return int(self.clock.now())

    def web_id(self):
        self._next_web_id += 1
        return self._next_web_id

    def add_list(self, list_id, name, created=None):
        with self.lock:
            if list_id in self.lists:
                raise ValueError(f"Mailchimp audience {list_id} already exists; pick another id.")
            audience = Audience(list_id, name, created or self.now(), self.web_id())
            self.lists[list_id] = audience
            return audience

    def audience(self, list_id):
        return self.lists.get(list_id)

    # Members

    def add_member(self, audience, email, status, merge_fields=None, tags=(), timestamp=None, **extra):
        """Store a member without validation, for seeding."""
        with self.lock:
            timestamp = int(timestamp or self.now())
            member = Member(
                id=subscriber_hash(email), email_address=email, status=status,
                merge_fields={tag: "" for tag in audience.merge_fields} | dict(merge_fields or {}),
                timestamp_signup=timestamp, last_changed=timestamp, web_id=self.web_id(),
                unique_email_id=secrets.token_hex(5),
                tags=[{"id": audience.tag_id(tag), "name": tag} for tag in tags], **extra,
            )
            audience.members[member.id] = member
            return member

    def forget(self, audience, email):
        """Delete a member permanently: the address can't be added again through the API."""
        with self.lock:
            member_id = subscriber_hash(email)
            audience.members.pop(member_id, None)
            audience.forgotten.add(member_id)

    def clean_merge_fields(self, audience, values, creating, skip_validation):
        """Return merge values as stored; raise MemberRejected listing each invalid or missing field."""
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise MemberRejected("Invalid Resource", "Your merge fields were invalid.",
                                 [("merge_fields", "Send an object keyed by merge tag")])
        cleaned, problems = {}, []
        for tag, value in values.items():
            definition = audience.merge_fields.get(tag)
            if definition is None:
                problems.append((tag, "This merge field does not exist in the audience"))
                continue
            try:
                cleaned[tag] = definition.clean(value)
            except ValueError as error:
                problems.append((tag, str(error)))
        if creating and not skip_validation:
            for tag, definition in audience.merge_fields.items():
                if definition.required and cleaned.get(tag) in (None, ""):
                    problems.append((tag, "Please enter a value"))
        if problems:
            raise MemberRejected("Invalid Resource", "Your merge fields were invalid.", problems)
        return cleaned

    def upsert_member(self, audience, item, update_existing=True, sync_tags=False, skip_merge_validation=False):
        """
        Add or update one member from an API body; return (member, created).

        `status` applies to new and existing members, `status_if_new` only to
        new ones. Raises MemberRejected with Mailchimp's message.
        """
        with self.lock:
            email = str(item.get("email_address") or "").strip()
            problem = address_problem(email)
            if problem:
                title = "Invalid Resource"
                raise MemberRejected(title, problem)
            member_id = subscriber_hash(email)
            if member_id in audience.forgotten:
                raise MemberRejected(
                    "Forgotten Email Not Subscribed",
                    f"{email} was permanently deleted and cannot be re-imported. The contact must re-subscribe "
                    "to get back on the list.",
                )
            existing = audience.members.get(member_id)
            status = item.get("status")
            if existing is not None and existing.status != "archived":
                if not update_existing:
                    raise MemberRejected(
                        "Member Exists",
                        f"{email} is already a list member. Use PUT to insert or update list members.",
                        code="ERROR_CONTACT_EXISTS",
                    )
                self.update_member(audience, existing, item, sync_tags, skip_merge_validation)
                return existing, False
            new_status = status or item.get("status_if_new")
            if not new_status:
                # NOTE: modelled; Mailchimp requires a status for new members but its message isn't documented.
                raise MemberRejected("Invalid Resource", f"{email} needs a status: send status or status_if_new.")
            if new_status == "cleaned":
                raise MemberRejected("Invalid Resource", f"{email} can't be added as cleaned: Mailchimp sets that status.")
            merge_values = self.clean_merge_fields(audience, item.get("merge_fields"), True, skip_merge_validation)
            if existing is not None:
                # An archived member comes back with the new values.
                del audience.members[member_id]
            member = self.add_member(audience, email, new_status, merge_values, timestamp=self.now())
            self._apply_common(member, item)
            self._apply_tags(audience, member, item.get("tags"), replace=True)
            return member, True

    def update_member(self, audience, member, item, sync_tags=False, skip_merge_validation=False):
        """Apply a PATCH-like body to an existing member; return True when anything changed."""
        with self.lock:
            status = item.get("status")
            if status is not None:
                if status not in WRITABLE_STATUSES:
                    raise MemberRejected("Invalid Resource", f"{status!r} is not a valid member status.")
                if status in ("subscribed", "pending") and member.status in COMPLIANCE_STATUSES:
                    raise MemberRejected(
                        "Member In Compliance State",
                        f"{member.email_address} is in a compliance state due to unsubscribe, bounce, or "
                        "compliance review and cannot be subscribed.",
                    )
            merge_values = self.clean_merge_fields(audience, item.get("merge_fields"), False, skip_merge_validation)
            before = self._snapshot(member)
            new_email = str(item.get("email_address") or "").strip()
            if new_email and subscriber_hash(new_email) != member.id:
                self._move(audience, member, new_email)
            elif new_email:
                member.email_address = new_email
            if status is not None:
                member.status = status
            member.merge_fields.update(merge_values)
            self._apply_common(member, item)
            if "tags" in item:
                self._apply_tags(audience, member, item.get("tags"), replace=sync_tags)
            changed = self._snapshot(member) != before
            if changed:
                member.last_changed = self.now()
            return changed

    def _move(self, audience, member, new_email):
        problem = address_problem(new_email)
        if problem:
            raise MemberRejected("Invalid Resource", problem)
        new_id = subscriber_hash(new_email)
        if new_id in audience.members:
            raise MemberRejected(
                "Member Exists", f"{new_email} is already a list member. Use PUT to insert or update list members.",
                code="ERROR_CONTACT_EXISTS",
            )
        if new_id in audience.forgotten:
            raise MemberRejected(
                "Forgotten Email Not Subscribed",
                f"{new_email} was permanently deleted and cannot be re-imported. The contact must re-subscribe "
                "to get back on the list.",
            )
        del audience.members[member.id]
        member.id = new_id
        member.email_address = new_email
        audience.members[new_id] = member

    def archive_member(self, audience, member):
        with self.lock:
            if member.status != "archived":
                member.status = "archived"
                member.last_changed = self.now()

    def set_tags(self, audience, member, tags):
        """Apply a tags request: each {"name", "status": "active" or "inactive"} adds or removes a tag."""
        with self.lock:
            names = [tag["name"] for tag in member.tags]
            for tag in tags:
                name = str(tag.get("name") or "").strip()
                if not name:
                    raise MemberRejected("Invalid Resource", "Each tag needs a name.")
                if tag.get("status") == "inactive":
                    names = [existing for existing in names if existing != name]
                elif name not in names:
                    names.append(name)
            new_tags = [{"id": audience.tag_id(name), "name": name} for name in names]
            if new_tags != member.tags:
                member.tags = new_tags
                member.last_changed = self.now()

    def _apply_common(self, member, item):
        for name in ("email_type", "language", "vip"):
            if name in item and item[name] is not None:
                setattr(member, name, item[name])

    def _apply_tags(self, audience, member, tags, replace):
        if tags is None:
            return
        names = [str(tag.get("name") if isinstance(tag, dict) else tag).strip() for tag in tags]
        names = [name for name in names if name]
        if not replace:
            names = [tag["name"] for tag in member.tags] + [name for name in names
                                                            if name not in {tag["name"] for tag in member.tags}]
        member.tags = [{"id": audience.tag_id(name), "name": name} for name in dict.fromkeys(names)]

    @staticmethod
    def _snapshot(member):
        return (member.email_address, member.status, dict(member.merge_fields), [tag["name"] for tag in member.tags],
                member.email_type, member.language, member.vip)


def render_member(member, audience, base_url):
    merge_fields = {tag: "" for tag in audience.merge_fields} | member.merge_fields
    first, last = merge_fields.get("FNAME") or "", merge_fields.get("LNAME") or ""
    return {
        "id": member.id,
        "email_address": member.email_address,
        "unique_email_id": member.unique_email_id,
        "contact_id": member.unique_email_id,
        "full_name": f"{first} {last}".strip(),
        "web_id": member.web_id,
        "email_type": member.email_type,
        "status": member.status,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merge_fields,
        "interests": {},
        "stats": {"avg_open_rate": member.avg_open_rate, "avg_click_rate": member.avg_click_rate},
        "ip_signup": "",
        "timestamp_signup": iso(member.timestamp_signup),
        "ip_opt": "",
        "timestamp_opt": iso(member.timestamp_signup) if member.status == "subscribed" else "",
        "member_rating": member.member_rating,
        "last_changed": iso(member.last_changed),
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0, "country_code": "", "timezone": "",
                     "region": ""},
        "source": member.source,
        "tags_count": len(member.tags),
        "tags": [dict(tag) for tag in member.tags],
        "list_id": audience.id,
        "_links": [{"rel": "self", "href": f"{base_url}/3.0/lists/{audience.id}/members/{member.id}", "method": "GET"}],
    }


def render_list(audience, account, base_url):
    counts = {status: 0 for status in MEMBER_STATUSES}
    last_signup = 0
    for member in audience.members.values():
        counts[member.status] += 1
        if member.status == "subscribed":
            last_signup = max(last_signup, member.timestamp_signup)
    return {
        "id": audience.id,
        "web_id": audience.web_id,
        "name": audience.name,
        "contact": {"company": account.name, "address1": "1 Sandbox Way", "address2": "", "city": "Atlanta",
                    "state": "GA", "zip": "30308", "country": "US", "phone": ""},
        "permission_reminder": "You signed up on our website.",
        "use_archive_bar": True,
        "campaign_defaults": {"from_name": account.name, "from_email": account.email, "subject": "", "language": "en"},
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": iso(audience.created),
        "list_rating": 3,
        "email_type_option": False,
        "subscribe_url_short": f"{base_url}/signup/{audience.web_id}",
        "subscribe_url_long": f"{base_url}/subscribe?id={audience.id}",
        "beamer_address": "",
        "visibility": "prv",
        "double_optin": False,
        "has_welcome": False,
        "marketing_permissions": False,
        "modules": [],
        "stats": {
            "member_count": counts["subscribed"],
            "unsubscribe_count": counts["unsubscribed"],
            "cleaned_count": counts["cleaned"],
            "member_count_since_send": counts["subscribed"],
            "unsubscribe_count_since_send": 0,
            "cleaned_count_since_send": 0,
            "campaign_count": 0,
            "merge_field_count": len(audience.merge_fields),
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
            "last_sub_date": iso(last_signup) if last_signup else "",
            "total_contacts": len(audience.members),
        },
    }
