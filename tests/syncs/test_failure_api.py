"""/api/v1/runs/ and /api/v1/failures/: listing with filters, retry and ignore."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from syncs.models import RecordFailure, Run
from tests.syncs import billing, crm, fake_accounts, foreign_sync, make_failure, seeded, sync  # noqa: F401

RUNS_URL = reverse("api:run-list")
FAILURES_URL = reverse("api:failure-list")
RETRY_MANY_URL = reverse("api:failure-retry-many")


def run_url(run):
    return reverse("api:run-detail", args=[run.public_id])


def failure_url(failure, action=None):
    if action:
        return reverse(f"api:failure-{action}", args=[failure.pk])
    return reverse("api:failure-detail", args=[failure.pk])


def status_of(failure):
    return RecordFailure.objects.get(pk=failure.pk).status


@pytest.fixture
def run(sync):
    return Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, status=Run.Status.PARTIAL, failed_count=1, api_calls={"read": 2})


@pytest.fixture
def failure(sync, run):
    return make_failure(sync, run=run)


# Personas


@pytest.mark.parametrize("method, name", [("get", "runs"), ("get", "failures"), ("post", "retry-many")])
def test_anonymous_list_gets_401(method, name, db):
    url = {"runs": RUNS_URL, "failures": FAILURES_URL, "retry-many": RETRY_MANY_URL}[name]

    assert getattr(APIClient(), method)(url).status_code == 401


@pytest.mark.parametrize("method, action", [("get", None), ("post", "retry"), ("post", "ignore")])
def test_anonymous_failure_gets_401(method, action, failure):
    assert getattr(APIClient(), method)(failure_url(failure, action)).status_code == 401


def test_anonymous_run_gets_401(run):
    assert APIClient().get(run_url(run)).status_code == 401


@pytest.mark.parametrize("method, action", [("get", None), ("post", "retry"), ("post", "ignore")])
def test_outsider_key_gets_404_for_failure(method, action, outsider_api_client, failure):
    response = getattr(outsider_api_client, method)(failure_url(failure, action))

    assert response.status_code == 404
    assert status_of(failure) == RecordFailure.Status.OPEN


def test_outsider_key_gets_404_for_run(outsider_api_client, run):
    assert outsider_api_client.get(run_url(run)).status_code == 404


def test_outsider_key_lists_no_runs_or_failures(outsider_api_client, run, failure):
    assert outsider_api_client.get(RUNS_URL).json()["results"] == []
    assert outsider_api_client.get(FAILURES_URL).json()["results"] == []


# Runs


def test_run_detail_shows_counts_and_api_calls(api_client, run):
    data = api_client.get(run_url(run)).json()

    assert data["status"] == "partial"
    assert data["failed_count"] == 1
    assert data["api_calls"] == {"read": 2}


def test_runs_filter_by_sync(api_client, workspace, sync, run, billing, crm):
    from syncs.models import Sync

    other = Sync.objects.create(workspace=workspace, name="Other", connection_a=billing, object_a="customer", connection_b=crm, object_b="contact")
    Run.objects.create(sync=other, trigger=Run.Trigger.MANUAL)

    response = api_client.get(RUNS_URL, {"sync": str(sync.public_id)})

    assert [row["id"] for row in response.json()["results"]] == [str(run.public_id)]


def test_runs_filter_by_foreign_sync_is_unknown(api_client, foreign_sync):
    response = api_client.get(RUNS_URL, {"sync": str(foreign_sync.public_id)})

    assert response.status_code == 400
    assert f"No sync with id '{foreign_sync.public_id}' exists in this workspace" in response.json()["sync"][0]


# Failures


def test_failures_filter_by_status_and_category(api_client, sync):
    expected = make_failure(sync, "ana@example.com", "rejected_value")
    make_failure(sync, "bo@example.com", "rate_limited")
    make_failure(sync, "cy@example.com", "rejected_value", status=RecordFailure.Status.IGNORED)

    response = api_client.get(FAILURES_URL, {"status": "open", "category": "rejected_value", "sync": str(sync.public_id)})

    assert [row["id"] for row in response.json()["results"]] == [expected.pk]


def test_failures_reject_unknown_category(api_client, sync):
    response = api_client.get(FAILURES_URL, {"category": "gremlins"})

    assert response.status_code == 400
    assert "'gremlins' is not a category. Use one of: rate_limited" in response.json()["category"][0]


def test_failure_detail_shows_values_and_run(api_client, failure, run):
    data = api_client.get(failure_url(failure)).json()

    assert data["values"] == {"name": "Ana Lima"}
    assert data["run"] == str(run.public_id)


def test_retry_one_answers_202_and_resolves(api_client, sync, seeded):
    failure = make_failure(sync, "ana@example.com")

    response = api_client.post(failure_url(failure, "retry"))

    assert response.status_code == 202
    assert response.json()["trigger"] == "retry"
    assert response.json()["updated_count"] == 1
    assert status_of(failure) == RecordFailure.Status.RESOLVED


def test_retry_of_ignored_failure_answers_409(api_client, sync):
    failure = make_failure(sync, status=RecordFailure.Status.IGNORED)

    response = api_client.post(failure_url(failure, "retry"))

    assert response.status_code == 409
    assert not Run.objects.exists()


def test_ignore_marks_failure_ignored(api_client, failure):
    response = api_client.post(failure_url(failure, "ignore"))

    assert response.json()["status"] == "ignored"
    assert status_of(failure) == RecordFailure.Status.IGNORED


def test_retry_many_by_ids(api_client, sync, seeded):
    first = make_failure(sync, "ana@example.com")
    second = make_failure(sync, "bo@example.com")

    response = api_client.post(RETRY_MANY_URL, {"ids": [first.pk, second.pk]}, format="json")

    data = response.json()
    assert response.status_code == 202
    assert data["failures"] == 2
    assert len(data["runs"]) == 1
    assert data["runs"][0]["updated_count"] == 2


def test_retry_many_by_sync_and_category(api_client, sync, seeded):
    limited = make_failure(sync, "ana@example.com", "rate_limited")
    rejected = make_failure(sync, "bo@example.com", "rejected_value")

    api_client.post(RETRY_MANY_URL, {"sync": str(sync.public_id), "category": "rate_limited"}, format="json")

    assert sync.runs.get().retry_failure_ids == [limited.pk]
    assert status_of(rejected) == RecordFailure.Status.OPEN


def test_retry_many_with_foreign_id_is_unknown(api_client, sync, foreign_sync):
    own = make_failure(sync)
    foreign = make_failure(foreign_sync)

    response = api_client.post(RETRY_MANY_URL, {"ids": [own.pk, foreign.pk]}, format="json")

    assert response.status_code == 400
    assert response.json()["ids"][0].startswith(f"No failure with id {foreign.pk} exists in this workspace")
    assert not Run.objects.exists()
    assert status_of(own) == RecordFailure.Status.OPEN


def test_retry_many_with_foreign_sync_is_unknown(api_client, foreign_sync):
    make_failure(foreign_sync)

    response = api_client.post(RETRY_MANY_URL, {"sync": str(foreign_sync.public_id)}, format="json")

    assert response.status_code == 400
    assert not Run.objects.exists()


def test_retry_many_needs_ids_or_sync(api_client, db):
    response = api_client.post(RETRY_MANY_URL, {}, format="json")

    assert response.status_code == 400
    assert "Send \"ids\"" in response.json()["non_field_errors"][0]


def test_retry_many_without_open_failure_is_rejected(api_client, sync):
    ignored = make_failure(sync, status=RecordFailure.Status.IGNORED)

    response = api_client.post(RETRY_MANY_URL, {"ids": [ignored.pk]}, format="json")

    assert response.status_code == 400
    assert "None of the selected failures is open" in response.json()["non_field_errors"][0]
