"""Archiving Mailchimp members: one DELETE per member, a 404 counted as already archived."""

import pytest
import responses

from connections.providers.mailchimp.wire import subscriber_hash
from connections.providers.types import FailureCategory

from .mailchimp_support import MEMBERS_URL, OBJECT, calls_to, load, make_connection, make_provider

NOAH = subscriber_hash("noah@example.com")
OLGA = subscriber_hash("olga@example.com")


@pytest.fixture
def provider(workspace):
    return make_provider(make_connection(workspace))


def test_archive_deletes_each_member(provider):
    responses.add(responses.DELETE, f"{MEMBERS_URL}/{NOAH}", status=204)
    responses.add(responses.DELETE, f"{MEMBERS_URL}/{OLGA}", status=204)

    outcomes = provider.archive(OBJECT, [NOAH, OLGA])

    assert [outcome.ok for outcome in outcomes] == [True, True]
    assert [outcome.record_id for outcome in outcomes] == [NOAH, OLGA]
    assert len(calls_to(f"{MEMBERS_URL}/{NOAH}", "DELETE")) == 1
    assert len(calls_to(f"{MEMBERS_URL}/{OLGA}", "DELETE")) == 1


def test_archive_of_missing_member_succeeds(provider):
    responses.add(responses.DELETE, f"{MEMBERS_URL}/{NOAH}", status=404, json=load("error_not_found.json"))

    outcomes = provider.archive(OBJECT, [NOAH])

    assert outcomes[0].ok


def test_archive_failure_fails_that_member_only(provider):
    responses.add(
        responses.DELETE,
        f"{MEMBERS_URL}/{NOAH}",
        status=400,
        json=load("error_invalid_resource.json"),
    )
    responses.add(responses.DELETE, f"{MEMBERS_URL}/{OLGA}", status=204)

    outcomes = provider.archive(OBJECT, [NOAH, OLGA])

    assert outcomes[0].ok is False
    assert outcomes[0].category == FailureCategory.REJECTED_VALUE
    assert outcomes[1].ok is True
