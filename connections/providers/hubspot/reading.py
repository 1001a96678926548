"""
Reading HubSpot records: the first full listing, incremental search windows and archived records.

The cursor is a JSON object in one of two forms:

- {"list_after": "<paging token>", "since_ms": 1733270400000} while the
  first full listing is under way: the listing resumes after that page, and
  `since_ms` (HubSpot's clock when the listing started, from the Date
  header) becomes the incremental cursor once the listing ends.
- {"modified_ms": 1733270400000, "ids": ["401", "402"]} afterwards: the last
  modification time handled, in epoch milliseconds, and the ids of the
  records handled at exactly that millisecond, so that a search from that
  time (GTE) skips them instead of reading them again.

A bare number of milliseconds is accepted as {"modified_ms": n, "ids": []}.
"""

import email.utils
import json
import time
from dataclasses import dataclass, field

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory, Page, Record

from .wire import iso_from_ms, milliseconds, parse_timestamp_ms

LIST_PAGE_SIZE = 100
# A batch read takes at most 100 inputs.
BATCH_READ_INPUTS = 100
SEARCH_PAGE_SIZE = 200
# A search query returns at most 10,000 results in all; asking for a page
# past that fails, so a new query window starts before it.
SEARCH_RESULT_LIMIT = 10_000


@dataclass
class ReadCursor:
    """A decoded read cursor; see the module docstring for its JSON forms."""

    modified_ms: int | None = None
    ids: list[str] = field(default_factory=list)
    list_after: str | None = None
    since_ms: int | None = None

    @classmethod
    def loads(cls, text):
        """Decode a stored cursor; None starts a full listing. Raises ValueError naming a cursor it can't read."""
        if text is None or text == "":
            return None
        text = str(text).strip()
        if text.isdigit():
            return cls(modified_ms=int(text))
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("list_after"):
            return cls(list_after=str(data["list_after"]), since_ms=_int_or_none(data.get("since_ms")))
        if isinstance(data, dict) and _int_or_none(data.get("modified_ms")) is not None:
            return cls(modified_ms=int(data["modified_ms"]), ids=[str(item) for item in data.get("ids") or []])
        raise ValueError(
            f"The HubSpot read cursor {text[:100]!r} is not readable: expected epoch milliseconds or "
            'a JSON object with "modified_ms" or "list_after". Reset the sync\'s cursor to read all records again.'
        )

    def dumps(self):
        if self.list_after:
            return json.dumps({"list_after": self.list_after, "since_ms": self.since_ms})
        return json.dumps({"modified_ms": self.modified_ms, "ids": self.ids})


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def split_emails(value):
    """Split HubSpot's ";"-separated hs_additional_emails into trimmed addresses."""
    if not value:
        return ()
    return tuple(part.strip() for part in str(value).split(";") if part.strip())


def server_time_ms(response):
    """Return HubSpot's clock from a response's Date header in epoch ms, or this machine's clock without one."""
    header = response.headers.get("Date")
    if header:
        try:
            return milliseconds(email.utils.parsedate_to_datetime(header))
        except (TypeError, ValueError, IndexError):
            pass
    return int(time.time() * 1000)


class ReadingMixin:
    """read_changes, read_archived and the conversion of HubSpot objects into Records."""

    list_page_size = LIST_PAGE_SIZE
    search_page_size = SEARCH_PAGE_SIZE
    search_result_limit = SEARCH_RESULT_LIMIT

    def read_changes(self, object_name, field_names, cursor=None):
        """
        Yield pages of records changed since `cursor`, or of all live records when it is None.

        The first run lists every record (limit 100, following paging.next.after
        to the last page). Later runs search on the last-modified property,
        ascending, 200 a page, and start a new query window from the last
        modification time seen before a window reaches HubSpot's 10,000-result
        limit. Archived records don't appear here because archiving doesn't
        change the modification time: read them with read_archived().
        """
        config = self.object_config(object_name)
        properties = self.properties_to_request(config, field_names)
        state = ReadCursor.loads(cursor)
        if state is None or state.list_after:
            yield from self._list_all(config, properties, field_names, state)
        else:
            yield from self._search_changes(config, properties, field_names, state)

    def read_archived(self, object_name, field_names, cursor=None):
        """
        Yield pages of archived records (Record.deleted set), following paging.next.after.

        `cursor` is the paging token of the page to start from. HubSpot gives no
        way to ask for records archived since a time, so every call lists all
        archived records and the caller must remember which ids it already
        handled.
        """
        config = self.object_config(object_name)
        properties = self.properties_to_request(config, field_names)
        after = cursor or None
        while True:
            params = {"limit": self.list_page_size, "properties": ",".join(properties), "archived": "true"}
            if after:
                params["after"] = after
            response = self.request("GET", f"/crm/v3/objects/{config.path}", params=params)
            body = self.http.json(response)
            records = [self.to_record(config, result, field_names, deleted=True) for result in body.get("results") or []]
            after = next_after(body)
            yield Page(records=records, cursor=after, has_more=bool(after))
            if not after:
                return

    def fetch_by_ids(self, object_name, record_ids, field_names):
        """
        Return the live records with the given ids, keyed by id, read with batch/read 100 at a time.

        Records linked by an earlier run are found this way after their
        email changed. An id HubSpot no longer has is left out, so matching
        falls back to the email.
        """
        config = self.object_config(object_name)
        properties = self.properties_to_request(config, field_names)
        records = {}
        ids = list(dict.fromkeys(record_ids))
        for start in range(0, len(ids), BATCH_READ_INPUTS):
            response = self.request(
                "POST",
                f"/crm/v3/objects/{config.path}/batch/read",
                retry_unsafe=True,
                json={"inputs": [{"id": record_id} for record_id in ids[start : start + BATCH_READ_INPUTS]], "properties": properties},
            )
            for result in self.http.json(response).get("results") or []:
                record = self.to_record(config, result, field_names)
                records[record.id] = record
        return records

    def _list_all(self, config, properties, field_names, state):
        after = state.list_after if state else None
        since_ms = state.since_ms if state else None
        while True:
            params = {"limit": self.list_page_size, "properties": ",".join(properties), "archived": "false"}
            if after:
                params["after"] = after
            response = self.request("GET", f"/crm/v3/objects/{config.path}", params=params)
            if since_ms is None:
                since_ms = server_time_ms(response)
            body = self.http.json(response)
            records = [self.to_record(config, result, field_names) for result in body.get("results") or []]
            after = next_after(body)
            if after:
                yield Page(records, ReadCursor(list_after=after, since_ms=since_ms).dumps(), has_more=True)
                continue
            yield Page(records, ReadCursor(modified_ms=since_ms).dumps(), has_more=False)
            return

    def _search_changes(self, config, properties, field_names, state):
        modified_ms = state.modified_ms
        handled_ids = set(state.ids)
        window_start = modified_ms
        window_offset = 0
        after = None
        while True:
            body = self.search(config, self._changes_query(config, properties, window_start, after))
            results = body.get("results") or []
            window_offset += len(results)

            records = []
            for result in results:
                record = self.to_record(config, result, field_names)
                stamp = self.modified_ms_of(config, result)
                if stamp is not None:
                    if stamp == modified_ms and record.id in handled_ids:
                        continue
                    if stamp > modified_ms:
                        modified_ms = stamp
                        handled_ids = set()
                    if stamp == modified_ms:
                        handled_ids.add(record.id)
                records.append(record)

            after = next_after(body)
            page_cursor = ReadCursor(modified_ms=modified_ms, ids=sorted(handled_ids)).dumps()
            if not after or not results:
                yield Page(records, page_cursor, has_more=False)
                return
            if window_offset + self.search_page_size > self.search_result_limit:
                if modified_ms == window_start:
                    # NOTE: a whole window of records modified in one millisecond
                    # can't be paged past with a modified-date filter alone.
                    raise ProviderError(
                        FailureCategory.TOOL_ERROR,
                        f"More than {self.search_result_limit:,} HubSpot {config.label.lower()} share the "
                        f"modification time {iso_from_ms(modified_ms)}, so the changes after them can't be "
                        "searched; reset the sync's cursor to read all records again.",
                    )
                window_start = modified_ms
                window_offset = 0
                after = None
            yield Page(records, page_cursor, has_more=True)

    def _changes_query(self, config, properties, since_ms, after):
        query = {
            "filterGroups": [
                {"filters": [{"propertyName": config.modified_property, "operator": "GTE", "value": str(since_ms)}]}
            ],
            "sorts": [{"propertyName": config.modified_property, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": self.search_page_size,
        }
        if after:
            query["after"] = after
        return query

    def modified_ms_of(self, config, result):
        properties = result.get("properties") or {}
        stamp = parse_timestamp_ms(properties.get(config.modified_property))
        if stamp is None:
            stamp = parse_timestamp_ms(result.get("updatedAt"))
        return stamp

    def to_record(self, config, result, field_names, deleted=False):
        """Build a Record from a HubSpot object; values stay HubSpot's strings for the engine to compare."""
        properties = result.get("properties") or {}
        email = properties.get(config.email_property) if config.email_property else None
        secondary = split_emails(properties.get(config.secondary_email_property)) if config.secondary_email_property else ()
        stamp = self.modified_ms_of(config, result)
        return Record(
            id=str(result["id"]),
            email=email.strip() if isinstance(email, str) else email,
            values={name: properties.get(name) for name in field_names},
            secondary_emails=secondary,
            updated_at=iso_from_ms(stamp) if stamp is not None else None,
            deleted=deleted or bool(result.get("archived")),
        )


def next_after(body):
    """Return the paging token of the next page, or None on the last page."""
    return ((body.get("paging") or {}).get("next") or {}).get("after") or None
