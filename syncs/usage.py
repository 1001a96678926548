from django.db.models import Sum
from django.utils import timezone


def month_start(now=None):
    """Return the first instant of the current calendar month in UTC."""
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def records_used_this_month(workspace):
    """Return the records written (updated or created) by the workspace's runs this calendar month."""
    from syncs.models import Run

    totals = Run.objects.filter(sync__workspace=workspace, created_at__gte=month_start()).aggregate(
        updated=Sum("updated_count"), created=Sum("created_count")
    )
    return (totals["updated"] or 0) + (totals["created"] or 0)
