"""No index of the trackers tables duplicates another (migration 0004); the dashboard's are kept.

An index whose columns are a leading prefix of another index (or of a unique constraint) on the
same table serves no lookup the longer one cannot, and every write pays for it. The plans of the
dashboard's statements before and after the drop are in benchmarks/results/indexes.md.
"""

import pytest
from django.db import connection

from trackers.models import LocationHistory, ProductionRun, Tracker

pytestmark = pytest.mark.django_db

TABLES = [Tracker, ProductionRun, LocationHistory]


def index_columns(model) -> dict[str, tuple[str, ...]]:
    """Return index or unique-constraint name -> columns of ``model``'s table (primary key excluded)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {
        name: tuple(info["columns"])
        for name, info in constraints.items()
        if (info["index"] or info["unique"])
        and not info["primary_key"]
        and info["columns"]
        # PostgreSQL's varchar_pattern_ops twin of a unique CharField (LIKE 'x%'): another operator class.
        and not name.endswith("_like")
    }


@pytest.mark.parametrize("model", TABLES, ids=lambda m: m.__name__)
def test_no_index_is_a_leading_prefix_of_another(model):
    indexes = index_columns(model)
    for name, columns in indexes.items():
        for other, longer in indexes.items():
            if other != name and longer[: len(columns)] == columns and len(longer) >= len(columns):
                pytest.fail(f"{model.__name__}: {name} {columns} duplicates {other} {longer}")


def test_the_dashboard_indexes_are_kept():
    leading = {columns[0] for model in TABLES for columns in index_columns(model).values()}
    assert {"production_run_id", "current_status", "brand_id", "tracker_id"} <= leading
    history = set(index_columns(LocationHistory).values())
    assert ("tracker_id", "timestamp") in history  # the latest-location lookup and the unique pair


def test_the_dashboard_order_has_its_index():
    """last_report_received DESC NULLS LAST, id: a page of the tracker list is read in index order."""
    indexes = index_columns(Tracker)
    assert indexes.get("tracker_dashboard_order_idx") == ("last_report_received", "id")
