"""
Helpers of the sync page, API and admin tests: a fake provider and the fixtures built on it.

"faketool" offers two objects, customers and contacts, with fixed fields.
Its records live in memory per account and it sends no HTTP request, so a
run or a preview executes inline. Test modules import the fixtures they use
from here.
"""

from collections import Counter

import pytest

from connections.models import Connection
from connections import providers
from connections.providers import all_providers, register
from connections.providers.base import AccountIdentity, Provider
from connections.providers.types import FieldSpec, FieldType, Page, Record, WriteOutcome
from syncs.models import Direction, FieldMapping, RecordFailure, Sync

CUSTOMER_FIELDS = [
    FieldSpec("email", "Email", FieldType.EMAIL),
    FieldSpec("name", "Name", FieldType.STRING, max_length=40),
    FieldSpec("plan", "Plan", FieldType.ENUMERATION, options={"pro": "Pro", "starter": "Starter"}),
    FieldSpec("mrr", "MRR", FieldType.NUMBER, writable=False, derived=True),
]
CONTACT_FIELDS = [
    FieldSpec("email", "Email", FieldType.EMAIL),
    FieldSpec("name", "Name", FieldType.STRING),
    FieldSpec("tier", "Tier", FieldType.ENUMERATION, options={"gold": "Gold", "silver": "Silver"}),
    FieldSpec("phone", "Phone", FieldType.STRING),
    FieldSpec("created", "Created", FieldType.DATETIME, writable=False),
]
FIELDS = {"customer": CUSTOMER_FIELDS, "contact": CONTACT_FIELDS}


class FakeAccount:
    """The records of one fake tool account, by object and id, with a change counter as cursor."""

    def __init__(self):
        self.records = {"customer": {}, "contact": {}}
        self.version = 0
        self.calls = Counter()

    def add(self, object_name, record_id, email, **values):
        self.version += 1
        self.records[object_name][record_id] = {"email": email, "values": dict(values), "version": self.version}

    def values(self, object_name, record_id):
        return self.records[object_name][record_id]["values"]


ACCOUNTS = {}


class FakeProvider(Provider):
    name = "faketool"
    label = "Faketool"
    objects = {"customer": "Customers", "contact": "Contacts"}

    def __init__(self, connection, session=None):
        super().__init__(connection, session)
        self.account = ACCOUNTS.setdefault(connection.account_id, FakeAccount())
        self.http.calls = self.account.calls

    def verify(self):
        return AccountIdentity(self.connection.account_id, "Fake account")

    def list_fields(self, object_name):
        self.account.calls["read"] += 1
        return list(FIELDS[object_name])

    def _record(self, object_name, record_id, field_names):
        data = self.account.records[object_name][record_id]
        return Record(id=record_id, email=data["email"], values={name: data["values"].get(name) for name in field_names})

    def read_changes(self, object_name, field_names, cursor=None):
        since = int(cursor or 0)
        changed = sorted(
            (data["version"], record_id)
            for record_id, data in self.account.records[object_name].items()
            if data["version"] > since
        )
        self.account.calls["read"] += 1
        yield Page(
            records=[self._record(object_name, record_id, field_names) for _version, record_id in changed],
            cursor=str(changed[-1][0]) if changed else cursor,
            has_more=False,
        )

    def lookup_by_email(self, object_name, emails, field_names):
        self.account.calls["search"] += 1
        found = {}
        for record_id, data in self.account.records[object_name].items():
            email = (data["email"] or "").strip().lower()
            if email in emails:
                found.setdefault(email, []).append(self._record(object_name, record_id, field_names))
        return found

    def write(self, object_name, writes):
        self.account.calls["write"] += 1
        outcomes = []
        for write in writes:
            record = self.account.records[object_name][write.record_id]
            record["values"].update(write.values)
            self.account.version += 1
            record["version"] = self.account.version
            outcomes.append(WriteOutcome(write.key, True, write.record_id))
        return outcomes

    def create(self, object_name, writes):
        self.account.calls["write"] += 1
        outcomes = []
        for write in writes:
            record_id = f"new-{len(self.account.records[object_name]) + 1}"
            self.account.add(object_name, record_id, write.key, **write.values)
            outcomes.append(WriteOutcome(write.key, True, record_id))
        return outcomes


def make_connection(workspace, account_id, name=None, status=Connection.Status.ACTIVE):
    connection = Connection(
        workspace=workspace,
        provider="faketool",
        display_name=name or account_id.capitalize(),
        account_id=account_id,
        auth_method=Connection.AuthMethod.API_KEY,
        status=status,
    )
    connection.set_credentials({"api_key": "x"})
    connection.save()
    return connection


@pytest.fixture(autouse=True)
def fake_accounts():
    """
    Register FakeProvider as "faketool" with empty in-memory accounts for one test.

    The connection tests register a provider of the same name for their own
    tests, so whatever was registered before is put back afterwards.
    """
    # Load the real providers first: the registry imports them only while it is empty.
    all_providers()
    previous = providers._registry.get(FakeProvider.name)
    register(FakeProvider)
    ACCOUNTS.clear()
    yield ACCOUNTS
    ACCOUNTS.clear()
    if previous is None:
        providers._registry.pop(FakeProvider.name, None)
    else:
        register(previous)


@pytest.fixture
def billing(workspace):
    """Side A: a fake billing tool whose customers are the source of truth for names and plans."""
    return make_connection(workspace, "billing")


@pytest.fixture
def crm(workspace):
    """Side B: a fake CRM whose contacts receive the values."""
    return make_connection(workspace, "crm")


@pytest.fixture
def foreign_connection(other_workspace):
    return make_connection(other_workspace, "globex", "Globex billing")


@pytest.fixture
def sync(workspace, billing, crm):
    """Customers of billing → contacts of crm: name to name, and plan to tier through a value map."""
    sync = Sync.objects.create(
        workspace=workspace,
        name="Billing to CRM",
        connection_a=billing,
        object_a="customer",
        connection_b=crm,
        object_b="contact",
    )
    FieldMapping.objects.create(
        sync=sync, direction=Direction.A_TO_B, source_field="name", destination_field="name", position=0
    )
    FieldMapping.objects.create(
        sync=sync,
        direction=Direction.A_TO_B,
        source_field="plan",
        destination_field="tier",
        transform={"value_map": {"pro": "gold", "starter": "silver"}},
        position=1,
    )
    return sync


@pytest.fixture
def foreign_sync(other_workspace):
    return Sync.objects.create(
        workspace=other_workspace,
        name="Globex sync",
        connection_a=make_connection(other_workspace, "globex-a"),
        object_a="customer",
        connection_b=make_connection(other_workspace, "globex-b"),
        object_b="contact",
    )


@pytest.fixture
def seeded(fake_accounts):
    """Two customers in billing and the two matching contacts in crm, with stale names and tiers."""
    billing_account = ACCOUNTS.setdefault("billing", FakeAccount())
    crm_account = ACCOUNTS.setdefault("crm", FakeAccount())
    billing_account.add("customer", "cus_1", "ana@example.com", name="Ana Lima", plan="pro")
    billing_account.add("customer", "cus_2", "bo@example.com", name="Bo Chen", plan="starter")
    crm_account.add("contact", "c_1", "Ana@Example.com", name="Ana", tier="silver")
    crm_account.add("contact", "c_2", "bo@example.com", name="Bo", tier="silver")
    return billing_account, crm_account


def make_failure(sync, record_key="ana@example.com", category="rate_limited", status=RecordFailure.Status.OPEN, **extra):
    return RecordFailure.objects.create(
        sync=sync,
        record_key=record_key,
        direction=extra.pop("direction", Direction.A_TO_B),
        category=category,
        message=extra.pop("message", f"{category} for {record_key}"),
        values=extra.pop("values", {"name": "Ana Lima"}),
        status=status,
        **extra,
    )


def mapping_rows(sync):
    """Return a sync's stored mappings as comparable tuples."""
    return list(sync.mappings.order_by("position").values_list("direction", "source_field", "destination_field", "transform"))
