import responses

from connections.http import ProviderSession


def test_session_paces_after_first_429():
    delays = []
    session = ProviderSession("tool", 1, max_requests_per_second=25, sleep=delays.append)
    responses.add(responses.GET, "https://api.example.test/items", status=429)
    responses.add(responses.GET, "https://api.example.test/items", json={})

    for _ in range(3):
        session.get("https://api.example.test/items")

    backoff, pacing = delays[0], delays[1:]
    assert backoff >= 0
    assert len(pacing) == 3
    assert all(delay > 0 for delay in pacing)


def test_session_does_not_pace_before_any_429():
    delays = []
    session = ProviderSession("tool", 1, max_requests_per_second=25, sleep=delays.append)
    responses.add(responses.GET, "https://api.example.test/items", json={})

    for _ in range(3):
        session.get("https://api.example.test/items")

    assert delays == []


def test_session_without_rate_does_not_wait():
    delays = []
    session = ProviderSession("tool", 1, sleep=delays.append)
    responses.add(responses.GET, "https://api.example.test/items", json={})

    session.get("https://api.example.test/items")
    session.get("https://api.example.test/items")

    assert delays == []
