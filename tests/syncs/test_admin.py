"""The staff admin of syncs, runs, failures, record state and field changes."""

import pytest
from django.urls import reverse

from syncs.models import FieldChange, RecordFailure, RecordState, Run, Sync
from tests.admin import staff_client, staff_user  # noqa: F401
from tests.syncs import billing, crm, fake_accounts, foreign_sync, make_failure, seeded, sync  # noqa: F401

SYNC_LIST = reverse("admin:syncs_sync_changelist")
RUN_LIST = reverse("admin:syncs_run_changelist")
FAILURE_LIST = reverse("admin:syncs_recordfailure_changelist")


def listed(response):
    return list(response.context["cl"].result_list)


def test_search_sync_by_member_email(staff_client, sync, member, foreign_sync):
    response = staff_client.get(SYNC_LIST, {"q": "member@acme.test"})

    assert listed(response) == [sync]


def test_search_sync_by_workspace_name(staff_client, sync, foreign_sync):
    response = staff_client.get(SYNC_LIST, {"q": "Globex"})

    assert listed(response) == [foreign_sync]


def test_filter_syncs_by_status(staff_client, sync, foreign_sync):
    foreign_sync.pause()

    response = staff_client.get(SYNC_LIST, {"status__exact": "paused"})

    assert listed(response) == [foreign_sync]


def test_sync_change_page_shows_mappings_inline(staff_client, sync):
    response = staff_client.get(reverse("admin:syncs_sync_change", args=[sync.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'value="tier"' in content


def test_sync_change_page_shows_no_credentials(staff_client, sync):
    response = staff_client.get(reverse("admin:syncs_sync_change", args=[sync.pk]))

    assert "encrypted_credentials" not in response.content.decode()
    assert sync.connection_a.encrypted_credentials not in response.content.decode()


def test_pause_and_resume_actions(staff_client, sync):
    staff_client.post(SYNC_LIST, {"action": "pause", "_selected_action": [sync.pk]})
    assert Sync.objects.get(pk=sync.pk).status == Sync.Status.PAUSED

    staff_client.post(SYNC_LIST, {"action": "resume", "_selected_action": [sync.pk]})
    assert Sync.objects.get(pk=sync.pk).status == Sync.Status.ACTIVE


def test_run_now_action_runs_sync(staff_client, sync, seeded):
    staff_client.post(SYNC_LIST, {"action": "run_now", "_selected_action": [sync.pk]})

    run = sync.runs.get()
    assert run.status == Run.Status.SUCCEEDED
    assert run.updated_count == 2


def test_admin_cannot_add_sync(staff_client):
    assert staff_client.get(reverse("admin:syncs_sync_add")).status_code == 403


@pytest.mark.parametrize("model", ["run", "recordfailure", "recordstate", "fieldchange"])
def test_history_models_have_no_add_page(staff_client, model):
    assert staff_client.get(reverse(f"admin:syncs_{model}_add")).status_code == 403


def test_run_change_page_is_read_only(staff_client, sync):
    run = Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, status=Run.Status.FAILED)

    response = staff_client.post(reverse("admin:syncs_run_change", args=[run.pk]), {"status": "succeeded"})

    assert response.status_code == 403
    assert Run.objects.get(pk=run.pk).status == Run.Status.FAILED


def test_failure_cannot_be_deleted(staff_client, sync):
    failure = make_failure(sync)

    response = staff_client.post(reverse("admin:syncs_recordfailure_delete", args=[failure.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert RecordFailure.objects.filter(pk=failure.pk).exists()


def test_filter_runs_by_trigger(staff_client, sync):
    manual = Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL)
    Run.objects.create(sync=sync, trigger=Run.Trigger.SCHEDULE)

    response = staff_client.get(RUN_LIST, {"trigger__exact": "manual"})

    assert listed(response) == [manual]


def test_filter_failures_by_category_and_status(staff_client, sync):
    expected = make_failure(sync, "ana@example.com", "rejected_value")
    make_failure(sync, "bo@example.com", "rate_limited")

    response = staff_client.get(FAILURE_LIST, {"category__exact": "rejected_value", "status__exact": "open"})

    assert listed(response) == [expected]


def test_search_failures_by_record_key(staff_client, sync):
    expected = make_failure(sync, "ana@example.com")
    make_failure(sync, "bo@example.com")

    response = staff_client.get(FAILURE_LIST, {"q": "ana@"})

    assert listed(response) == [expected]


def test_search_failures_by_workspace(staff_client, sync, foreign_sync):
    make_failure(sync)
    foreign = make_failure(foreign_sync)

    response = staff_client.get(FAILURE_LIST, {"q": "Globex"})

    assert listed(response) == [foreign]


def test_retry_action_retries_open_failures(staff_client, sync, seeded):
    failure = make_failure(sync, "ana@example.com")
    ignored = make_failure(sync, "bo@example.com", status=RecordFailure.Status.IGNORED)

    staff_client.post(FAILURE_LIST, {"action": "retry", "_selected_action": [failure.pk, ignored.pk]})

    run = sync.runs.get()
    assert run.retry_failure_ids == [failure.pk]
    assert RecordFailure.objects.get(pk=failure.pk).status == RecordFailure.Status.RESOLVED
    assert RecordFailure.objects.get(pk=ignored.pk).status == RecordFailure.Status.IGNORED


def test_record_state_and_changes_are_listed(staff_client, sync):
    RecordState.objects.create(sync=sync, record_key="ana@example.com", record_id_a="cus_1", record_id_b="c_1")
    FieldChange.objects.create(sync=sync, record_key="ana@example.com", direction="a_to_b", field="tier", new_value="gold")

    states = staff_client.get(reverse("admin:syncs_recordstate_changelist"), {"q": "ana@"})
    changes = staff_client.get(reverse("admin:syncs_fieldchange_changelist"), {"q": "ana@"})

    assert len(listed(states)) == 1
    assert len(listed(changes)) == 1


def test_non_staff_user_is_sent_to_admin_login(owner_client):
    response = owner_client.get(SYNC_LIST)

    assert response.status_code == 302
