"""
Reading Zendesk users and organizations, and the ticket facts derived for users.

Users are read through the cursor-based incremental export
(GET /api/v2/incremental/users/cursor.json): from start_time=0 on the first
read, then from the stored `after_cursor` until `end_of_stream`. Zendesk
leaves changes of the last minute out of an export, and the next read from
the same cursor returns them.
Deactivated users come back with `active: false` and are read as deleted.

Organizations have only a time-based export. The first read lists them
with cursor pagination (page[size]=100, page[after]) because offset pages
past the 100th are refused; later reads use
/api/v2/incremental/organizations.json from the stored start_time.

Derived ticket fields (ticket_count, open_ticket_count, last_ticket_date)
cost no request per user on a full read:

- A read without a ticket cursor exports every ticket once through the
  cursor-based ticket export (1,000 a page, 10 requests a minute) and
  counts them per requester in memory.
- Later reads export only the tickets changed since the ticket cursor. Their
  requesters are read again even when the user record itself didn't
  change, because their counts did.
- The counts of those users come from the search API, one or two requests a
  user, when there are at most SEARCH_STATS_LIMIT of them; above that, from
  one export of every ticket. Search and export both include archived
  tickets and leave deleted ones out, so both give the same counts, while
  the ticket lists (/users/{id}/tickets/requested) leave archived tickets out.

NOTE: the ticket export names only a ticket's current requester, so when a
ticket moves to another requester, the previous requester's counts stay as
they were until that user changes or a read starts without a ticket cursor.
"""

import logging

from connections.providers.types import Page, Record

from .fields import DERIVED_FIELDS, STANDARD_FIELDS, record_values
from .tickets import TICKET_FIELD_NAMES, TicketStats, stats_by_requester
from .wire import Cursor

logger = logging.getLogger(__name__)

# Cursor-based exports return up to 1,000 items a page.
EXPORT_PAGE_SIZE = 1000
# List endpoints return up to 100 items a page with cursor pagination.
LIST_PAGE_SIZE = 100
# Show Many Users takes up to 100 ids.
SHOW_MANY_SIZE = 100
# Up to this many users, ticket counts come from the search API (1 or 2
# requests each); above it, from one export of every ticket.
SEARCH_STATS_LIMIT = 20
# The search API returns at most 100 results a page.
SEARCH_PAGE_SIZE = 100
# A read that resumes from a time starts this long before the previous
# read did, so that a change Zendesk makes visible late isn't lost. Records
# seen twice cost nothing, because the engine diffs them.
OVERLAP_SECONDS = 300


class ReadingMixin:
    """read_changes() and fetch_by_ids() of ZendeskProvider, and the ticket facts of users."""

    def read_changes(self, object_name, field_names, cursor=None):
        """
        Yield pages of records changed since `cursor`, or all records when it is None.

        Each page carries the cursor that resumes after it. While ticket
        changes are followed, pages keep the previous ticket cursor until
        the last one, so a stopped run reads the same ticket changes again.
        """
        config = self.object_config(object_name)
        fields = self.check_fields(config, field_names)
        state = Cursor.loads(cursor)
        if cursor and state is None:
            logger.warning("Connection %s: unreadable Zendesk cursor, reading every record", self.connection_id)
        if config.name == "organization":
            yield from self._read_organizations(config, fields, state)
        else:
            yield from self._read_users(config, fields, state)

    def fetch_by_ids(self, object_name, record_ids, field_names):
        """Return the records with the given ids through show_many.json, 100 ids a request."""
        config = self.object_config(object_name)
        fields = self.check_fields(config, field_names)
        ids = [str(record_id) for record_id in record_ids if str(record_id).isdigit()]
        objects = self._show_many(config, ids)
        return {record.id: record for record in self.to_records(config, objects, fields)}

    # Users -------------------------------------------------------------

    def _read_users(self, config, fields, state):
        started = int(self.clock())
        wants_tickets = bool(fields & TICKET_FIELD_NAMES)
        old_tickets = state.tickets if state else None
        new_tickets = old_tickets
        requeue = set()
        if wants_tickets:
            if old_tickets:
                tickets, new_tickets = self._export_tickets({"cursor": old_tickets})
                requeue = {str(ticket["requester_id"]) for ticket in tickets if ticket.get("requester_id") is not None}
            else:
                tickets, new_tickets = self._export_tickets({"start_time": 0})
                self._all_ticket_stats = stats_by_requester(tickets)
                if state is not None:
                    # Ticket changes were not followed before, so every requester may have changed counts.
                    requeue = set(self._all_ticket_stats)

        if state is not None and state.after:
            params = {"cursor": state.after}
        else:
            params = {"start_time": state.start_time if state and state.start_time is not None else 0}
        after = state.after if state else None
        emitted = set()
        pages = self._export(config.export_path, config.plural, params)
        for items, page_after, end_of_stream in pages:
            after = page_after or after
            records = self.to_records(config, items, fields)
            emitted.update(record.id for record in records)
            remaining = requeue - emitted
            last = end_of_stream and not remaining
            cursor = self._user_cursor(after, started, new_tickets if last else old_tickets)
            yield Page(records=records, cursor=cursor, has_more=not last)

        remaining = sorted(requeue - emitted, key=int)
        for start in range(0, len(remaining), SHOW_MANY_SIZE):
            last = start + SHOW_MANY_SIZE >= len(remaining)
            users = self._show_many(config, remaining[start : start + SHOW_MANY_SIZE])
            records = self.to_records(config, users, fields)
            cursor = self._user_cursor(after, started, new_tickets if last else old_tickets)
            yield Page(records=records, cursor=cursor, has_more=not last)

    def _user_cursor(self, after, started, tickets):
        if after:
            return Cursor(after=after, tickets=tickets).dumps()
        # An export without after_cursor resumes from a time instead.
        return Cursor(start_time=max(0, started - OVERLAP_SECONDS), tickets=tickets).dumps()

    def _export(self, path, key, params):
        """Yield (items, after_cursor, end_of_stream) for each page of a cursor-based incremental export."""
        params = {**params, "per_page": EXPORT_PAGE_SIZE}
        while True:
            body = self.get(path, params)
            items = body.get(key) or []
            after = body.get("after_cursor")
            end_of_stream = bool(body.get("end_of_stream")) or not after
            yield items, after, end_of_stream
            if end_of_stream:
                return
            params = {"cursor": after, "per_page": EXPORT_PAGE_SIZE}

    def _export_tickets(self, params):
        """Return (tickets, after_cursor) of the ticket export from `params`, with only the fields the counts need."""
        tickets = []
        after = params.get("cursor")
        for items, page_after, _end in self._export("/api/v2/incremental/tickets/cursor.json", "tickets", params):
            after = page_after or after
            tickets.extend(
                {key: ticket.get(key) for key in ("id", "requester_id", "status", "created_at")} for ticket in items
            )
        return tickets, after

    def _show_many(self, config, ids):
        objects = []
        for start in range(0, len(ids), SHOW_MANY_SIZE):
            chunk = ids[start : start + SHOW_MANY_SIZE]
            body = self.get(config.show_many_path, {"ids": ",".join(chunk)})
            objects.extend(body.get(config.plural) or [])
        return objects

    # Organizations -----------------------------------------------------

    def _read_organizations(self, config, fields, state):
        started = int(self.clock())
        if state is None or state.after:
            # First read, or a stopped first read: list with cursor pagination.
            since = state.start_time if state and state.start_time is not None else max(0, started - OVERLAP_SECONDS)
            for items, after in self.list_pages(config.list_path, config.plural, after=state.after if state else None):
                records = self.to_records(config, items, fields)
                cursor = Cursor(after=after, start_time=since).dumps()
                yield Page(records=records, cursor=cursor, has_more=after is not None)
            return

        start_time = state.start_time or 0
        while True:
            body = self.get("/api/v2/incremental/organizations.json", {"start_time": start_time})
            records = self.to_records(config, body.get(config.plural) or [], fields)
            end_time = body.get("end_time")
            end_of_stream = bool(body.get("end_of_stream")) or end_time is None or end_time == start_time
            if end_time is not None:
                start_time = int(end_time)
            yield Page(records=records, cursor=Cursor(start_time=start_time).dumps(), has_more=not end_of_stream)
            if end_of_stream:
                return

    # Records -----------------------------------------------------------

    def to_records(self, config, objects, fields):
        """Return Records of user or organization objects, derived ticket fields included when asked for."""
        own = [name for name in fields if name not in TICKET_FIELD_NAMES]
        ticket_values = {}
        if config.name == "user" and fields & TICKET_FIELD_NAMES:
            ticket_values = self.ticket_values([str(obj["id"]) for obj in objects if obj.get("id") is not None])
        records = []
        for obj in objects:
            if obj.get("id") is None:
                continue
            record_id = str(obj["id"])
            values = record_values(obj, own, config.prefix)
            for name in fields & TICKET_FIELD_NAMES:
                values[name] = ticket_values.get(record_id, {}).get(name)
            deleted = obj.get("active") is False or bool(obj.get("deleted_at"))
            records.append(
                Record(
                    id=record_id,
                    email=obj.get("email") if config.name == "user" else None,
                    values=values,
                    updated_at=obj.get("updated_at"),
                    deleted=deleted,
                )
            )
        return records

    def ticket_values(self, user_ids):
        """Return {user id: derived ticket field values} for the users, by search or one full ticket export."""
        if self._all_ticket_stats is None:
            missing = [user_id for user_id in user_ids if user_id not in self._searched_ticket_stats]
            if len(missing) <= SEARCH_STATS_LIMIT:
                for user_id in missing:
                    self._searched_ticket_stats[user_id] = self._search_ticket_stats(user_id)
            else:
                tickets, _after = self._export_tickets({"start_time": 0})
                self._all_ticket_stats = stats_by_requester(tickets)
        values = {}
        for user_id in user_ids:
            if self._all_ticket_stats is not None:
                stats = self._all_ticket_stats.get(user_id) or TicketStats()
            else:
                stats = self._searched_ticket_stats[user_id]
            values[user_id] = stats.values()
        return values

    def _search_ticket_stats(self, user_id):
        """
        Return the TicketStats of one requester from the search API.

        The newest 100 tickets come in one request, with the total count.
        Only a requester with more tickets costs a second request, to count
        the open ones. NOTE: Zendesk's search index lags its data by up to a
        few minutes, so a ticket created just before the read may be counted
        by the next change only.
        """
        query = f"type:ticket requester_id:{user_id}"
        body = self.get(
            "/api/v2/search.json",
            {"query": query, "sort_by": "created_at", "sort_order": "desc", "per_page": SEARCH_PAGE_SIZE},
            kind="search",
        )
        results = [result for result in body.get("results") or [] if result.get("result_type", "ticket") == "ticket"]
        stats = TicketStats()
        for ticket in results:
            stats.add(ticket)
        total = body.get("count")
        if isinstance(total, int) and total > len(results):
            stats.count = total
            # status<solved is new, open, pending and on hold.
            counted = self.get("/api/v2/search/count.json", {"query": f"{query} status<solved"}, kind="search")
            stats.open_count = int(counted.get("count") or 0)
        return stats

    # Lists -------------------------------------------------------------

    def list_pages(self, path, key, after=None):
        """
        Yield (items, after_cursor or None) for each page of a list, with cursor pagination.

        Zendesk rejects offset pagination past the 100th page, so lists always
        send page[size] and follow meta.after_cursor while meta.has_more.
        """
        params = {"page[size]": LIST_PAGE_SIZE}
        if after:
            params["page[after]"] = after
        while True:
            body = self.get(path, params)
            items = body.get(key) or []
            meta = body.get("meta") or {}
            next_after = meta.get("after_cursor") if meta.get("has_more") else None
            yield items, next_after
            if not next_after:
                return
            params = {"page[size]": LIST_PAGE_SIZE, "page[after]": next_after}

    def list_all(self, path, key):
        """Return every item of a list endpoint."""
        return [item for items, _after in self.list_pages(path, key) for item in items]

    def check_fields(self, config, field_names):
        """
        Return the field names as a set; raise ValueError naming any field the object doesn't have.

        Custom field names are taken as given, so a read costs no request
        for the field definitions; an unknown key reads as None.
        """
        fields = set(field_names)
        unknown = sorted(
            name
            for name in fields
            if name not in STANDARD_FIELDS[config.name]
            and name not in DERIVED_FIELDS[config.name]
            and not name.startswith(config.prefix)
        )
        if unknown:
            raise ValueError(
                f"Zendesk {config.label.lower()} have no field {', '.join(unknown)}: list the fields again and "
                "update the mapping."
            )
        return fields

