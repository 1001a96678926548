"""
Fixtures shared by every test: the three personas and the HTTP guard.

The personas are an owner and a plain member of one workspace, and an
outsider who owns another workspace. Anything scoped to a workspace is
tested with all three: the outsider must get 404.
"""

import pytest
import responses
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership, User, create_workspace

PASSWORD = "correct-horse-battery-staple"
UNMATCHED_MESSAGE = "Connection refused by Responses"


@pytest.fixture(autouse=True)
def http_mock(request):
    """
    Route every outbound request through `responses`; a request no test mocked fails the test.

    Tests register responses with `responses.add(...)` or on this fixture. A
    test marked `live_http` talks to servers it started on loopback instead.
    """
    if request.node.get_closest_marker("live_http"):
        yield None
        return
    responses.start()
    try:
        yield responses.mock
        unmatched = [
            call.request.url
            for call in responses.calls
            if isinstance(call.response, Exception) and UNMATCHED_MESSAGE in str(call.response)
        ]
        assert not unmatched, f"Requests that no test mocked: {unmatched}"
    finally:
        responses.stop()
        responses.reset()


def make_user(email, name=""):
    return User.objects.create_user(email=email, password=PASSWORD, name=name)


@pytest.fixture
def owner(db):
    return make_user("owner@acme.test", "Olivia Owner")


@pytest.fixture
def workspace(owner):
    return create_workspace("Acme", owner)


@pytest.fixture
def member(workspace):
    user = make_user("member@acme.test", "Max Member")
    Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(db):
    return make_user("outsider@globex.test", "Oscar Outsider")


@pytest.fixture
def other_workspace(outsider):
    return create_workspace("Globex", outsider)


def logged_in_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner, workspace):
    return logged_in_client(owner)


@pytest.fixture
def member_client(member):
    return logged_in_client(member)


@pytest.fixture
def outsider_client(outsider, other_workspace):
    return logged_in_client(outsider)


def api_client_for(workspace, user):
    _, raw_key = ApiKey.create_key(workspace, "Test key", created_by=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def api_client(workspace, owner):
    """An API client holding a key of the owner's workspace."""
    return api_client_for(workspace, owner)


@pytest.fixture
def outsider_api_client(other_workspace, outsider):
    """An API client holding a key of the outsider's workspace."""
    return api_client_for(other_workspace, outsider)


def pytest_terminal_summary(terminalreporter):
    """Say at the end of the run when the browser journey was skipped because no Chromium was found."""
    # Under pytest-xdist only the controller prints the summary, and it loads
    # tests/browser/conftest.py only when that folder is named on the command line.
    from tests.browser.conftest import report_skipped_journey

    report_skipped_journey(terminalreporter)
