"""HubSpot batch archive: batches of 100 ids, and per-record outcomes of a failed request."""

import pytest
import responses

from connections.providers.errors import ProviderError
from connections.providers.types import FailureCategory
from tests.providers.hubspot_support import API, calls_to, create_connection, load, make_provider, sent_json

ARCHIVE_PATH = "/crm/v3/objects/contacts/batch/archive"


@pytest.fixture
def provider(workspace):
    return make_provider(create_connection(workspace))


def test_archive_sends_ids_in_batches_of_100(provider):
    responses.add(responses.POST, f"{API}{ARCHIVE_PATH}", status=204)
    ids = [str(3000 + number) for number in range(250)]

    outcomes = provider.archive("contact", ids)

    calls = calls_to(ARCHIVE_PATH, "POST")
    assert [len(sent_json(call)["inputs"]) for call in calls] == [100, 100, 50]
    assert sent_json(calls[0])["inputs"][0] == {"id": "3000"}
    assert [outcome.key for outcome in outcomes] == ids
    assert all(outcome.ok for outcome in outcomes)


def test_archive_of_companies_uses_their_path(provider):
    responses.add(responses.POST, f"{API}/crm/v3/objects/companies/batch/archive", status=204)

    outcomes = provider.archive("company", ["77"])

    assert outcomes[0].ok
    assert len(calls_to("/crm/v3/objects/companies/batch/archive", "POST")) == 1


def test_archive_failure_fails_each_id_of_the_request(provider):
    responses.add(responses.POST, f"{API}{ARCHIVE_PATH}", status=404, json=load("error_not_found"))

    outcomes = provider.archive("contact", ["3000", "3001"])

    assert [outcome.ok for outcome in outcomes] == [False, False]
    assert [outcome.record_id for outcome in outcomes] == ["3000", "3001"]
    assert outcomes[0].category == FailureCategory.NOT_FOUND
    assert outcomes[0].message


def test_archive_failure_keeps_other_batches(provider):
    ids = [str(3000 + number) for number in range(150)]
    responses.add(responses.POST, f"{API}{ARCHIVE_PATH}", status=204)
    responses.add(responses.POST, f"{API}{ARCHIVE_PATH}", status=404, json=load("error_not_found"))

    outcomes = provider.archive("contact", ids)

    assert all(outcome.ok for outcome in outcomes[:100])
    assert not any(outcome.ok for outcome in outcomes[100:])


def test_archive_authorisation_error_raises(provider):
    responses.add(responses.POST, f"{API}{ARCHIVE_PATH}", status=401, json=load("error_expired_token"))

    with pytest.raises(ProviderError) as raised:
        provider.archive("contact", ["3000"])

    assert raised.value.category == FailureCategory.AUTHORISATION
