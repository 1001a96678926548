"""
Check and save a sync with its field mappings, all or nothing.

The sync editor page and the REST API both go through save_sync(), so a
sync is held to the same rules whichever way it is written. Every problem
found is collected and raised together as SyncInvalid; nothing is stored
unless the whole sync is valid.
"""

import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from accounts.models import PlanLimitExceeded, Workspace
from connections.crypto import CredentialsDecryptionError
from connections.models import Connection
from connections.providers.errors import ProviderError
from syncs.engine import MappingSpec, validate_mapping, validate_transform, validate_value_map
from syncs.models import Direction, FieldMapping, RecordState, Sync, SyncCursor

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = Sync._meta.get_field("name").max_length
# The engine matches records by normalised email only.
MATCH_KEYS = ("email",)
# Unknown field errors list at most this many valid field names.
LISTED_FIELD_NAMES = 25


@dataclass
class MappingData:
    """One field mapping as a member or client sent it."""

    source_field: str
    destination_field: str
    direction: str = Direction.A_TO_B
    transform: dict | None = None


@dataclass
class SyncData:
    """A sync as a member or client sent it; a connection is a Connection or its public id."""

    name: str
    connection_a: Any
    object_a: str
    connection_b: Any
    object_b: str
    mappings: list[MappingData] = field(default_factory=list)
    match_key: str = "email"
    interval_minutes: Any = Sync.DEFAULT_INTERVAL_MINUTES
    policy: str = Sync.Policy.UPDATE_ONLY
    enabled: bool = True
    # None keeps the sync's current deletion policy ("keep" for a new sync).
    deletion_policy: str | None = None


@dataclass
class Problem:
    """
    One reason a sync can't be saved.

    `field` is the sync attribute at fault ("interval_minutes"), or None for
    the sync as a whole. For a mapping, `field` is "mappings", `index` its
    position in the list sent and `mapping_field` the part at fault
    ("source_field", "destination_field", "direction", "transform"), or None
    for the mapping as a whole.
    """

    message: str
    field: str | None = None
    index: int | None = None
    mapping_field: str | None = None


class SyncInvalid(Exception):
    """The sync was not saved; `problems` lists every reason."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))


@dataclass
class Side:
    """A connection's object, with the fields discovered in it."""

    connection: Connection
    object_name: str
    fields: dict = field(default_factory=dict)
    # The object's label as the tool listed it, when it was listed.
    object_label: str = ""

    @property
    def label(self):
        return side_label(self.connection, self.object_name, self.object_label)


def side_label(connection, object_name, object_label=""):
    """
    Return "Stripe customers" for a connection's object, falling back to the raw names.

    Without `object_label` this sends no request, so the label comes from the
    provider's fixed objects. NOTE: objects that differ per account, such as
    Mailchimp audiences, then show their raw name ("members:4f8a1c2b3d").
    """
    if not object_label:
        try:
            objects = connection.provider_class.objects
        except KeyError:
            objects = {}
        object_label = objects.get(object_name, object_name)
    return f"{connection.provider_label} {object_label[:1].lower()}{object_label[1:]}"


def list_objects(connection):
    """
    Return the objects a connection can sync, as {name: label}, from its provider.

    Providers whose objects differ per account (Mailchimp audiences) request
    them from the tool. Raises ProviderError or CredentialsDecryptionError.
    """
    return connection.get_provider().list_objects()


# Sides ----------------------------------------------------------------


def resolve_connection(workspace, value, field_name, problems):
    """Return the workspace's connection for a Connection or public id, or None after adding a problem."""
    if isinstance(value, Connection):
        value = value.public_id
    if value in (None, ""):
        problems.append(Problem("Choose a connection for this side of the sync.", field_name))
        return None
    try:
        public_id = uuid.UUID(str(value))
    except ValueError:
        public_id = None
    connection = None
    if public_id is not None:
        connection = workspace.connections.filter(public_id=public_id).first()
    if connection is None:
        # A connection of another workspace gets the same message as one
        # that never existed, so the message never reveals that it exists.
        problems.append(
            Problem(
                f"No connection with id '{value}' exists in this workspace. "
                f"List the workspace's connections to find the right id.",
                field_name,
            )
        )
        return None
    if connection.status != Connection.Status.ACTIVE:
        problems.append(
            Problem(
                f"The connection {connection.display_name} is "
                f"{connection.get_status_display().lower()}, so its fields can't be read. "
                f"Reconnect it on the Connections page, then save the sync again.",
                field_name,
            )
        )
        return None
    return connection


def check_object(connection, object_name, field_name, problems):
    """Return the object's label when the connection offers `object_name`, else add a problem and return None."""
    try:
        objects = list_objects(connection)
    except (ProviderError, CredentialsDecryptionError) as error:
        logger.info("Listing the objects of connection %s failed: %s", connection.pk, error)
        message = error.message if isinstance(error, ProviderError) else str(error)
        problems.append(
            Problem(
                f"Could not list the objects of {connection.display_name}: {message}. "
                f"Nothing was saved; try again in a few minutes.",
                field_name,
            )
        )
        return None
    if object_name in objects:
        return objects[object_name]
    allowed = ", ".join(objects) or "none"
    problems.append(
        Problem(
            f"{connection.provider_label} has no object '{object_name}'. "
            f"Choose one of: {allowed}.",
            field_name,
        )
    )
    return None


def discover_fields(connection, object_name):
    """Return the object's fields as {name: FieldSpec}; raises ProviderError when the tool can't list them."""
    connection.ensure_fresh_token()
    fields = connection.get_provider().list_fields(object_name)
    return {spec.name: spec for spec in fields}


def unlisted_field(side, name):
    """Return the FieldSpec a provider gives for a valid field it does not list (a new Stripe metadata key), or None."""
    return side.connection.get_provider().field_spec(side.object_name, name)


def resolve_sides(workspace, data, problems):
    """Check both sides of `data` and discover their fields; returns (side_a, side_b), None for a bad side."""
    sides = {}
    for letter in ("a", "b"):
        connection_field, object_field = f"connection_{letter}", f"object_{letter}"
        connection = resolve_connection(workspace, getattr(data, connection_field), connection_field, problems)
        object_name = getattr(data, object_field) or ""
        object_label = None
        if connection is not None:
            object_label = check_object(connection, object_name, object_field, problems)
        if object_label is None:
            sides[letter] = None
            continue
        sides[letter] = Side(connection, object_name, object_label=object_label)

    side_a, side_b = sides["a"], sides["b"]
    if side_a and side_b and side_a.connection.pk == side_b.connection.pk and side_a.object_name == side_b.object_name:
        problems.append(
            Problem(
                f"Both sides are {side_a.label} of {side_a.connection.display_name}. "
                f"Choose another connection or another object for side B.",
                "object_b",
            )
        )
        return None, None

    for letter, side in sides.items():
        if side is None:
            continue
        try:
            side.fields = discover_fields(side.connection, side.object_name)
        except ProviderError as error:
            logger.info(
                "Field discovery failed for connection %s object %s: %s",
                side.connection.pk,
                side.object_name,
                error.category,
            )
            problems.append(
                Problem(
                    f"Could not list the fields of {side.label} ({side.connection.display_name}): "
                    f"{error.message}. Nothing was saved; try again in a few minutes.",
                    f"connection_{letter}",
                )
            )
            sides[letter] = None
    return sides["a"], sides["b"]


# Settings -------------------------------------------------------------


def check_settings(workspace, data, problems):
    """Check the name, match key, schedule interval and policy; returns the interval as an int or None."""
    name = (data.name or "").strip()
    if not name:
        problems.append(Problem("Give the sync a name, such as 'Stripe billing to HubSpot'.", "name"))
    elif len(name) > NAME_MAX_LENGTH:
        problems.append(
            Problem(
                f"The name has {len(name)} characters, more than the maximum of {NAME_MAX_LENGTH}. "
                f"Choose a shorter name.",
                "name",
            )
        )
    if data.match_key not in MATCH_KEYS:
        problems.append(
            Problem(
                f"Records can't be matched by '{data.match_key}': the match key must be one of "
                f"{', '.join(MATCH_KEYS)}.",
                "match_key",
            )
        )
    if data.policy not in Sync.Policy.values:
        problems.append(
            Problem(
                f"'{data.policy}' is not a policy. Use one of: {', '.join(Sync.Policy.values)}.",
                "policy",
            )
        )
    if data.deletion_policy is not None and data.deletion_policy not in Sync.DeletionPolicy.values:
        problems.append(
            Problem(
                f"'{data.deletion_policy}' is not a deletion policy. Use one of: "
                f"{', '.join(Sync.DeletionPolicy.values)}.",
                "deletion_policy",
            )
        )

    interval = data.interval_minutes
    if isinstance(interval, bool) or not isinstance(interval, int):
        try:
            interval = int(str(interval).strip())
        except ValueError:
            problems.append(
                Problem(
                    f"The schedule interval '{data.interval_minutes}' is not a whole number of minutes. "
                    f"Enter a number such as {Sync.DEFAULT_INTERVAL_MINUTES}.",
                    "interval_minutes",
                )
            )
            return None
    if interval < 1:
        problems.append(
            Problem(
                f"The schedule interval must be at least 1 minute; got {interval}. "
                f"Enter a number such as {Sync.DEFAULT_INTERVAL_MINUTES}.",
                "interval_minutes",
            )
        )
        return None
    if interval > Sync.MAX_INTERVAL_MINUTES:
        problems.append(
            Problem(
                f"The schedule interval must be at most {Sync.MAX_INTERVAL_MINUTES} minutes (a week); "
                f"got {interval}. Choose a shorter interval, or pause the sync instead.",
                "interval_minutes",
            )
        )
        return None
    try:
        workspace.check_schedule_interval(interval)
    except PlanLimitExceeded as error:
        problems.append(Problem(str(error), "interval_minutes"))
        return None
    return interval


# Mappings -------------------------------------------------------------


def _field_names(side):
    names = sorted(side.fields)
    listed = ", ".join(names[:LISTED_FIELD_NAMES])
    if len(names) > LISTED_FIELD_NAMES:
        listed += f" and {len(names) - LISTED_FIELD_NAMES} more"
    return listed


def _unknown_field(name, side, index, mapping_field):
    return Problem(
        f"{side.label} ({side.connection.display_name}) has no field '{name}'. "
        f"Choose one of its fields: {_field_names(side)}.",
        "mappings",
        index,
        mapping_field,
    )


def check_mappings(mappings, side_a, side_b, problems):
    """Check each mapping against the discovered fields and the others; returns the FieldMapping rows to store."""
    if not mappings:
        problems.append(
            Problem("Add at least one field mapping: a sync without mappings has nothing to write.", "mappings")
        )
        return []

    rows = []
    writers = {}  # (direction, destination field) → index of the first mapping writing it
    pairs = {}  # (direction, source field, destination field) → index
    for index, mapping in enumerate(mappings):
        number = index + 1
        if mapping.direction not in Direction.values:
            problems.append(
                Problem(
                    f"Mapping {number}: '{mapping.direction}' is not a direction. "
                    f"Use {Direction.A_TO_B} (side A is the source of truth) or {Direction.B_TO_A}.",
                    "mappings",
                    index,
                    "direction",
                )
            )
            continue
        source_side, destination_side = (side_a, side_b) if mapping.direction == Direction.A_TO_B else (side_b, side_a)
        source_name = (mapping.source_field or "").strip()
        destination_name = (mapping.destination_field or "").strip()
        for name, mapping_field in ((source_name, "source_field"), (destination_name, "destination_field")):
            if not name:
                problems.append(Problem(f"Mapping {number}: choose a {mapping_field.replace('_', ' ')}.", "mappings", index, mapping_field))

        writer = writers.setdefault((mapping.direction, destination_name), index)
        if destination_name and writer != index:
            problems.append(
                Problem(
                    f"Mapping {number} writes '{destination_name}', which mapping {writer + 1} already writes "
                    f"in the same direction. A field takes its value from one mapping only: remove one of them.",
                    "mappings",
                    index,
                    "destination_field",
                )
            )
        reverse_direction = Direction.B_TO_A if mapping.direction == Direction.A_TO_B else Direction.A_TO_B
        reverse = pairs.get((reverse_direction, destination_name, source_name))
        if source_name and destination_name and reverse is not None:
            problems.append(
                Problem(
                    f"Mapping {number} writes '{destination_name}' from '{source_name}' while mapping {reverse + 1} "
                    f"writes '{source_name}' from '{destination_name}', so each side would be the source of truth "
                    f"of the other. Keep the direction of the side whose value is right and remove the other mapping.",
                    "mappings",
                    index,
                    "direction",
                )
            )
        pairs.setdefault((mapping.direction, source_name, destination_name), index)

        if source_side is None or destination_side is None or not source_name or not destination_name:
            continue
        source_spec = source_side.fields.get(source_name) or unlisted_field(source_side, source_name)
        destination_spec = destination_side.fields.get(destination_name) or unlisted_field(destination_side, destination_name)
        if source_spec is None:
            problems.append(_unknown_field(source_name, source_side, index, "source_field"))
        if destination_spec is None:
            problems.append(_unknown_field(destination_name, destination_side, index, "destination_field"))
        if source_spec is None or destination_spec is None:
            continue

        transform = mapping.transform or {}
        transform_messages = set(validate_transform(transform))
        if isinstance(transform, dict) and isinstance(transform.get("value_map"), dict):
            transform_messages.update(validate_value_map(transform["value_map"], destination_spec))
        for message in validate_mapping(MappingSpec(source_spec, destination_spec, transform)):
            # The engine's other messages are about the destination field itself (read-only).
            mapping_field = "transform" if message in transform_messages else "destination_field"
            problems.append(Problem(f"Mapping {number}: {message}", "mappings", index, mapping_field))
        rows.append(
            FieldMapping(
                direction=mapping.direction,
                source_field=source_name,
                destination_field=destination_name,
                source_spec=_snapshot(source_spec),
                destination_spec=_snapshot(destination_spec),
                transform=transform,
                position=index,
            )
        )
    return rows


def _snapshot(spec):
    snapshot = dataclasses.asdict(spec)
    snapshot["type"] = str(spec.type)
    return snapshot


# Saving ---------------------------------------------------------------


def _mapping_keys(rows, direction):
    return sorted(
        (row.source_field, row.destination_field, repr(sorted((row.transform or {}).items())))
        for row in rows
        if row.direction == direction
    )


def save_sync(workspace, data, sync=None, user=None):
    """
    Validate `data` and create a sync, or update `sync`, with exactly the mappings given.

    Raises SyncInvalid listing every problem; then nothing is stored. On an
    update the mappings are replaced as a whole. Changing a side deletes the
    sync's cursors and record links, because they belong to the old side.
    Changing a direction's mappings deletes that direction's cursor, so the
    next run reads every record once and fills the new fields in. The diff
    then skips values that are already equal.
    """
    problems = []
    interval = check_settings(workspace, data, problems)
    side_a, side_b = resolve_sides(workspace, data, problems)
    rows = check_mappings(data.mappings, side_a, side_b, problems)
    if problems:
        raise SyncInvalid(problems)

    with transaction.atomic():
        if sync is None:
            # The workspace row lock serialises concurrent creates, so two
            # requests can't both pass the plan's sync limit.
            locked = Workspace.objects.select_for_update().select_related("plan").get(pk=workspace.pk)
            try:
                locked.check_plan_limit("syncs", locked.syncs.count())
            except PlanLimitExceeded as error:
                raise SyncInvalid([Problem(str(error))]) from None
            sync = Sync(workspace=workspace, created_by=user)
            old_rows, old_sides = [], None
        else:
            # Two concurrent edits of one sync take turns, so neither meets
            # the other's half-replaced mappings.
            Sync.objects.select_for_update().filter(pk=sync.pk).first()
            old_rows = list(sync.mappings.all())
            old_sides = (sync.connection_a_id, sync.object_a, sync.connection_b_id, sync.object_b)

        sync.name = data.name.strip()
        sync.connection_a = side_a.connection
        sync.object_a = side_a.object_name
        sync.connection_b = side_b.connection
        sync.object_b = side_b.object_name
        sync.match_key = data.match_key
        sync.interval_minutes = interval
        sync.policy = data.policy
        if data.deletion_policy is not None:
            sync.deletion_policy = data.deletion_policy
        sync.enabled = bool(data.enabled)
        sync.save()

        new_sides = (sync.connection_a_id, sync.object_a, sync.connection_b_id, sync.object_b)
        if old_sides is not None and old_sides != new_sides:
            SyncCursor.objects.filter(sync=sync).delete()
            RecordState.objects.filter(sync=sync).delete()
        elif old_sides is not None:
            for direction in Direction.values:
                if _mapping_keys(old_rows, direction) != _mapping_keys(rows, direction):
                    SyncCursor.objects.filter(sync=sync, direction=direction).delete()

        sync.mappings.all().delete()
        for row in rows:
            row.sync = sync
        FieldMapping.objects.bulk_create(rows)

    logger.info(
        "Saved sync %s of workspace %s with %s mappings (user %s)",
        sync.pk,
        workspace.pk,
        len(rows),
        getattr(user, "pk", None),
    )
    return sync


def mapping_data(sync):
    """Return the sync's stored mappings as MappingData, in their order."""
    return [
        MappingData(mapping.source_field, mapping.destination_field, mapping.direction, dict(mapping.transform or {}))
        for mapping in sync.mappings.all()
    ]
