"""
Forms of the two-step sync editor.

Step 1 (SidesForm) picks the connection and object of each side as one
choice, "<connection public id>:<object>", so no script is needed to narrow
objects down to a connection. Step 2 (SyncForm and the mapping formset)
edits the name, schedule, policy and mappings, with <select>s that list the
fields discovered on each side. The sides travel as hidden fields.
"""

import json
import logging

from django import forms
from django.forms import formset_factory

from connections.crypto import CredentialsDecryptionError
from connections.providers.errors import ProviderError
from connections.providers.types import FieldType
from syncs.models import Direction, Sync
from syncs.validation import list_objects, side_label

logger = logging.getLogger(__name__)

SIDE_SEPARATOR = ":"
# Blank mapping rows offered under the existing ones.
BLANK_ROWS = 3
VALUE_MAP_HELP = (
    "One entry per line: source value = destination value. A value missing "
    "from the map is written as it is; an empty destination value clears the field."
)
OTHER_TRANSFORM_HELP = (
    'Optional JSON object with scale, currency, date_format or epoch_unit, such as {"scale": 0.01}.'
)


def side_value(connection, object_name):
    return f"{connection.public_id}{SIDE_SEPARATOR}{object_name}"


def split_side(value):
    """Return (connection public id, object name) from a side choice; ("", "") for an empty one."""
    connection_id, _, object_name = (value or "").partition(SIDE_SEPARATOR)
    return connection_id, object_name


def side_choices(workspace, failures=None):
    """
    Return choices for every object of every connection in the workspace.

    Each active connection's provider lists its objects, with a request to
    the tool when they differ per account (Mailchimp audiences). An inactive
    connection, which can't be chosen anyway, offers the provider's fixed
    objects without a request. A connection whose objects can't be listed
    offers none, and a message saying so is appended to `failures`.
    """
    choices = [("", "Choose a tool and object")]
    for connection in workspace.connections.order_by("display_name"):
        try:
            if connection.status == connection.Status.ACTIVE:
                objects = list_objects(connection)
            else:
                objects = connection.provider_class.objects
        except KeyError:
            continue
        except (ProviderError, CredentialsDecryptionError) as error:
            logger.warning(
                "Listing the objects of connection %s in workspace %s failed: %s",
                connection.pk,
                workspace.pk,
                error,
            )
            if failures is not None:
                message = error.message if isinstance(error, ProviderError) else str(error)
                failures.append(
                    f"The objects of {connection.display_name} could not be listed: {message}. "
                    f"Try again in a few minutes, or verify the connection."
                )
            continue
        status = "" if connection.status == connection.Status.ACTIVE else f" ({connection.get_status_display().lower()})"
        for object_name, object_label in objects.items():
            label = f"{connection.display_name}{status}: {side_label(connection, object_name, object_label)}"
            choices.append((side_value(connection, object_name), label))
    return choices


class SidesForm(forms.Form):
    """Step 1: the sync's name and the object on each side."""

    name = forms.CharField(max_length=Sync._meta.get_field("name").max_length)
    side_a = forms.ChoiceField(label="Side A", help_text="The first tool and the kind of record synced there.")
    side_b = forms.ChoiceField(label="Side B", help_text="The second tool and the kind of record synced there.")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        failures = []
        choices = side_choices(workspace, failures)
        for name in ("side_a", "side_b"):
            self.fields[name].choices = choices
            self.fields[name].help_text = " ".join([self.fields[name].help_text, *failures])


class SyncForm(forms.Form):
    """Step 2: the sync's settings; the sides come from step 1 as hidden fields."""

    step = forms.CharField(widget=forms.HiddenInput, initial="mappings")
    side_a = forms.CharField(widget=forms.HiddenInput)
    side_b = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=Sync._meta.get_field("name").max_length)
    interval_minutes = forms.IntegerField(
        label="Schedule interval",
        min_value=1,
        max_value=Sync.MAX_INTERVAL_MINUTES,
        initial=Sync.DEFAULT_INTERVAL_MINUTES,
        help_text=f"Minutes between scheduled runs, from 1 to {Sync.MAX_INTERVAL_MINUTES} (a week).",
    )
    policy = forms.ChoiceField(
        label="Records found on one side only",
        choices=Sync.Policy.choices,
        initial=Sync.Policy.UPDATE_ONLY,
    )
    deletion_policy = forms.ChoiceField(
        label="Records deleted or archived in the source",
        choices=Sync.DeletionPolicy.choices,
        initial=Sync.DeletionPolicy.KEEP,
        # Left out of a post, the sync keeps its current deletion policy.
        required=False,
        help_text="Archive applies once per record, and only to a destination record the sync has already linked.",
    )
    enabled = forms.BooleanField(
        required=False,
        initial=True,
        help_text="A disabled sync runs only when a member asks for a run.",
    )


def field_label(spec):
    """Return the label of a field in a <select>: its name, type, and whether it can be written."""
    text = f"{spec.label} ({spec.name}) · {spec.type}"
    if spec.derived:
        text += " · derived, read-only"
    elif not spec.writable:
        text += " · read-only"
    return text


def field_choices(fields):
    return [("", "—")] + [(spec.name, field_label(spec)) for spec in fields.values()]


def parse_value_map(text):
    """Parse "source = destination" lines into a dict; raises ValidationError naming the bad line."""
    value_map = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        source, separator, target = line.partition("=")
        source, target = source.strip(), target.strip()
        if not separator:
            raise forms.ValidationError(
                f"Line {number} ('{line.strip()}') has no '='. Write each entry as source value = destination value."
            )
        if not source:
            raise forms.ValidationError(
                f"Line {number} ('{line.strip()}') has no source value before the '='. "
                f"Write each entry as source value = destination value."
            )
        if source in value_map:
            raise forms.ValidationError(
                f"Line {number} maps '{source}' again. Keep one line per source value."
            )
        value_map[source] = target
    return value_map


def format_value_map(value_map):
    """Return a value map as "source = target" lines, sorted by source value.

    PostgreSQL's jsonb does not keep the order of an object's keys, so the
    lines are sorted to read the same on every database.
    """
    lines = sorted((value_map or {}).items(), key=lambda item: (str(item[0]).casefold(), str(item[0])))
    return "\n".join(f"{source} = {target}" for source, target in lines)


class MappingRowForm(forms.Form):
    """One mapping row: a field on each side and which side is its source of truth."""

    field_a = forms.ChoiceField(label="Field on side A", required=False)
    direction = forms.ChoiceField(
        label="Source of truth",
        choices=[(Direction.A_TO_B, "A → B"), (Direction.B_TO_A, "B → A")],
        initial=Direction.A_TO_B,
    )
    field_b = forms.ChoiceField(label="Field on side B", required=False)
    value_map = forms.CharField(
        label="Value map", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # The help texts of these fields show once under the table, not in every row.
    truncate = forms.BooleanField(label="Cut text that is too long instead of failing the record", required=False)
    other_transform = forms.CharField(label="Other transform options", required=False)

    def __init__(self, *args, fields_a=None, fields_b=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields_a = fields_a or {}
        self.fields_b = fields_b or {}
        self.fields["field_a"].choices = field_choices(self.fields_a)
        self.fields["field_b"].choices = field_choices(self.fields_b)

    @property
    def is_blank(self):
        data = getattr(self, "cleaned_data", {})
        return not data.get("field_a") and not data.get("field_b")

    def clean_value_map(self):
        return parse_value_map(self.cleaned_data.get("value_map"))

    def clean_other_transform(self):
        text = (self.cleaned_data.get("other_transform") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"'{text}' is not valid JSON ({error.msg}). {OTHER_TRANSFORM_HELP}")
        if not isinstance(value, dict):
            raise forms.ValidationError(f"'{text}' is not a JSON object. {OTHER_TRANSFORM_HELP}")
        return value

    def clean(self):
        data = super().clean()
        if self.errors or data.get("DELETE"):
            return data
        if bool(data.get("field_a")) != bool(data.get("field_b")):
            raise forms.ValidationError(
                "Choose a field on both sides, or leave both empty to drop the row."
            )
        return data

    def transform(self):
        """Return the transform dict built from the row's cleaned data."""
        data = self.cleaned_data
        transform = dict(data.get("other_transform") or {})
        if data.get("value_map"):
            transform["value_map"] = data["value_map"]
        if data.get("truncate"):
            transform["truncate"] = True
        return transform

    def raw_value(self, name):
        """Return a field's submitted value, or its initial value on an unbound row."""
        if self.is_bound:
            return self.data.get(self.add_prefix(name)) or ""
        return self.initial.get(name) or ""

    def destination_spec(self):
        """Return the FieldSpec of the row's destination field, or None while none is chosen."""
        if self.raw_value("direction") == Direction.B_TO_A:
            return self.fields_a.get(self.raw_value("field_a"))
        return self.fields_b.get(self.raw_value("field_b"))

    def destination_options(self):
        """Return "value (label)" texts of an enumeration destination's options, for the help under the value map."""
        spec = self.destination_spec()
        if spec is None or spec.type not in (FieldType.ENUMERATION, FieldType.MULTI_SELECT):
            return []
        return [f"{value} ({label})" if label != value else value for value, label in spec.options.items()]


# A sync maps a handful of fields; the cap keeps a forged row count from
# making the server build thousands of rows.
MAX_MAPPING_ROWS = 50
MappingFormSet = formset_factory(
    MappingRowForm,
    extra=0,
    can_delete=True,
    max_num=MAX_MAPPING_ROWS,
    absolute_max=MAX_MAPPING_ROWS,
    validate_max=True,
)


def mapping_initial(mapping):
    """Return a row's initial values for a MappingData."""
    transform = dict(mapping.transform or {})
    value_map = transform.pop("value_map", None)
    truncate = bool(transform.pop("truncate", False))
    if mapping.direction == Direction.B_TO_A:
        field_a, field_b = mapping.destination_field, mapping.source_field
    else:
        field_a, field_b = mapping.source_field, mapping.destination_field
    return {
        "field_a": field_a,
        "field_b": field_b,
        "direction": mapping.direction,
        "value_map": format_value_map(value_map),
        "truncate": truncate,
        "other_transform": json.dumps(transform) if transform else "",
    }
