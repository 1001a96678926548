import responses

from connections.http import ProviderSession


def test_session_spaces_requests_by_min_interval():
    delays = []
    session = ProviderSession("tool", 1, max_requests_per_second=25, sleep=delays.append)
    responses.add(responses.GET, "https://api.example.test/items", json={})

    for _ in range(3):
        session.get("https://api.example.test/items")

    assert len(delays) == 2
    assert 0 < delays[0] <= 0.04
    assert delays[1] > 0


def test_session_without_rate_does_not_wait():
    delays = []
    session = ProviderSession("tool", 1, sleep=delays.append)
    responses.add(responses.GET, "https://api.example.test/items", json={})

    session.get("https://api.example.test/items")
    session.get("https://api.example.test/items")

    assert delays == []
