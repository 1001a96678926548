"""
Data of one HubSpot sandbox portal: property definitions, CRM records, search.

Property values are stored as the strings HubSpot keeps: numbers as given,
dates and datetimes as epoch milliseconds, booleans as "true"/"false". They
are rendered as HubSpot's v3 API returns them: datetimes as ISO 8601 with
milliseconds, dates as YYYY-MM-DD.
"""

import datetime
import fnmatch
import json
import math
import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from connections.providers.timestamps import iso_date, iso_milliseconds

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DAY_MS = 86400 * 1000
SEARCH_CACHE_SIZE = 16
TOKEN_SEPARATORS = re.compile(r"[\s;,]+")


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    label: str
    type: str
    field_type: str
    group: str
    options: tuple = ()
    read_only: bool = False
    hubspot_defined: bool = True
    integer_only: bool = False
    unique: bool = False

    def option_values(self):
        return [value for value, _ in self.options]

    def render(self, display_order, created_at):
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": self.group,
            "options": [
                {"label": label, "value": value, "hidden": False, "displayOrder": order}
                for order, (value, label) in enumerate(self.options)
            ],
            "displayOrder": display_order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            # The sandbox portal keeps no sensitive data, so no property is marked "sensitive" or "highly_sensitive".
            "dataSensitivity": "non_sensitive",
            "createdAt": created_at,
            "updatedAt": created_at,
            "archived": False,
        }


def _text(name, label, group="contactinformation", **extra):
    return PropertyDefinition(name, label, "string", "text", group, **extra)


LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)

# Custom properties the demo maps Stripe data to. Their options deliberately
# leave out some Stripe values (subscription statuses paused and
# incomplete_expired, the Enterprise plan), so a sync meets rejected values.
SUBSCRIPTION_STATUS_OPTIONS = (
    ("active", "Active"),
    ("past_due", "Past due"),
    ("canceled", "Canceled"),
    ("trialing", "Trialing"),
    ("unpaid", "Unpaid"),
    ("incomplete", "Incomplete"),
)
PLAN_TIER_OPTIONS = (("starter", "Starter"), ("growth", "Growth"), ("pro", "Pro"))

CONTACT_PROPERTIES = (
    _text("email", "Email", unique=True),
    _text("firstname", "First Name"),
    _text("lastname", "Last Name"),
    PropertyDefinition("phone", "Phone Number", "string", "phonenumber", "contactinformation"),
    _text("company", "Company Name"),
    _text("jobtitle", "Job Title"),
    _text("website", "Website URL"),
    PropertyDefinition("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", LIFECYCLE_STAGES),
    PropertyDefinition("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
                       "contactinformation", read_only=True),
    PropertyDefinition("createdate", "Create Date", "datetime", "date", "contactinformation", read_only=True),
    PropertyDefinition("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", read_only=True),
    PropertyDefinition("hs_object_id", "Record ID", "number", "number", "contactinformation", read_only=True),
    PropertyDefinition("subscription_status", "Subscription status", "enumeration", "select", "billing",
                       SUBSCRIPTION_STATUS_OPTIONS, hubspot_defined=False),
    PropertyDefinition("plan_tier", "Plan tier", "enumeration", "select", "billing", PLAN_TIER_OPTIONS,
                       hubspot_defined=False),
    PropertyDefinition("mrr", "MRR", "number", "number", "billing", hubspot_defined=False),
    PropertyDefinition("lifetime_revenue", "Lifetime revenue", "number", "number", "billing", hubspot_defined=False),
    PropertyDefinition("customer_since", "Customer since", "date", "date", "billing", hubspot_defined=False),
    PropertyDefinition("seats", "Seats", "number", "number", "billing", hubspot_defined=False, integer_only=True),
    PropertyDefinition("paying_customer", "Paying customer", "bool", "booleancheckbox", "billing",
                       (("true", "Yes"), ("false", "No")), hubspot_defined=False),
    _text("stripe_customer_id", "Stripe customer ID", "billing", hubspot_defined=False),
    # Support facts the demo maps from Zendesk users.
    PropertyDefinition("ticket_count", "Ticket count", "number", "number", "support", hubspot_defined=False,
                       integer_only=True),
    PropertyDefinition("open_ticket_count", "Open ticket count", "number", "number", "support",
                       hubspot_defined=False, integer_only=True),
    PropertyDefinition("last_ticket_date", "Last ticket date", "date", "date", "support", hubspot_defined=False),
)

INDUSTRIES = (
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    ("RETAIL", "Retail"),
)

COMPANY_PROPERTIES = (
    _text("name", "Company name", "companyinformation"),
    _text("domain", "Company Domain Name", "companyinformation"),
    PropertyDefinition("industry", "Industry", "enumeration", "select", "companyinformation", INDUSTRIES),
    PropertyDefinition("numberofemployees", "Number of Employees", "number", "number", "companyinformation",
                       integer_only=True),
    PropertyDefinition("annualrevenue", "Annual Revenue", "number", "number", "companyinformation"),
    _text("city", "City", "companyinformation"),
    _text("country", "Country/Region", "companyinformation"),
    PropertyDefinition("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "companyinformation", LIFECYCLE_STAGES),
    PropertyDefinition("createdate", "Create Date", "datetime", "date", "companyinformation", read_only=True),
    PropertyDefinition("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "companyinformation",
                       read_only=True),
    PropertyDefinition("hs_object_id", "Record ID", "number", "number", "companyinformation", read_only=True),
)

OBJECT_TYPES = {
    "contacts": {
        "properties": CONTACT_PROPERTIES,
        "modified": "lastmodifieddate",
        "default_properties": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        "always_properties": ("createdate", "hs_object_id", "lastmodifieddate"),
        "query_properties": ("email", "firstname", "lastname", "phone", "company"),
        "label": "CONTACT",
    },
    "companies": {
        "properties": COMPANY_PROPERTIES,
        "modified": "hs_lastmodifieddate",
        "default_properties": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        "always_properties": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
        "query_properties": ("name", "domain", "website", "phone"),
        "label": "COMPANY",
    },
}


@dataclass(slots=True)
class CrmRecord:
    id: int
    properties: dict
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None


class PropertyError(Exception):
    """A rejected property value: HubSpot's error code and message for it."""

    def __init__(self, code, message, name):
        super().__init__(message)
        self.code = code
        self.message = message
        self.name = name


def iso_from_ms(ms):
    """Return epoch milliseconds as HubSpot's ISO 8601 UTC text with milliseconds."""
    return iso_milliseconds(ms)


def date_from_ms(ms):
    return iso_date(int(ms) // 1000)


def parse_timestamp_ms(text):
    """Read epoch milliseconds or ISO 8601 (date or datetime, UTC if no offset); return None if neither."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def coerce_value(definition, raw):
    """
    Validate a value for a property and return the string to store.

    Raises PropertyError with HubSpot's code: INVALID_OPTION,
    INVALID_INTEGER, INVALID_DECIMAL, INVALID_DATE, INVALID_DATETIME,
    INVALID_BOOLEAN, INVALID_EMAIL or READ_ONLY_VALUE. An empty string clears
    the value.
    """
    name = definition.name
    if definition.read_only:
        raise PropertyError("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.', name)
    if raw is None:
        return ""
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    elif isinstance(raw, (int, float)):
        raw = repr(raw) if isinstance(raw, float) else str(raw)
    elif not isinstance(raw, str):
        raise PropertyError("INVALID_PROPERTY_VALUE", f"{json.dumps(raw)} is not a valid value for {name}: send a string.", name)
    value = raw
    if value == "":
        return ""
    if definition.type == "enumeration":
        allowed = definition.option_values()
        chosen = value.split(";") if definition.field_type == "checkbox" else [value]
        for item in chosen:
            if item not in allowed:
                raise PropertyError(
                    "INVALID_OPTION",
                    f"{item} was not one of the allowed options: [{', '.join(allowed)}]",
                    name,
                )
        return value
    if definition.type == "number":
        return _coerce_number(definition, value)
    if definition.type == "date":
        ms = parse_timestamp_ms(value)
        if ms is None or ms % DAY_MS:
            raise PropertyError(
                "INVALID_DATE",
                f"{value} is not a valid date for {name}: send midnight UTC in epoch milliseconds, "
                "for example 1430438400000 for 2015-05-01.",
                name,
            )
        return str(ms)
    if definition.type == "datetime":
        ms = parse_timestamp_ms(value)
        if ms is None:
            raise PropertyError(
                "INVALID_DATETIME", f"{value} is not a valid datetime for {name}: send epoch milliseconds or ISO 8601.", name
            )
        return str(ms)
    if definition.type == "bool":
        if value.lower() not in ("true", "false"):
            raise PropertyError("INVALID_BOOLEAN", f"{value} is not a valid boolean for {name}: send true or false.", name)
        return value.lower()
    if name == "email" and not EMAIL_PATTERN.match(value):
        raise PropertyError("INVALID_EMAIL", f"Email address {value} is invalid", name)
    return value


def _coerce_number(definition, value):
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    code = "INVALID_INTEGER" if definition.integer_only else "INVALID_DECIMAL"
    if math.isnan(number) or math.isinf(number):
        raise PropertyError(code, f"{value} is not a valid number for {definition.name}.", definition.name)
    if definition.integer_only and not number.is_integer():
        raise PropertyError(code, f"{value} is not a valid integer for {definition.name}.", definition.name)
    return value.strip()


@dataclass
class ObjectStore:
    """Records of one object type in id order, with an email index for contacts."""

    object_type: str
    records: dict = field(default_factory=dict)
    email_index: dict = field(default_factory=lambda: defaultdict(list))

    def index_email(self, record):
        email = record.properties.get("email")
        if email:
            self.email_index[email.casefold()].append(record.id)

    def unindex_email(self, record):
        email = record.properties.get("email")
        if email:
            ids = self.email_index.get(email.casefold(), [])
            if record.id in ids:
                ids.remove(record.id)

    def active_by_email(self, email):
        """Return the live records whose primary email equals `email`, ignoring case, oldest first."""
        ids = self.email_index.get(email.casefold(), [])
        return [self.records[i] for i in ids if not self.records[i].archived]


class HubSpotPortal:
    """One HubSpot portal: its property definitions and records, behind one lock."""

    def __init__(self, portal_id, name, clock, time_zone="US/Eastern", currency="USD"):
        self.portal_id = portal_id
        self.name = name
        self.clock = clock
        self.time_zone = time_zone
        self.currency = currency
        self.lock = threading.RLock()
        self.created_ms = int(clock.now() * 1000) - 3 * 365 * DAY_MS
        self.definitions = {
            object_type: {definition.name: definition for definition in config["properties"]}
            for object_type, config in OBJECT_TYPES.items()
        }
        self.stores = {object_type: ObjectStore(object_type) for object_type in OBJECT_TYPES}
        self._next_id = 101
        self._last_ms = 0
        self.version = 0
        self._search_cache = OrderedDict()

    def now_ms(self):
        """Return the current time in ms, strictly increasing so every change gets its own modification time."""
        now = int(self.clock.now() * 1000)
        self._last_ms = max(now, self._last_ms + 1)
        return self._last_ms

    def _changed(self):
        self.version += 1
        self._search_cache.clear()

    # Property definitions

    def add_property(self, object_type, definition):
        """Add (or replace) a property definition, e.g. a custom property a test needs."""
        with self.lock:
            self.definitions[object_type][definition.name] = definition

    def definition(self, object_type, name):
        return self.definitions[object_type].get(name)

    # Records

    def validate_properties(self, object_type, properties):
        """Return (values to store, list of PropertyError) for a property map."""
        values, errors = {}, []
        for name, raw in properties.items():
            definition = self.definition(object_type, name)
            if definition is None:
                errors.append(PropertyError("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist', name))
                continue
            try:
                values[name] = coerce_value(definition, raw)
            except PropertyError as error:
                errors.append(error)
        return values, errors

    def create_record(self, object_type, properties, created_ms=None):
        """Store a new record with already-validated values; return it."""
        with self.lock:
            created_ms = created_ms or self.now_ms()
            record = CrmRecord(
                id=self._next_id,
                properties={name: value for name, value in properties.items() if value != ""},
                created_ms=created_ms,
                updated_ms=created_ms,
            )
            self._next_id += 1
            store = self.stores[object_type]
            store.records[record.id] = record
            if object_type == "contacts":
                store.index_email(record)
            self._changed()
            return record

    def update_record(self, object_type, record_id, values):
        """Write already-validated values; an empty string clears the property. Returns the record."""
        with self.lock:
            store = self.stores[object_type]
            record = store.records[record_id]
            email_changes = object_type == "contacts" and "email" in values
            if email_changes:
                store.unindex_email(record)
            changed = False
            for name, value in values.items():
                if value == "":
                    changed |= record.properties.pop(name, None) is not None
                elif record.properties.get(name) != value:
                    record.properties[name] = value
                    changed = True
            if email_changes:
                store.index_email(record)
            if changed:
                record.updated_ms = self.now_ms()
                self._changed()
            return record

    def set_properties(self, object_type, record_id, properties):
        """Validate and write values, as a scenario helper; raise ValueError naming the rejected values."""
        values, errors = self.validate_properties(object_type, properties)
        if errors:
            raise ValueError("; ".join(f"{error.name}: {error.message}" for error in errors))
        return self.update_record(object_type, record_id, values)

    def archive_record(self, object_type, record_id):
        """Archive a record once; like HubSpot, archiving leaves its modification date and properties as they are."""
        with self.lock:
            record = self.stores[object_type].records[record_id]
            if not record.archived:
                record.archived = True
                record.archived_ms = self.now_ms()
                self._changed()
            return record

    def get_record(self, object_type, record_id, archived=False):
        record = self.stores[object_type].records.get(record_id)
        if record is None or record.archived != archived:
            return None
        return record

    def find_by_property(self, object_type, name, value):
        """Return the live records whose `name` equals `value` (emails ignore case)."""
        store = self.stores[object_type]
        if name == "email" and object_type == "contacts":
            return store.active_by_email(value)
        if name == "hs_object_id":
            record = self.get_record(object_type, int(value)) if str(value).isdigit() else None
            return [record] if record else []
        return [
            record for record in store.records.values()
            if not record.archived and record.properties.get(name) == value
        ]

    def value_of(self, object_type, record, name):
        """Return the stored string of a property, including the system ones, or None."""
        if name == "hs_object_id":
            return str(record.id)
        if name == "createdate":
            return str(record.created_ms)
        if name == OBJECT_TYPES[object_type]["modified"]:
            return str(record.updated_ms)
        return record.properties.get(name)

    def render_value(self, object_type, name, stored):
        if stored is None:
            return None
        definition = self.definition(object_type, name)
        if definition is not None and definition.type == "datetime":
            return iso_from_ms(int(stored))
        if definition is not None and definition.type == "date":
            return date_from_ms(int(stored))
        return stored

    def render_record(self, object_type, record, properties=None):
        """
        Render a record as the v3 API does: requested (or default) properties as strings.

        HubSpot adds the creation date, record id and last-modified date to
        every record it returns, whichever properties were requested.
        """
        config = OBJECT_TYPES[object_type]
        names = sorted({*(properties or config["default_properties"]), *config["always_properties"]})
        rendered_properties = {}
        for name in names:
            if self.definition(object_type, name) is None:
                continue
            rendered_properties[name] = self.render_value(object_type, name, self.value_of(object_type, record, name))
        rendered = {
            "id": str(record.id),
            "properties": rendered_properties,
            "createdAt": iso_from_ms(record.created_ms),
            "updatedAt": iso_from_ms(record.updated_ms),
            "archived": record.archived,
        }
        if record.archived:
            rendered["archivedAt"] = iso_from_ms(record.archived_ms)
        return rendered

    # Search

    def search(self, object_type, filter_groups, sorts, query):
        """
        Return the ids of live records matching a validated search, in result order.

        Results of the last few searches are cached until the next change, so
        paging through a large result with `after` costs one scan.
        """
        key = json.dumps([object_type, filter_groups, sorts, query], sort_keys=True)
        with self.lock:
            cached = self._search_cache.get(key)
            if cached is not None:
                self._search_cache.move_to_end(key)
                return cached
            records = self._candidates(object_type, filter_groups)
            matched = [
                record for record in records
                if not record.archived
                and self._matches_query(object_type, record, query)
                and (not filter_groups or any(self._matches_group(object_type, record, group) for group in filter_groups))
            ]
            ids = [record.id for record in self._sorted(object_type, matched, sorts)]
            self._search_cache[key] = ids
            if len(self._search_cache) > SEARCH_CACHE_SIZE:
                self._search_cache.popitem(last=False)
            return ids

    def _candidates(self, object_type, filter_groups):
        """Narrow the scan through the email index when every group pins the email."""
        store = self.stores[object_type]
        if object_type != "contacts" or not filter_groups:
            return store.records.values()
        emails = set()
        for group in filter_groups:
            pinned = [f for f in group["filters"] if f["propertyName"] == "email" and f["operator"] in ("EQ", "IN")]
            if not pinned:
                return store.records.values()
            first = pinned[0]
            emails.update(first.get("values") or [] if first["operator"] == "IN" else [first.get("value", "")])
        ids = sorted({record_id for email in emails for record_id in store.email_index.get(str(email).casefold(), [])})
        return [store.records[record_id] for record_id in ids]

    def _matches_query(self, object_type, record, query):
        if not query:
            return True
        expected = query.casefold()
        return any(
            expected in (record.properties.get(name) or "").casefold()
            for name in OBJECT_TYPES[object_type]["query_properties"]
        )

    def _matches_group(self, object_type, record, group):
        return all(self._matches_filter(object_type, record, item) for item in group["filters"])

    def _matches_filter(self, object_type, record, item):
        name, operator = item["propertyName"], item["operator"]
        stored = self.value_of(object_type, record, name)
        if operator == "HAS_PROPERTY":
            return stored not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return stored in (None, "")
        definition = self.definition(object_type, name)
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(item.get("value", "")).casefold()
            tokens = TOKEN_SEPARATORS.split((stored or "").casefold())
            found = any(fnmatch.fnmatchcase(token, pattern) for token in tokens if token)
            return found if operator == "CONTAINS_TOKEN" else not found
        if stored in (None, ""):
            return operator in ("NEQ", "NOT_IN")
        actual = comparable(definition, stored)
        if operator in ("IN", "NOT_IN"):
            values = {comparable(definition, str(value)) for value in item.get("values") or []}
            return (actual in values) == (operator == "IN")
        if operator == "BETWEEN":
            low = comparable(definition, str(item.get("value")))
            high = comparable(definition, str(item.get("highValue")))
            return _compare(low, actual, "LTE") and _compare(actual, high, "LTE")
        return _compare(actual, comparable(definition, str(item.get("value", ""))), operator)

    def _sorted(self, object_type, records, sorts):
        if not sorts:
            return sorted(records, key=lambda record: record.id)
        name, descending = sorts[0]
        definition = self.definition(object_type, name)

        def sort_key(record):
            stored = self.value_of(object_type, record, name)
            value = comparable(definition, stored) if stored not in (None, "") else None
            # Records without a value go last in either direction.
            return (value is None, value if value is not None else 0, record.id)

        present = [record for record in records if self.value_of(object_type, record, name) not in (None, "")]
        absent = [record for record in records if self.value_of(object_type, record, name) in (None, "")]
        present.sort(key=sort_key, reverse=descending)
        return present + sorted(absent, key=lambda record: record.id)


def comparable(definition, text):
    """Turn a stored or filter value into something to compare, as HubSpot compares that type."""
    kind = definition.type if definition else "string"
    if kind in ("number",):
        try:
            return float(text)
        except ValueError:
            return math.nan
    if kind in ("date", "datetime"):
        ms = parse_timestamp_ms(text)
        return ms if ms is not None else math.nan
    return text.casefold()


def _compare(left, right, operator):
    try:
        if operator == "EQ":
            return left == right
        if operator == "NEQ":
            return left != right
        if operator == "GT":
            return left > right
        if operator == "GTE":
            return left >= right
        if operator == "LT":
            return left < right
        if operator == "LTE":
            return left <= right
    except TypeError:
        return False
    return False
