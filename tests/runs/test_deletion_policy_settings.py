"""The deletion policy through the API, the settings validation and the sync page."""

from django.urls import reverse

from syncs.models import Sync
from syncs.validation import SyncData, SyncInvalid, mapping_data, save_sync


def detail_url(sync):
    return reverse("api:sync-detail", args=[sync.public_id])


def test_api_patch_sets_deletion_policy(api_client, sync):
    response = api_client.patch(detail_url(sync), {"deletion_policy": "archive"}, format="json")

    sync.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["deletion_policy"] == "archive"
    assert sync.deletion_policy == Sync.DeletionPolicy.ARCHIVE


def test_api_rejects_unknown_deletion_policy(api_client, sync):
    response = api_client.patch(
        detail_url(sync), {"deletion_policy": "purge", "name": "Renamed"}, format="json"
    )

    sync.refresh_from_db()
    assert response.status_code == 400
    assert response.json()["deletion_policy"] == ["'purge' is not a deletion policy. Use one of: keep, archive."]
    assert sync.deletion_policy == Sync.DeletionPolicy.KEEP
    assert sync.name == "Billing to CRM"


def test_api_patch_without_deletion_policy_keeps_it(api_client, sync):
    sync.deletion_policy = Sync.DeletionPolicy.ARCHIVE
    sync.save(update_fields=["deletion_policy"])

    response = api_client.patch(detail_url(sync), {"name": "Renamed"}, format="json")

    sync.refresh_from_db()
    assert response.status_code == 200
    assert sync.deletion_policy == Sync.DeletionPolicy.ARCHIVE


def sync_data(sync, **changes):
    values = {
        "name": sync.name,
        "connection_a": sync.connection_a,
        "object_a": sync.object_a,
        "connection_b": sync.connection_b,
        "object_b": sync.object_b,
        "mappings": mapping_data(sync),
        **changes,
    }
    return SyncData(**values)


def test_save_sync_rejects_unknown_deletion_policy(workspace, sync):
    try:
        save_sync(workspace, sync_data(sync, deletion_policy="purge", name="Renamed"), sync=sync)
    except SyncInvalid as invalid:
        problems = invalid.problems
    else:
        problems = []

    sync.refresh_from_db()
    assert [(problem.field, problem.message) for problem in problems] == [
        ("deletion_policy", "'purge' is not a deletion policy. Use one of: keep, archive.")
    ]
    assert sync.name == "Billing to CRM"


def test_new_sync_defaults_to_keep(workspace, sync):
    created = save_sync(workspace, sync_data(sync, name="Second sync"))

    assert created.deletion_policy == Sync.DeletionPolicy.KEEP


def test_sync_page_shows_deletion_policy(owner_client, workspace, sync):
    sync.deletion_policy = Sync.DeletionPolicy.ARCHIVE
    sync.save(update_fields=["deletion_policy"])

    response = owner_client.get(sync.get_absolute_url())

    assert "Archive the linked destination record" in response.content.decode()
