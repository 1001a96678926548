"""Ticket facts of Zendesk requesters, computed from ticket JSON without HTTP."""

from connections.providers.zendesk.tickets import TicketStats, stats_by_requester


def ticket(ticket_id, requester, status, created_at="2024-11-01T10:00:00Z"):
    return {"id": ticket_id, "requester_id": requester, "status": status, "created_at": created_at}


def test_open_statuses_counted_as_open():
    stats = stats_by_requester([ticket(1, 5, "new"), ticket(2, 5, "open"), ticket(3, 5, "pending"), ticket(4, 5, "hold"), ticket(5, 5, "solved"), ticket(6, 5, "closed")])

    assert stats["5"].count == 6
    assert stats["5"].open_count == 4


def test_deleted_tickets_not_counted():
    stats = stats_by_requester([ticket(1, 5, "deleted"), ticket(2, 5, "open")])

    assert stats["5"].count == 1


def test_last_ticket_date_is_newest_creation_day():
    stats = stats_by_requester([ticket(1, 5, "closed", "2024-11-28T23:59:00Z"), ticket(2, 5, "open", "2024-03-02T10:00:00Z")])

    assert stats["5"].values()["last_ticket_date"] == "2024-11-28"


def test_ticket_seen_twice_counts_for_its_last_requester():
    stats = stats_by_requester([ticket(1, 5, "open"), ticket(1, 6, "open")])

    assert "5" not in stats
    assert stats["6"].count == 1


def test_requester_without_tickets_has_empty_values():
    assert TicketStats().values() == {"ticket_count": 0, "open_ticket_count": 0, "last_ticket_date": None}
