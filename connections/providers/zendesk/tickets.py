"""
Derive ticket facts about a Zendesk user from the tickets the user requested.

These are plain functions over Zendesk's ticket JSON, so they are tested
without HTTP. Rules:

- `ticket_count` counts the tickets the user requested, archived ones
  included and deleted ones excluded.
- `open_ticket_count` counts those whose status is new, open, pending or
  on hold.
- `last_ticket_date` is the UTC date the newest of them was created.
"""

from dataclasses import dataclass

from connections.providers.types import FieldSpec, FieldType

OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})
DELETED_STATUS = "deleted"

TICKET_FIELDS = [
    FieldSpec(
        "ticket_count",
        "Ticket count",
        FieldType.NUMBER,
        writable=False,
        derived=True,
        description="Tickets the user requested, archived ones included and deleted ones excluded.",
    ),
    FieldSpec(
        "open_ticket_count",
        "Open ticket count",
        FieldType.NUMBER,
        writable=False,
        derived=True,
        description="Requested tickets whose status is new, open, pending or on hold.",
    ),
    FieldSpec(
        "last_ticket_date",
        "Last ticket date",
        FieldType.DATE,
        writable=False,
        derived=True,
        description="The date the user's newest requested ticket was created (UTC).",
    ),
]
TICKET_FIELD_NAMES = frozenset(spec.name for spec in TICKET_FIELDS)


@dataclass
class TicketStats:
    """Ticket facts of one requester."""

    count: int = 0
    open_count: int = 0
    last_created_at: str | None = None  # ISO 8601, as Zendesk sends it

    def add(self, ticket):
        """Count one ticket of this requester, unless it is deleted."""
        status = ticket.get("status")
        if status == DELETED_STATUS:
            return
        self.count += 1
        if status in OPEN_STATUSES:
            self.open_count += 1
        created_at = ticket.get("created_at")
        # ISO 8601 UTC timestamps of one format sort as text.
        if created_at and (self.last_created_at is None or created_at > self.last_created_at):
            self.last_created_at = created_at

    def values(self):
        """Return the derived field values."""
        return {
            "ticket_count": self.count,
            "open_ticket_count": self.open_count,
            "last_ticket_date": self.last_created_at[:10] if self.last_created_at else None,
        }


def stats_by_requester(tickets):
    """
    Return {requester id as text: TicketStats} over an iterable of tickets.

    A ticket seen twice counts once, in its last version, so a ticket whose
    requester changed counts for the new requester. Only the id, requester,
    status and creation time of each ticket are kept while reading.
    """
    latest = {}
    for ticket in tickets:
        if ticket.get("id") is not None:
            latest[ticket["id"]] = (ticket.get("requester_id"), ticket.get("status"), ticket.get("created_at"))
    stats = {}
    for requester, status, created_at in latest.values():
        if requester is None:
            continue
        stats.setdefault(str(requester), TicketStats()).add({"status": status, "created_at": created_at})
    return stats
