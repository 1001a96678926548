"""Sync pages: who may open or use each one, and what the list, detail, run and preview pages show."""

import pytest
from django.test import Client
from django.urls import reverse

from syncs.models import FieldChange, RecordFailure, Run, Sync
from tests.syncs import (  # noqa: F401
    ACCOUNTS,
    billing,
    crm,
    fake_accounts,
    foreign_sync,
    make_failure,
    seeded,
    sync,
)

# (URL name, method, managers only)
PAGES = [
    ("list", "get", False),
    ("new", "get", True),
    ("record_history", "get", False),
    ("detail", "get", False),
    ("edit", "get", True),
    ("delete", "get", True),
    ("run_now", "post", False),
    ("pause", "post", False),
    ("resume", "post", False),
    ("preview", "get", False),
    ("runs", "get", False),
    ("run_detail", "get", False),
    ("failures", "get", False),
    ("retry_failures", "post", False),
    ("ignore_failures", "post", False),
]
WORKSPACE_PAGES = {"list", "new", "record_history"}


def page_url(name, sync, run=None):
    workspace_id = sync.workspace.public_id
    if name in WORKSPACE_PAGES:
        return reverse(f"syncs:{name}", args=[workspace_id])
    if name == "run_detail":
        return reverse("syncs:run_detail", args=[workspace_id, sync.public_id, run.public_id])
    return reverse(f"syncs:{name}", args=[workspace_id, sync.public_id])


def url(name, sync, *args):
    return reverse(f"syncs:{name}", args=[sync.workspace.public_id, sync.public_id, *args])


@pytest.fixture
def run(sync):
    return Run.objects.create(sync=sync, trigger=Run.Trigger.MANUAL, status=Run.Status.SUCCEEDED, read_count=2, updated_count=2, api_calls={"read": 3, "write": 1})


@pytest.mark.parametrize("name, method, _manager_only", PAGES)
def test_anonymous_is_sent_to_login(name, method, _manager_only, sync, run):
    response = getattr(Client(), method)(page_url(name, sync, run))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name, method, _manager_only", PAGES)
def test_outsider_gets_404(name, method, _manager_only, outsider_client, sync, run):
    response = getattr(outsider_client, method)(page_url(name, sync, run))

    assert response.status_code == 404


@pytest.mark.parametrize("name, method, _manager_only", [page for page in PAGES if page[0] not in WORKSPACE_PAGES])
def test_sync_of_other_workspace_gets_404(name, method, _manager_only, owner_client, workspace, foreign_sync):
    foreign_run = Run.objects.create(sync=foreign_sync, trigger=Run.Trigger.MANUAL)
    path = page_url(name, foreign_sync, foreign_run).replace(str(foreign_sync.workspace.public_id), str(workspace.public_id))

    response = getattr(owner_client, method)(path)

    assert response.status_code == 404


@pytest.mark.parametrize("name, method, manager_only", PAGES)
def test_member_access_matches_role(name, method, manager_only, member_client, sync, run, seeded):
    response = getattr(member_client, method)(page_url(name, sync, run))

    if manager_only:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302)


@pytest.mark.parametrize("name, method, _manager_only", PAGES)
def test_owner_may_use_every_page(name, method, _manager_only, owner_client, sync, run, seeded):
    response = getattr(owner_client, method)(page_url(name, sync, run))

    assert response.status_code in (200, 302)


def test_run_detail_of_other_sync_gets_404(owner_client, workspace, sync, billing, crm):
    other = Sync.objects.create(workspace=workspace, name="Other", connection_a=billing, object_a="customer", connection_b=crm, object_b="contact")
    other_run = Run.objects.create(sync=other, trigger=Run.Trigger.MANUAL)

    response = owner_client.get(url("run_detail", sync, other_run.public_id))

    assert response.status_code == 404


# List and detail


def test_list_shows_sides_status_and_open_failures(member_client, workspace, sync, run):
    make_failure(sync)
    make_failure(sync, "bo@example.com", status=RecordFailure.Status.IGNORED)

    response = member_client.get(reverse("syncs:list", args=[workspace.public_id]))

    content = response.content.decode()
    row = next(row for row in response.context["syncs"] if row.pk == sync.pk)
    assert "Faketool customers → Faketool contacts" in content
    assert row.open_failure_count == 1
    assert row.last_run_label == "Succeeded"


def test_list_hides_new_sync_button_from_member(member_client, workspace, sync):
    content = member_client.get(reverse("syncs:list", args=[workspace.public_id])).content.decode()

    assert "New sync" not in content


def test_list_shows_new_sync_button_to_owner(owner_client, workspace):
    content = owner_client.get(reverse("syncs:list", args=[workspace.public_id])).content.decode()

    assert "New sync" in content


def test_list_omits_other_workspace_syncs(owner_client, workspace, sync, foreign_sync):
    response = owner_client.get(reverse("syncs:list", args=[workspace.public_id]))

    assert [row.name for row in response.context["syncs"]] == ["Billing to CRM"]


def test_detail_shows_mappings_and_runs(member_client, sync, run):
    content = member_client.get(sync.get_absolute_url()).content.decode()

    assert "<code>plan</code>" in content
    assert "<code>pro</code> → <code>gold</code>" in content
    assert url("run_detail", sync, run.public_id) in content


def test_runs_page_shows_counts_and_api_calls(member_client, sync, run):
    content = member_client.get(url("runs", sync)).content.decode()

    assert "read 3, write 1" in content


def test_run_detail_shows_counts_changes_and_error(member_client, sync, run):
    run.error = "The connection Crm needs re-authorisation."
    run.save()
    FieldChange.objects.create(sync=sync, run=run, record_key="ana@example.com", direction="a_to_b", field="name", old_value="Ana", new_value="Ana Lima")

    response = member_client.get(url("run_detail", sync, run.public_id))

    content = response.content.decode()
    assert ("updated", 2) in response.context["counts"]
    assert response.context["api_call_total"] == 4
    assert "Ana Lima" in content
    assert "needs re-authorisation" in content


# Run now, pause, resume


def test_run_now_runs_sync_and_counts_records(member_client, sync, seeded):
    response = member_client.post(url("run_now", sync))

    run = sync.runs.get()
    assert response.status_code == 302
    assert response["Location"] == url("run_detail", sync, run.public_id)
    assert run.trigger == Run.Trigger.MANUAL
    assert run.status == Run.Status.SUCCEEDED
    assert run.read_count == 2
    assert run.updated_count == 2
    assert run.api_calls["write"] == 1


def test_run_now_writes_mapped_values(member_client, sync, seeded):
    member_client.post(url("run_now", sync))

    _billing, crm_account = seeded
    assert crm_account.values("contact", "c_1") == {"name": "Ana Lima", "tier": "gold"}


def test_run_now_rejects_get(member_client, sync):
    response = member_client.get(url("run_now", sync))

    assert response.status_code == 405
    assert not sync.runs.exists()


def test_pause_then_resume(member_client, sync):
    member_client.post(url("pause", sync))
    sync.refresh_from_db()
    assert sync.status == Sync.Status.PAUSED

    member_client.post(url("resume", sync))
    sync.refresh_from_db()
    assert sync.status == Sync.Status.ACTIVE


def test_resume_clears_blocked_reason(member_client, sync):
    sync.block("Crm needs re-authorisation.")

    member_client.post(url("resume", sync))

    sync.refresh_from_db()
    assert sync.blocked_reason == ""


# Delete


def test_owner_deletes_sync(owner_client, sync, run):
    response = owner_client.post(url("delete", sync))

    assert response.status_code == 302
    assert not Sync.objects.filter(pk=sync.pk).exists()
    assert not Run.objects.filter(pk=run.pk).exists()


def test_member_cannot_delete_sync(member_client, sync):
    response = member_client.post(url("delete", sync))

    assert response.status_code == 403
    assert Sync.objects.filter(pk=sync.pk).exists()


def test_delete_page_asks_before_deleting(owner_client, sync):
    response = owner_client.get(url("delete", sync))

    assert "Delete the sync" in response.content.decode()
    assert Sync.objects.filter(pk=sync.pk).exists()


# Preview


def test_preview_shows_before_and_after(member_client, sync, seeded):
    response = member_client.get(url("preview", sync))

    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["preview"].read == 2
    assert "<td>Ana</td>" in content
    assert "<td>Ana Lima</td>" in content


def test_preview_writes_nothing(member_client, sync, seeded):
    member_client.get(url("preview", sync))

    _billing, crm_account = seeded
    assert crm_account.values("contact", "c_1") == {"name": "Ana", "tier": "silver"}
    assert not sync.runs.exists()


def test_preview_lists_records_that_would_fail(member_client, sync, seeded):
    billing_account, _crm = seeded
    billing_account.add("customer", "cus_3", "not-an-email", name="Nobody", plan="pro")

    response = member_client.get(url("preview", sync))

    assert [row.category for row in response.context["failures"]] == ["missing_email"]


def test_preview_shows_connection_error(member_client, sync, seeded, crm):
    crm.mark_needs_reauth("expired")

    response = member_client.get(url("preview", sync))

    assert "The preview could not run: Faketool no longer accepts" in response.content.decode()
