"""
An in-memory provider for run tests: two tools' records held in dicts, no HTTP.

It keeps the provider contract (pages with cursors, lookups by normalised
email, per-record write outcomes) and counts its calls by kind the way the
HTTP session does, so runs can be checked for the calls they make.
"""

from collections import Counter

from connections.providers import register
from connections.providers.base import AccountIdentity, Provider
from connections.providers.types import FieldSpec, FieldType, Page, Record, WriteOutcome

PAGE_SIZE = 3

FIELDS = {
    "email": FieldSpec("email", "Email", FieldType.EMAIL),
    "plan": FieldSpec("plan", "Plan", FieldType.STRING, max_length=20),
    "tier": FieldSpec(
        "tier", "Tier", FieldType.ENUMERATION, options={"pro": "Pro", "starter": "Starter"}
    ),
    "seats": FieldSpec("seats", "Seats", FieldType.NUMBER),
}


class MemoryTool:
    """The data of one in-memory tool account, shared by every provider built for it."""

    def __init__(self):
        self.records = {}
        self.version = 0
        self.calls = Counter()
        self.fail_writes = {}  # record id → (category, message)
        self.crash_after_writes = None  # raise after this many write calls
        self.written_ids = []  # every record id written, in order, repeats included
        # When True, the provider's read_archived lists archived records, as
        # HubSpot's does, and read_changes leaves them out.
        self.lists_archived = False
        self.fail_archives = {}  # record id → (category, message)
        self.archived_ids = []  # every record id archived, in order, repeats included

    def add(self, record_id, email, **values):
        self.version += 1
        self.records[record_id] = {"email": email, "values": dict(values), "version": self.version}

    def archive(self, record_id):
        """Archive a record without changing its version, as HubSpot's archiving leaves the modified date alone."""
        self.records[record_id]["archived"] = True

    def change(self, record_id, **values):
        self.version += 1
        self.records[record_id]["values"].update(values)
        self.records[record_id]["version"] = self.version


TOOLS = {}


class KilledWorker(BaseException):
    """Stands for a worker process killed mid-run: not an Exception, so nothing catches it."""


@register
class MemoryProvider(Provider):
    name = "memorytool"
    label = "Memory tool"
    objects = {"person": "People"}
    lookup_batch_size = 2
    write_batch_size = 2

    def __init__(self, connection, session=None):
        super().__init__(connection, session)
        self.tool = TOOLS[connection.account_id]

    def _count(self, kind):
        """Count a call for this run (the provider's session) and for the tool's lifetime."""
        self.http.calls[kind] += 1
        self.tool.calls[kind] += 1

    def verify(self):
        return AccountIdentity(self.connection.account_id, "Memory")

    def list_fields(self, object_name):
        return list(FIELDS.values())

    def _record(self, record_id, field_names):
        data = self.tool.records[record_id]
        return Record(
            id=record_id,
            email=data["email"],
            values={name: data["values"].get(name) for name in field_names},
            deleted=data.get("deleted", False) or data.get("archived", False),
        )

    def read_changes(self, object_name, field_names, cursor=None):
        since = int(cursor or 0)
        changed = sorted(
            (data["version"], record_id)
            for record_id, data in self.tool.records.items()
            if data["version"] > since and not (self.tool.lists_archived and data.get("archived"))
        )
        for start in range(0, len(changed), PAGE_SIZE):
            page = changed[start : start + PAGE_SIZE]
            self._count("read")
            yield Page(
                records=[self._record(record_id, field_names) for _version, record_id in page],
                cursor=str(page[-1][0]),
                has_more=start + PAGE_SIZE < len(changed),
            )

    def read_archived(self, object_name, field_names, cursor=None):
        """Yield every archived record, whatever the cursor, in pages; nothing unless the tool lists archived records."""
        if not self.tool.lists_archived:
            return
        archived = sorted(record_id for record_id, data in self.tool.records.items() if data.get("archived"))
        for start in range(0, len(archived), PAGE_SIZE):
            self._count("read")
            yield Page(
                records=[self._record(record_id, field_names) for record_id in archived[start : start + PAGE_SIZE]],
                cursor=None,
                has_more=start + PAGE_SIZE < len(archived),
            )

    def lookup_by_email(self, object_name, emails, field_names):
        self._count("search")
        found = {}
        for record_id, data in self.tool.records.items():
            email = (data["email"] or "").strip().lower()
            if email in emails:
                found.setdefault(email, []).append(self._record(record_id, field_names))
        return found

    def fetch_by_ids(self, object_name, record_ids, field_names):
        self._count("read")
        return {record_id: self._record(record_id, field_names) for record_id in record_ids if record_id in self.tool.records}

    def write(self, object_name, writes):
        self._count("write")
        if self.tool.crash_after_writes is not None:
            if self.tool.calls["write"] > self.tool.crash_after_writes:
                raise KilledWorker()
        outcomes = []
        for write in writes:
            if write.record_id in self.tool.fail_writes:
                category, message = self.tool.fail_writes[write.record_id]
                outcomes.append(WriteOutcome(write.key, False, write.record_id, category, message))
                continue
            self.tool.change(write.record_id, **write.values)
            self.tool.written_ids.append(write.record_id)
            outcomes.append(WriteOutcome(write.key, True, write.record_id))
        return outcomes

    def create(self, object_name, writes):
        self._count("write")
        outcomes = []
        for write in writes:
            record_id = f"new-{len(self.tool.records) + 1}"
            self.tool.add(record_id, write.key, **write.values)
            outcomes.append(WriteOutcome(write.key, True, record_id))
        return outcomes

    def archive(self, object_name, record_ids):
        self._count("write")
        outcomes = []
        for record_id in record_ids:
            if record_id in self.tool.fail_archives:
                category, message = self.tool.fail_archives[record_id]
                outcomes.append(WriteOutcome(record_id, False, record_id, category, message))
                continue
            self.tool.archive(record_id)
            self.tool.archived_ids.append(record_id)
            outcomes.append(WriteOutcome(record_id, True, record_id))
        return outcomes
