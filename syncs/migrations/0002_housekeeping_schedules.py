from django.db import migrations
from django.utils import timezone

# The django-q2 schedules every installation needs: recovery of runs left
# behind by dead workers, every minute, and the failure digests, every 15
# minutes. Names match syncs.scheduling.HOUSEKEEPING.
SCHEDULES = {
    "oneprofile:recover-stale-runs": ("syncs.tasks.recover_stale_runs", 1),
    "oneprofile:failure-digests": ("syncs.tasks.send_failure_digests", 15),
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",
                "minutes": minutes,
                "repeats": -1,
                "next_run": timezone.now(),
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncs", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
