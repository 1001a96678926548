from django.db import migrations

# The plans a new installation starts with. Staff edit limits and add plans
# in the admin; a workspace's plan is set there too.
PLANS = [
    {
        "code": "free",
        "name": "Free",
        "max_connections": 3,
        "max_syncs": 2,
        "min_interval_minutes": 15,
        "max_records_per_month": 10_000,
        "is_default": True,
    },
    {
        "code": "team",
        "name": "Team",
        "max_connections": 10,
        "max_syncs": 20,
        "min_interval_minutes": 5,
        "max_records_per_month": 250_000,
        "is_default": False,
    },
    {
        "code": "business",
        "name": "Business",
        "max_connections": 50,
        "max_syncs": 100,
        "min_interval_minutes": 1,
        "max_records_per_month": 2_000_000,
        "is_default": False,
    },
]


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(code=plan["code"], defaults=plan)


def remove_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    Plan.objects.filter(code__in=[plan["code"] for plan in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed_plans, remove_plans)]
