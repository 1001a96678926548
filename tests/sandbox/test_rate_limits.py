import pytest

from sandbox.ratelimit import SlidingWindowLimiter
from sandbox.server import SandboxServer
from tests.sandbox import hubspot_session, stripe_session


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_limiter_allows_limit_then_refuses_until_window_passes():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock)
    decisions = [limiter.hit("token").allowed for _ in range(4)]
    clock.now = 10.5
    assert decisions == [True, True, True, False]
    assert limiter.hit("token").allowed is True


def test_limiter_counts_keys_apart():
    limiter = SlidingWindowLimiter(1, 10.0, clock=FakeClock())
    assert limiter.hit("a").allowed is True
    assert limiter.hit("b").allowed is True


@pytest.fixture
def limited():
    server = SandboxServer(rate_limits=True, customers=5, contacts=5)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def unlimited():
    server = SandboxServer(rate_limits=False, customers=5, contacts=5)
    server.start()
    yield server
    server.stop()


@pytest.mark.live_http
def test_hubspot_101st_request_in_ten_seconds_is_429(limited):
    session = hubspot_session()
    responses = [session.get(f"{limited.url}/hubspot/crm/v3/objects/contacts") for _ in range(101)]
    last = responses[-1]
    assert [r.status_code for r in responses[:100]] == [200] * 100
    assert last.status_code == 429
    assert last.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert last.json()["errorType"] == "RATE_LIMIT"
    assert last.json()["message"] == "You have reached your ten_secondly_rolling limit."
    assert "Retry-After" not in last.headers
    assert responses[0].headers["X-HubSpot-RateLimit-Max"] == "100"
    assert responses[99].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert limited.state.counters.snapshot()["rate_limited"] == {"hubspot": 1}


@pytest.mark.live_http
def test_hubspot_search_over_5_per_second_is_429(limited):
    session = hubspot_session()
    statuses = [session.post(f"{limited.url}/hubspot/crm/v3/objects/contacts/search", json={}).status_code for _ in range(8)]
    assert 429 in statuses
    assert statuses[:5] == [200] * 5


@pytest.mark.live_http
def test_stripe_over_25_per_second_is_429(limited):
    session = stripe_session()
    responses = [session.get(f"{limited.url}/stripe/v1/customers") for _ in range(40)]
    refused = [r for r in responses if r.status_code == 429]
    assert refused
    assert refused[0].json()["error"]["code"] == "rate_limit"


@pytest.mark.live_http
def test_no_429_when_rate_limits_are_off(unlimited):
    hubspot, stripe = hubspot_session(), stripe_session()
    statuses = {hubspot.get(f"{unlimited.url}/hubspot/crm/v3/objects/contacts").status_code for _ in range(120)}
    statuses |= {stripe.get(f"{unlimited.url}/stripe/v1/customers").status_code for _ in range(60)}
    assert statuses == {200}
