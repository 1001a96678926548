"""The queries each batch sends by source record id and by record key use an index, not a scan of the sync's rows."""

import pytest
from django.db import connection

from syncs.models import RecordFailure, RecordState

pytestmark = pytest.mark.django_db


def query_plan(queryset):
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.fixture(autouse=True)
def sqlite_only():
    # PostgreSQL's planner scans small tables whatever their indexes, so only
    # SQLite's plan shows whether an index can serve the query.
    if connection.vendor != "sqlite":
        pytest.skip("query plans are checked on SQLite, whose planner uses any index that fits")


@pytest.mark.parametrize("column", ["record_id_a", "record_id_b"])
def test_record_states_by_source_id_use_an_index(column):
    plan = query_plan(RecordState.objects.filter(sync_id=1, **{f"{column}__in": ["cus_1", "cus_2"]}))

    assert "USING INDEX" in plan
    assert column in plan


def test_live_failures_by_key_use_an_index():
    plan = query_plan(
        RecordFailure.objects.filter(
            sync_id=1,
            direction="a_to_b",
            record_key__in=["ada@example.com", "bo@example.com"],
            status__in=[RecordFailure.Status.OPEN, RecordFailure.Status.RETRYING],
        )
    )

    assert "USING INDEX" in plan
    assert "record_key" in plan
