"""The failures page, retrying and ignoring failures, and the record history search."""

from django.urls import reverse

from syncs.models import FieldChange, RecordFailure, Run
from tests.syncs import billing, crm, fake_accounts, foreign_sync, make_failure, seeded, sync  # noqa: F401


def url(name, sync):
    return reverse(f"syncs:{name}", args=[sync.workspace.public_id, sync.public_id])


def history_url(workspace):
    return reverse("syncs:record_history", args=[workspace.public_id])


def statuses(*failures):
    return [RecordFailure.objects.get(pk=failure.pk).status for failure in failures]


def test_failures_are_grouped_by_category_with_counts(member_client, sync):
    make_failure(sync, "ana@example.com", "rate_limited")
    make_failure(sync, "bo@example.com", "rate_limited")
    make_failure(sync, "cy@example.com", "rejected_value", message="Faketool rejected 'Pro ' for tier")

    response = member_client.get(url("failures", sync))

    groups = {group["category"]: group["count"] for group in response.context["groups"]}
    assert groups == {"rate_limited": 2, "rejected_value": 1}
    assert "Faketool rejected &#x27;Pro &#x27; for tier" in response.content.decode()


def test_failure_row_shows_values_and_attempts(member_client, sync):
    make_failure(sync, values={"name": "Ana Lima"}, attempts=3)

    content = member_client.get(url("failures", sync)).content.decode()

    assert "<code>name</code>: Ana Lima" in content
    assert '<td class="number">3</td>' in content


def test_open_view_hides_ignored_failures(member_client, sync):
    make_failure(sync, status=RecordFailure.Status.IGNORED)

    response = member_client.get(url("failures", sync))

    assert response.context["total"] == 0


def test_ignored_view_lists_ignored_failures(member_client, sync):
    make_failure(sync, status=RecordFailure.Status.IGNORED)

    response = member_client.get(url("failures", sync), {"status": "ignored"})

    assert response.context["total"] == 1


def test_retry_one_runs_and_resolves_failure(member_client, sync, seeded):
    failure = make_failure(sync, "ana@example.com")
    other = make_failure(sync, "bo@example.com")

    response = member_client.post(url("retry_failures", sync), {"retry_one": failure.pk})

    run = sync.runs.get()
    assert response.status_code == 302
    assert run.trigger == Run.Trigger.RETRY
    assert run.retry_failure_ids == [failure.pk]
    assert run.updated_count == 1
    assert statuses(failure, other) == [RecordFailure.Status.RESOLVED, RecordFailure.Status.OPEN]


def test_retry_selected_retries_checked_failures(member_client, sync, seeded):
    first = make_failure(sync, "ana@example.com")
    second = make_failure(sync, "bo@example.com")

    member_client.post(url("retry_failures", sync), {"ids": [first.pk, second.pk]})

    run = sync.runs.get()
    assert sorted(run.retry_failure_ids) == sorted([first.pk, second.pk])
    assert run.updated_count == 2


def test_retry_category_retries_only_that_category(member_client, sync, seeded):
    limited = make_failure(sync, "ana@example.com", "rate_limited")
    rejected = make_failure(sync, "bo@example.com", "rejected_value")

    member_client.post(url("retry_failures", sync), {"category": "rate_limited"})

    assert sync.runs.get().retry_failure_ids == [limited.pk]
    assert statuses(rejected) == [RecordFailure.Status.OPEN]


def test_retry_without_selection_explains(member_client, sync):
    response = member_client.post(url("retry_failures", sync), follow=True)

    assert "No open failure was selected" in response.content.decode()
    assert not sync.runs.exists()


def test_retry_ignores_failure_of_other_sync(member_client, sync, foreign_sync):
    foreign = make_failure(foreign_sync)

    member_client.post(url("retry_failures", sync), {"ids": [foreign.pk]})

    assert not Run.objects.exists()
    assert statuses(foreign) == [RecordFailure.Status.OPEN]


def test_ignore_one_marks_failure_ignored(member_client, sync):
    failure = make_failure(sync)
    other = make_failure(sync, "bo@example.com")

    member_client.post(url("ignore_failures", sync), {"ignore_one": failure.pk})

    assert statuses(failure, other) == [RecordFailure.Status.IGNORED, RecordFailure.Status.OPEN]


def test_ignore_selected_marks_each_ignored(member_client, sync):
    first = make_failure(sync)
    second = make_failure(sync, "bo@example.com")

    member_client.post(url("ignore_failures", sync), {"ids": [first.pk, second.pk]})

    assert statuses(first, second) == [RecordFailure.Status.IGNORED, RecordFailure.Status.IGNORED]


# Record history


def test_history_shows_changes_of_record(member_client, workspace, sync):
    FieldChange.objects.create(sync=sync, record_key="ana@example.com", direction="a_to_b", field="tier", old_value="silver", new_value="gold")
    FieldChange.objects.create(sync=sync, record_key="bo@example.com", direction="a_to_b", field="tier", old_value="gold", new_value="silver")

    response = member_client.get(history_url(workspace), {"email": "  Ana@Example.com "})

    assert [change.record_key for change in response.context["changes"]] == ["ana@example.com"]


def test_history_shows_open_failures_of_record(member_client, workspace, sync):
    make_failure(sync, "ana@example.com", message="Faketool is rate limiting")
    make_failure(sync, "ana@example.com", status=RecordFailure.Status.RESOLVED, direction="b_to_a")

    response = member_client.get(history_url(workspace), {"email": "ana@example.com"})

    assert [failure.message for failure in response.context["failures"]] == ["Faketool is rate limiting"]


def test_history_after_run_lists_written_fields(member_client, workspace, sync, seeded):
    member_client.post(url("run_now", sync))

    response = member_client.get(history_url(workspace), {"email": "ana@example.com"})

    changes = {(change.field, change.old_value, change.new_value) for change in response.context["changes"]}
    assert changes == {("name", "Ana", "Ana Lima"), ("tier", "silver", "gold")}


def test_history_excludes_other_workspace_records(member_client, workspace, foreign_sync):
    FieldChange.objects.create(sync=foreign_sync, record_key="ana@example.com", direction="a_to_b", field="tier", new_value="gold")

    response = member_client.get(history_url(workspace), {"email": "ana@example.com"})

    assert list(response.context["changes"]) == []


def test_history_rejects_invalid_email(member_client, workspace):
    response = member_client.get(history_url(workspace), {"email": "ana at example"})

    assert "&#x27;ana at example&#x27; is not an email address" in response.content.decode()
