"""Tracker list: the 1 + N baseline against GET /api/trackers/ cold and warm.

Seeds a throwaway test database (never your data) with the demo generator, then measures, as
median of ``--repeat`` runs each:

- baseline: every tracker, then one query per tracker for its latest location (the old dashboard);
- the endpoint, cold (every cache tier emptied before each run), before any state sync (latest
  locations by one LATERAL query on PostgreSQL) and after one (from the current-state columns);
- the endpoint, warm (answered from L1).

Reproduce the figures in benchmarks/results/tracker_list.md (PostgreSQL + Redis, 1,500 trackers x
100 reports):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/3 \
    CACHE_KEY_PREFIX=bench TEST_DATABASE_NAME=bench_tracker_list \
    .venv/bin/python benchmarks/tracker_list.py --trackers 1500 --history 100

Redis: the cold runs clear the cache alias (FLUSHDB of the REDIS_URL database): point it at a
database of your own.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
os.environ.setdefault("PROMETHEUS_MIDDLEWARE", "0")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment, teardown_databases  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from cachecore import testing  # noqa: E402
from tests.helpers import QueryCounter  # noqa: E402
from trackers import demo_data  # noqa: E402
from trackers.models import LocationHistory, Tracker  # noqa: E402


def baseline() -> list[dict]:
    """Load every tracker, then its latest location with one query each (1 + N)."""
    rows = []
    for tracker in Tracker.objects.select_related("production_run__brand").order_by("id"):
        latest = LocationHistory.objects.filter(tracker=tracker).order_by("-timestamp").first()
        rows.append(
            {
                "id": tracker.pk,
                "serial": tracker.serial,
                "name": tracker.name,
                "brand_id": tracker.production_run.brand_id,
                "latest_location": None
                if latest is None
                else {"latitude": latest.latitude, "longitude": latest.longitude, "timestamp": latest.timestamp},
            }
        )
    return rows


def cold() -> None:
    for cache in caches.all():
        cache.clear()
    testing.reset()


def measure(label: str, fn, repeat: int, *, before=None) -> dict:
    times, queries = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        with QueryCounter() as q:
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        queries.append(len(q))
    result = {
        "label": label,
        "median_ms": statistics.median(times) * 1000,
        "queries": sorted(set(queries)),
        "runs": repeat,
    }
    print(f"{label:<48} {result['median_ms']:>10.2f} ms  queries={result['queries']}", flush=True)
    return result


def sync_state() -> None:
    """Fill the current-state columns as the state sync does (one UPDATE for the benchmark)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE trackers_tracker t SET latest_latitude = h.latitude, latest_longitude = h.longitude,
                latest_timestamp = h.timestamp, latest_nearest_city = h.nearest_city,
                latest_confidence = h.confidence, latest_history_id = h.id
            FROM (SELECT DISTINCT ON (tracker_id) * FROM trackers_locationhistory
                  ORDER BY tracker_id, timestamp DESC) h
            WHERE h.tracker_id = t.id
            """
            if connection.vendor == "postgresql"
            else """
            UPDATE trackers_tracker SET (latest_latitude, latest_longitude, latest_timestamp,
                latest_nearest_city, latest_confidence, latest_history_id) = (
                SELECT latitude, longitude, timestamp, nearest_city, confidence, id
                FROM trackers_locationhistory h WHERE h.tracker_id = trackers_tracker.id
                ORDER BY timestamp DESC LIMIT 1)
            """
        )
        if connection.vendor == "postgresql":
            # What autovacuum would do soon after a sync: drop the dead row versions it left.
            cursor.execute("VACUUM ANALYZE trackers_tracker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trackers", type=int, default=1500)
    parser.add_argument("--history", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline-repeat", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        started = time.perf_counter()
        rng = random.Random(42)
        ref = demo_data.seed_reference_data(rng)
        demo_data.seed_trackers(
            rng,
            ref,
            trackers=args.trackers,
            history=args.history,
            now=demo_data.utc_now(),
            progress=lambda *a: None,
        )
        print(
            f"# {connection.vendor}, L2 {caches['default'].__class__.__name__}, {args.trackers} trackers x "
            f"{args.history} reports, seeded in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        staff = get_user_model().objects.create_user("bench", is_staff=True)
        api = APIClient()
        api.force_authenticate(staff)

        def get(**params):
            response = api.get("/api/trackers/", params)
            assert response.status_code == 200, response.content

        measure("baseline 1 + N (all trackers)", baseline, args.baseline_repeat)
        for size in (50, 500):
            measure(f"endpoint cold, before sync, size={size}", lambda s=size: get(size=s), args.repeat, before=cold)
        measure(
            "endpoint cold, filtered (one brand), size=50",
            lambda: get(brand_ids=ref["brands"][0].pk),
            args.repeat,
            before=cold,
        )
        sync_state()
        for size in (50, 500):
            measure(f"endpoint cold, after sync, size={size}", lambda s=size: get(size=s), args.repeat, before=cold)
        get(size=50)
        measure("endpoint warm (L1), size=50", lambda: get(size=50), args.repeat)
        measure("endpoint lazy empty page", lambda: get(lazy_load="true"), args.repeat)
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
