"""Preview of the next run of a sync: the writes it would make, record by record and field by field."""

from dataclasses import dataclass, field

from syncs.engine import CreatePolicy, chunk, emails_to_look_up, plan_batch
from syncs.models import SyncCursor
from syncs.runner import RunExecutor, sides

# A preview reads at most this many source records per direction.
PREVIEW_RECORDS = 100


@dataclass
class PreviewRow:
    direction: str
    record_key: str
    action: str  # "update", "create" or "fail"
    record_id: str | None = None
    # (field, before, after) for each field that would be written.
    changes: list = field(default_factory=list)
    category: str = ""
    message: str = ""


@dataclass
class Preview:
    rows: list = field(default_factory=list)
    read: int = 0
    unchanged: int = 0
    skipped: int = 0
    # True when the source had more changed records than the preview read.
    truncated: bool = False


def preview_sync(sync, limit=PREVIEW_RECORDS):
    """
    Read up to `limit` changed source records per direction and plan them as a run would.

    Reads and lookups reach the tools; nothing is written to them or stored.
    Raises the run's errors (RunAborted, ProviderError) for the caller to show.
    """
    executor = RunExecutor(run=_NoRun(sync), owner="")
    preview = Preview()
    for direction in executor.directions():
        source_side, destination_side = sides(direction)
        source = executor.provider_for(source_side)
        destination = executor.provider_for(destination_side)
        specs = executor.mapping_specs(direction)
        cursor = SyncCursor.objects.filter(sync=sync, direction=direction).values_list("value", flat=True).first()
        records = []
        for page in source.read_changes(sync.object_for(source_side), [s.source_field.name for s in specs], cursor or None):
            records.extend(page.records)
            if len(records) >= limit:
                preview.truncated = page.has_more or len(records) > limit
                break
        records = records[:limit]
        preview.read += len(records)
        destination_object = sync.object_for(destination_side)
        found = {}
        for emails in chunk(emails_to_look_up(records), destination.lookup_batch_size):
            found.update(
                destination.lookup_by_email(destination_object, emails, [s.destination_field.name for s in specs])
            )
        states = executor.engine_states(source_side, destination_side, records)
        plan = plan_batch(records, found, specs, CreatePolicy(sync.policy), states)
        current = {record.id: record.values for candidates in found.values() for record in candidates}
        for write in plan.writes:
            before = current.get(write.record_id, {})
            preview.rows.append(
                PreviewRow(
                    direction,
                    write.key,
                    "update",
                    write.record_id,
                    [(name, before.get(name), value) for name, value in write.values.items()],
                )
            )
        for write in plan.creates:
            preview.rows.append(
                PreviewRow(direction, write.key, "create", None, [(name, None, value) for name, value in write.values.items()])
            )
        for failure in plan.failures:
            preview.rows.append(
                PreviewRow(
                    direction,
                    failure.key or f"{source_side}:{failure.source_id}",
                    "fail",
                    failure.destination_id,
                    category=failure.category.value,
                    message=failure.message,
                )
            )
        preview.unchanged += len(plan.unchanged)
        preview.skipped += len(plan.skipped)
    return preview


class _NoRun:
    """Stands in for a Run so the executor's read-only helpers work without storing one."""

    trigger = "preview"

    def __init__(self, sync):
        self.sync = sync
