"""
Pages of syncs: list, editor, detail, runs, failures, record history and preview.

Owners and admins create, edit and delete syncs, because a sync writes into
the workspace's tools. Every member may view syncs, runs and failures, ask
for a run, pause or resume a sync, preview it, and retry or ignore record
failures: none of those changes what a sync writes or where. The REST API
follows the same split, with an API key (made by an owner or admin) acting
for the whole workspace.
"""

import logging
import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_view
from connections.providers.errors import ProviderError
from connections.providers.types import FAILURE_LABELS, FailureCategory, FieldType
from syncs.engine import normalize_email
from syncs.forms import (
    BLANK_ROWS,
    OTHER_TRANSFORM_HELP,
    VALUE_MAP_HELP,
    MappingFormSet,
    SidesForm,
    SyncForm,
    mapping_initial,
    side_value,
    split_side,
)
from syncs.models import Direction, FieldChange, RecordFailure, RecordState, Run, Sync
from syncs.preview import preview_sync
from syncs.runner import RunAborted
from syncs.services import retry_failures as queue_retry
from syncs.validation import MappingData, SyncData, SyncInvalid, mapping_data, resolve_sides, save_sync, side_label

logger = logging.getLogger(__name__)

LIVE_FAILURE_STATUSES = [RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING]
RECENT_RUNS = 10
RUNS_PER_PAGE = 50
# The failures page lists at most this many failures per category.
FAILURES_PER_CATEGORY = 200
HISTORY_CHANGES = 200


def _sync_or_404(workspace, sync_id):
    queryset = Sync.objects.select_related("workspace", "connection_a", "connection_b")
    return get_object_or_404(queryset, workspace=workspace, public_id=sync_id)


def describe_sides(sync, directions=None):
    """Return "Stripe customers → HubSpot contacts", with the arrow showing which ways mappings write."""
    if directions is None:
        directions = {mapping.direction for mapping in sync.mappings.all()}
    arrow = "→"
    if directions == {Direction.B_TO_A}:
        arrow = "←"
    elif len(directions) == 2:
        arrow = "↔"
    return f"{side_label(sync.connection_a, sync.object_a)} {arrow} {side_label(sync.connection_b, sync.object_b)}"


def _failures_url(sync):
    return reverse("syncs:failures", args=[sync.workspace.public_id, sync.public_id])


# List and detail


@workspace_view()
def sync_list(request, workspace):
    last_run = Run.objects.filter(sync=OuterRef("pk")).order_by("-created_at")
    syncs = (
        workspace.syncs.select_related("workspace", "connection_a", "connection_b")
        .prefetch_related("mappings")
        .annotate(
            last_run_status=Subquery(last_run.values("status")[:1]),
            last_run_at=Subquery(last_run.values("created_at")[:1]),
            open_failure_count=Count("failures", filter=Q(failures__status__in=LIVE_FAILURE_STATUSES)),
        )
    )
    run_labels = dict(Run.Status.choices)
    for sync in syncs:
        sync.sides = describe_sides(sync)
        sync.last_run_label = run_labels.get(sync.last_run_status, "")
    return render(request, "syncs/list.html", {"syncs": syncs})


@workspace_view()
def sync_detail(request, workspace, sync_id):
    sync = _sync_or_404(workspace, sync_id)
    mappings = list(sync.mappings.all())
    context = {
        "sync": sync,
        "sides": describe_sides(sync, {mapping.direction for mapping in mappings}),
        "side_a": side_label(sync.connection_a, sync.object_a),
        "side_b": side_label(sync.connection_b, sync.object_b),
        "mappings": mappings,
        "runs": sync.runs.all()[:RECENT_RUNS],
        "open_failure_count": sync.open_failures().count(),
    }
    return render(request, "syncs/detail.html", context)


# The editor


SIDE_FIELDS = {"connection_a": "side_a", "object_a": "side_a", "connection_b": "side_b", "object_b": "side_b"}


def _sides_problems_to_form(form, problems):
    for problem in problems:
        form.add_error(SIDE_FIELDS.get(problem.field), problem.message)


def _render_sides(request, workspace, sync, form, errors=(), status=200):
    context = {"form": form, "sync": sync, "step": 1, "errors": list(errors)}
    return render(request, "syncs/edit_sides.html", context, status=status)


def _fields_reference(side_a, side_b):
    """Return the enumeration fields of both sides with their options, for the value map help."""
    reference = []
    for letter, side in (("A", side_a), ("B", side_b)):
        for spec in side.fields.values():
            if spec.type in (FieldType.ENUMERATION, FieldType.MULTI_SELECT) and spec.options:
                reference.append({"side": letter, "spec": spec})
    return reference


def _render_mappings(request, workspace, sync, form, formset, side_a, side_b, errors=(), status=200, show_errors=True):
    context = {
        "form": form,
        "formset": formset,
        "sync": sync,
        "step": 2,
        "side_a": side_a,
        "side_b": side_b,
        "fields_reference": _fields_reference(side_a, side_b),
        "value_map_help": VALUE_MAP_HELP,
        "other_transform_help": OTHER_TRANSFORM_HELP,
        "errors": list(errors),
        "show_errors": show_errors,
    }
    return render(request, "syncs/edit_mappings.html", context, status=status)


def _settings_initial(data):
    """Return the posted step 2 settings as SyncForm initial values, so the form keeps them without validating."""
    initial = {
        name: data.get(name, "")
        for name in ("side_a", "side_b", "name", "interval_minutes", "policy", "deletion_policy")
    }
    initial["enabled"] = bool(data.get("enabled"))
    return initial


def _sync_data(form_data, side_a_value, side_b_value, mappings):
    connection_a, object_a = split_side(side_a_value)
    connection_b, object_b = split_side(side_b_value)
    return SyncData(
        name=form_data.get("name", ""),
        connection_a=connection_a,
        object_a=object_a,
        connection_b=connection_b,
        object_b=object_b,
        mappings=mappings,
        interval_minutes=form_data.get("interval_minutes"),
        policy=form_data.get("policy", ""),
        deletion_policy=form_data.get("deletion_policy") or None,
        enabled=form_data.get("enabled", False),
    )


def _resolve_posted_sides(workspace, side_a_value, side_b_value):
    """Return (side_a, side_b, problems) for two posted side choices, discovering their fields."""
    problems = []
    data = _sync_data({}, side_a_value, side_b_value, [])
    side_a, side_b = resolve_sides(workspace, data, problems)
    return side_a, side_b, problems


def _row_target(row, problem):
    """Return the row field a mapping problem belongs on, or None for the row as a whole."""
    direction = row.cleaned_data.get("direction") if hasattr(row, "cleaned_data") else None
    a_is_source = direction != Direction.B_TO_A
    if problem.mapping_field == "source_field":
        return "field_a" if a_is_source else "field_b"
    if problem.mapping_field == "destination_field":
        return "field_b" if a_is_source else "field_a"
    if problem.mapping_field == "direction":
        return "direction"
    return None


def _place_problems(form, rows, problems):
    """Attach validation problems to the form and mapping rows; returns the ones that fit neither."""
    leftovers = []
    for problem in problems:
        if problem.field == "mappings" and problem.index is not None and problem.index < len(rows):
            row = rows[problem.index]
            row.add_error(_row_target(row, problem), problem.message)
        elif problem.field in ("name", "interval_minutes", "policy", "deletion_policy"):
            form.add_error(problem.field, problem.message)
        else:
            leftovers.append(problem.message)
    return leftovers


def _editor(request, workspace, sync):
    """Run the two-step editor for a new sync (sync is None) or an existing one."""
    step = request.POST.get("step") if request.method == "POST" else request.GET.get("step")
    if request.method == "GET" and (sync is None or step == "sides"):
        initial = {}
        if sync is not None:
            initial = {
                "name": sync.name,
                "side_a": side_value(sync.connection_a, sync.object_a),
                "side_b": side_value(sync.connection_b, sync.object_b),
            }
        return _render_sides(request, workspace, sync, SidesForm(workspace=workspace, initial=initial))

    if request.method == "POST" and step == "sides":
        sides_form = SidesForm(request.POST, workspace=workspace)
        if not sides_form.is_valid():
            return _render_sides(request, workspace, sync, sides_form, status=400)
        side_a_value, side_b_value = sides_form.cleaned_data["side_a"], sides_form.cleaned_data["side_b"]
        side_a, side_b, problems = _resolve_posted_sides(workspace, side_a_value, side_b_value)
        if problems:
            _sides_problems_to_form(sides_form, problems)
            return _render_sides(request, workspace, sync, sides_form, status=400)
        return _start_mappings(request, workspace, sync, sides_form.cleaned_data["name"], side_a, side_b)

    if request.method == "GET":
        side_a, side_b, problems = _resolve_posted_sides(
            workspace,
            side_value(sync.connection_a, sync.object_a),
            side_value(sync.connection_b, sync.object_b),
        )
        if problems:
            initial = {
                "name": sync.name,
                "side_a": side_value(sync.connection_a, sync.object_a),
                "side_b": side_value(sync.connection_b, sync.object_b),
            }
            errors = [problem.message for problem in problems]
            return _render_sides(request, workspace, sync, SidesForm(workspace=workspace, initial=initial), errors)
        return _start_mappings(request, workspace, sync, sync.name, side_a, side_b)

    return _save_mappings(request, workspace, sync)


def _start_mappings(request, workspace, sync, name, side_a, side_b):
    """Render step 2 unbound, keeping the sync's mappings when its sides did not change."""
    side_a_value = side_value(side_a.connection, side_a.object_name)
    side_b_value = side_value(side_b.connection, side_b.object_name)
    initial = {"name": name, "side_a": side_a_value, "side_b": side_b_value}
    rows = []
    if sync is not None:
        initial.update(
            interval_minutes=sync.interval_minutes,
            policy=sync.policy,
            deletion_policy=sync.deletion_policy,
            enabled=sync.enabled,
        )
        same_sides = (
            side_value(sync.connection_a, sync.object_a) == side_a_value
            and side_value(sync.connection_b, sync.object_b) == side_b_value
        )
        if same_sides:
            rows = [mapping_initial(mapping) for mapping in mapping_data(sync)]
    form = SyncForm(initial=initial)
    formset = MappingFormSet(
        initial=rows + [{} for _ in range(BLANK_ROWS)],
        prefix="mappings",
        form_kwargs={"fields_a": side_a.fields, "fields_b": side_b.fields},
    )
    return _render_mappings(request, workspace, sync, form, formset, side_a, side_b)


def _save_mappings(request, workspace, sync):
    form = SyncForm(request.POST)
    side_a_value, side_b_value = request.POST.get("side_a", ""), request.POST.get("side_b", "")
    side_a, side_b, problems = _resolve_posted_sides(workspace, side_a_value, side_b_value)
    if problems:
        sides_form = SidesForm(
            workspace=workspace,
            initial={"name": request.POST.get("name", ""), "side_a": side_a_value, "side_b": side_b_value},
        )
        errors = [problem.message for problem in problems]
        return _render_sides(request, workspace, sync, sides_form, errors, status=400)

    data = request.POST
    if "add_row" in request.POST:
        data = request.POST.copy()
        total = data.get("mappings-TOTAL_FORMS", "0")
        data["mappings-TOTAL_FORMS"] = str(int(total) + 1 if total.isdigit() else 1)
    formset = MappingFormSet(data, prefix="mappings", form_kwargs={"fields_a": side_a.fields, "fields_b": side_b.fields})
    if "add_row" in request.POST:
        # Adding a row saves nothing, so the rows typed so far (and the new
        # blank one) are not judged yet: their errors show on save.
        settings_form = SyncForm(initial=_settings_initial(data))
        return _render_mappings(request, workspace, sync, settings_form, formset, side_a, side_b, show_errors=False)

    if not (form.is_valid() and formset.is_valid()):
        return _render_mappings(request, workspace, sync, form, formset, side_a, side_b, status=400)

    rows, mappings = [], []
    for row in formset.forms:
        if row.cleaned_data.get("DELETE") or row.is_blank:
            continue
        cleaned = row.cleaned_data
        if cleaned["direction"] == Direction.B_TO_A:
            source, destination = cleaned["field_b"], cleaned["field_a"]
        else:
            source, destination = cleaned["field_a"], cleaned["field_b"]
        rows.append(row)
        mappings.append(MappingData(source, destination, cleaned["direction"], row.transform()))

    sync_data = _sync_data(form.cleaned_data, side_a_value, side_b_value, mappings)
    try:
        saved = save_sync(workspace, sync_data, sync=sync, user=request.user)
    except SyncInvalid as invalid:
        if sync is not None:
            sync.refresh_from_db()
        leftovers = _place_problems(form, rows, invalid.problems)
        return _render_mappings(request, workspace, sync, form, formset, side_a, side_b, leftovers, status=400)

    verb = "Created" if sync is None else "Saved"
    messages.success(request, f"{verb} the sync {saved.name} with {len(mappings)} field mappings.")
    return redirect(saved)


@workspace_view(manager_only=True)
def sync_new(request, workspace):
    """Create a sync in two steps: pick the sides, then map the fields. Owners and admins only."""
    return _editor(request, workspace, None)


@workspace_view(manager_only=True)
def sync_edit(request, workspace, sync_id):
    """Edit a sync's settings and mappings; `?step=sides` changes its tools first. Owners and admins only."""
    sync = _sync_or_404(workspace, sync_id)
    return _editor(request, workspace, sync)


@workspace_view(manager_only=True)
def sync_delete(request, workspace, sync_id):
    """Delete a sync with its runs, failures and change history, after a confirmation page. Owners and admins only."""
    sync = _sync_or_404(workspace, sync_id)
    if request.method != "POST":
        return render(request, "syncs/delete.html", {"sync": sync, "run_count": sync.runs.count()})
    name = sync.name
    sync.delete()
    logger.info("User %s deleted sync %s of workspace %s", request.user.pk, sync_id, workspace.pk)
    messages.success(request, f"Deleted the sync {name}, with its runs, failures and change history.")
    return redirect("syncs:list", workspace_id=workspace.public_id)


# Actions any member may take


@workspace_view()
@require_POST
def sync_run_now(request, workspace, sync_id):
    """Queue a manual run, or point at the run already queued or running. Any member; paused syncs too."""
    sync = _sync_or_404(workspace, sync_id)
    run, created = sync.run_now()
    logger.info("User %s asked for run %s of sync %s (new: %s)", request.user.pk, run.pk, sync.pk, created)
    if created:
        messages.success(request, f"Started a run of {sync.name}.")
    else:
        messages.info(request, f"A run of {sync.name} is already {run.get_status_display().lower()}; this is that run.")
    return redirect("syncs:run_detail", workspace.public_id, sync.public_id, run.public_id)


@workspace_view()
@require_POST
def sync_pause(request, workspace, sync_id):
    """Stop scheduled runs until someone resumes the sync. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    sync.pause()
    logger.info("User %s paused sync %s", request.user.pk, sync.pk)
    messages.success(request, f"Paused {sync.name}. Scheduled runs stop until it is resumed.")
    return redirect(sync)


@workspace_view()
@require_POST
def sync_resume(request, workspace, sync_id):
    """Return a paused or blocked sync to its schedule, starting with a run now. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    sync.resume()
    logger.info("User %s resumed sync %s", request.user.pk, sync.pk)
    messages.success(request, f"Resumed {sync.name}. The next scheduled run starts shortly.")
    return redirect(sync)


@workspace_view()
def sync_preview(request, workspace, sync_id):
    """Show what the next run would write, field by field, without writing. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    preview, error = None, ""
    try:
        preview = preview_sync(sync)
    except (RunAborted, ProviderError) as exc:
        logger.info("Preview of sync %s failed: %s", sync.pk, exc.category)
        error = exc.message
    context = {"sync": sync, "preview": preview, "error": error, "sides": describe_sides(sync)}
    if preview is not None:
        context["writes"] = [row for row in preview.rows if row.action != "fail"]
        context["failures"] = [row for row in preview.rows if row.action == "fail"]
        for row in context["failures"]:
            row.category_label = _category_label(row.category)
    return render(request, "syncs/preview.html", context)


# Runs


@workspace_view()
def run_list(request, workspace, sync_id):
    sync = _sync_or_404(workspace, sync_id)
    page = Paginator(sync.runs.all(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "syncs/runs.html", {"sync": sync, "page": page, "runs": page.object_list})


@workspace_view()
def run_detail(request, workspace, sync_id, run_id):
    sync = _sync_or_404(workspace, sync_id)
    run = get_object_or_404(Run, sync=sync, public_id=run_id)
    context = {
        "sync": sync,
        "run": run,
        "counts": [(name.removesuffix("_count").replace("_", " "), getattr(run, name)) for name in Run.COUNT_FIELDS],
        "api_calls": sorted((run.api_calls or {}).items()),
        "api_call_total": sum((run.api_calls or {}).values()),
        "failures": run.failures.all()[:FAILURES_PER_CATEGORY],
        "changes": run.changes.all()[:HISTORY_CHANGES],
    }
    return render(request, "syncs/run_detail.html", context)


# Failures


def _category_label(value):
    try:
        return FAILURE_LABELS[FailureCategory(value)]
    except ValueError:
        return value


FAILURE_VIEWS = {
    "open": ("Open", LIVE_FAILURE_STATUSES),
    "resolved": ("Resolved", [RecordFailure.Status.RESOLVED]),
    "ignored": ("Ignored", [RecordFailure.Status.IGNORED]),
}


@workspace_view()
def failures(request, workspace, sync_id):
    """List the sync's record failures grouped by category, open ones by default. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    status_view = request.GET.get("status", "open")
    if status_view not in FAILURE_VIEWS:
        status_view = "open"
    queryset = sync.failures.filter(status__in=FAILURE_VIEWS[status_view][1]).select_related("run")
    counts = {row["category"]: row["count"] for row in queryset.values("category").annotate(count=Count("pk"))}
    groups = []
    for category in FailureCategory:
        if category.value not in counts:
            continue
        groups.append(
            {
                "category": category.value,
                "label": FAILURE_LABELS[category],
                "transient": category.is_transient,
                "count": counts[category.value],
                "failures": queryset.filter(category=category.value)[:FAILURES_PER_CATEGORY],
            }
        )
    context = {
        "sync": sync,
        "groups": groups,
        "status_view": status_view,
        "views": [(key, label) for key, (label, _statuses) in FAILURE_VIEWS.items()],
        "total": sum(counts.values()),
        "limit": FAILURES_PER_CATEGORY,
    }
    return render(request, "syncs/failures.html", context)


def _posted_failures(request, sync, one_name):
    """Return (queryset, description) of the failures a POST names: one button, a category, or checkboxes."""
    live = sync.failures.filter(status__in=LIVE_FAILURE_STATUSES)
    if request.POST.get(one_name):
        value = request.POST[one_name]
        return live.filter(pk=int(value) if value.isdigit() else None), "the failure"
    category = request.POST.get("category")
    if category:
        return live.filter(category=category), f"the {_category_label(category).lower()} failures"
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
    return live.filter(pk__in=ids), "the selected failures"


@workspace_view()
@require_POST
def retry_failures(request, workspace, sync_id):
    """Queue one retry run for one failure, the selected ones, or all open ones of a category. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    selected, description = _posted_failures(request, sync, "retry_one")
    count = selected.count()
    if not count:
        messages.error(request, "No open failure was selected. Tick the failures to retry, or use a Retry button.")
        return redirect(_failures_url(sync))
    run = queue_retry(sync, selected)
    logger.info("User %s retried %s failures of sync %s in run %s", request.user.pk, count, sync.pk, run.pk)
    messages.success(request, f"Retrying {description} ({count}) in a new run.")
    return redirect("syncs:run_detail", workspace.public_id, sync.public_id, run.public_id)


@workspace_view()
@require_POST
def ignore_failures(request, workspace, sync_id):
    """Mark one failure or the selected ones as ignored, so they leave the open list. Any member."""
    sync = _sync_or_404(workspace, sync_id)
    selected, description = _posted_failures(request, sync, "ignore_one")
    ignored = list(selected)
    if not ignored:
        messages.error(request, "No open failure was selected. Tick the failures to ignore, or use an Ignore button.")
        return redirect(_failures_url(sync))
    for failure in ignored:
        failure.ignore()
    logger.info("User %s ignored %s failures of sync %s", request.user.pk, len(ignored), sync.pk)
    messages.success(request, f"Ignored {description} ({len(ignored)}).")
    return redirect(_failures_url(sync))


# Record history


@workspace_view()
def record_history(request, workspace):
    """Search a record by email: the field changes every sync made to it, and its open failures. Any member."""
    email = (request.GET.get("email") or "").strip()
    syncs = workspace.syncs.order_by("name")
    selected_sync = None
    sync_id = request.GET.get("sync") or ""
    if sync_id:
        selected_sync = syncs.filter(public_id=sync_id).first() if _is_uuid(sync_id) else None
    context = {"email": email, "syncs": syncs, "selected_sync": selected_sync, "searched": bool(email)}
    if email:
        key = normalize_email(email)
        if key is None:
            context["error"] = f"'{email}' is not an email address. Enter the record's email, such as ana@example.com."
        else:
            scope = {"sync__workspace": workspace, "record_key": key}
            if selected_sync is not None:
                scope["sync"] = selected_sync
            context.update(
                key=key,
                changes=FieldChange.objects.filter(**scope).select_related("sync__workspace", "run")[:HISTORY_CHANGES],
                failures=RecordFailure.objects.filter(status__in=LIVE_FAILURE_STATUSES, **scope).select_related("sync__workspace"),
                states=RecordState.objects.filter(**scope).select_related("sync__workspace"),
                limit=HISTORY_CHANGES,
            )
    return render(request, "syncs/record_history.html", context)


def _is_uuid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
