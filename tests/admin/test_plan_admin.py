"""The plan admin: limits are editable."""

from django.urls import reverse

from accounts.models import Plan
from tests.admin import staff_client, staff_user  # noqa: F401


def test_plan_limits_are_editable(staff_client, db):
    plan = Plan.default()
    data = {
        "code": plan.code,
        "name": plan.name,
        "max_connections": plan.max_connections + 1,
        "max_syncs": 7,
        "min_interval_minutes": 30,
        "max_records_per_month": 12345,
        "is_default": "on",
    }

    response = staff_client.post(reverse("admin:accounts_plan_change", args=[plan.pk]), data)

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.max_syncs == 7
    assert plan.min_interval_minutes == 30
    assert plan.max_records_per_month == 12345


def test_second_default_plan_is_rejected(staff_client, db):
    other = Plan.objects.exclude(is_default=True).first()
    data = {
        "code": other.code,
        "name": other.name,
        "max_connections": other.max_connections,
        "max_syncs": other.max_syncs,
        "min_interval_minutes": other.min_interval_minutes,
        "max_records_per_month": other.max_records_per_month,
        "is_default": "on",
    }

    response = staff_client.post(reverse("admin:accounts_plan_change", args=[other.pk]), data)

    assert response.status_code == 200
    other.refresh_from_db()
    assert other.is_default is False


def test_changelist_shows_workspace_count(staff_client, workspace, other_workspace):
    response = staff_client.get(reverse("admin:accounts_plan_changelist"))

    counts = {plan.code: plan.workspace_count for plan in response.context["cl"].result_list}
    assert counts[workspace.plan.code] == 2
