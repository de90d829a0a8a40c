"""Tracker dashboard benchmark: the 1 + N baseline against GET /api/trackers/ cold and warm.

Reproduce (PostgreSQL + Redis; uses its OWN database, never the shared ``test`` one):

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_trackers'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_trackers \\
    REDIS_URL=redis://127.0.0.1:6379/4 CACHE_KEY_PREFIX=h4bench \\
    .venv/bin/python benchmarks/trackers_bench.py --seed --runs 30

``--seed`` migrates and runs ``seed_demo_data --reset --trackers 1500 --history 100`` first (it
refuses a database named ``test`` or ``postgres``), then ``sync_tracker_state``. The endpoint
variants run through the whole Django stack (middleware, session auth, DRF, JSON) with Django's
test client as a staff user; the baseline is the bare ORM loop plus json.dumps (no HTTP stack, so
it is flattered). All side by side in one process. Results go to stdout and to
``benchmarks/results/trackers.md``.

Variants:
- baseline 1 + N: the original dashboard: every tracker, then one query per tracker for its
  latest location (what the issue measured at 15.5 s on production-like hardware).
- endpoint, cold: GET /api/trackers/ after invalidating its namespace (every tier misses).
- endpoint, warm L2: L1 (process memory) cleared, the value comes from Redis.
- endpoint, warm L1: the same request again.
Each for one dashboard page (size=50) and for all trackers (pages of 500).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import bootstrap

ROOT = bootstrap.setup()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from cachecore import tiers  # noqa: E402  (the benchmark clears L1 to measure the L2 path)
from cachecore.api import invalidate_now  # noqa: E402
from trackers.models import LocationHistory, SyncWatermark, Tracker  # noqa: E402
from trackers.namespaces import TRACKER_LIST  # noqa: E402
from trackers.sync import sync_tracker_state  # noqa: E402

PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}
RESULTS = ROOT / "benchmarks" / "results" / "trackers.md"
URL = "/api/trackers/"


def baseline_payload() -> int:
    """Build the dashboard the old way (all trackers, one latest-location query each); return its size."""
    items = []
    for tracker in Tracker.objects.select_related("production_run__brand").order_by("id"):
        latest = LocationHistory.objects.filter(tracker_id=tracker.id).order_by("-timestamp").first()
        items.append(
            {
                "id": tracker.id,
                "serial": tracker.serial,
                "name": tracker.name,
                "client_id": tracker.production_run.brand.client_id,
                "brand_id": tracker.production_run.brand_id,
                "production_run_id": tracker.production_run_id,
                "current_status": tracker.current_status,
                "last_report_received": tracker.last_report_received.isoformat()
                if tracker.last_report_received
                else None,
                "latest_location": None
                if latest is None
                else {
                    "latitude": latest.latitude,
                    "longitude": latest.longitude,
                    "timestamp": latest.timestamp.isoformat(),
                    "nearest_city": latest.nearest_city,
                    "confidence": latest.confidence,
                },
            }
        )
    return len(json.dumps(items).encode())


class Bench:
    def __init__(self, runs: int, baseline_runs: int):
        self.runs = runs
        self.baseline_runs = baseline_runs
        self.client = Client()
        user, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        self.client.force_login(user)
        self.total = Tracker.objects.count()

    def pages(self, size: int) -> list[dict]:
        count = 1 if size == 50 else -(-self.total // size)
        return [{"size": size, "page": page} for page in range(1, count + 1)]

    def fetch(self, params_list: list[dict]) -> int:
        size = 0
        for params in params_list:
            response = self.client.get(URL, params)
            if response.status_code != 200:
                raise SystemExit(f"GET {URL} {params} answered {response.status_code}: {response.content[:300]!r}")
            size += len(response.content)
        return size

    @staticmethod
    def cold() -> None:
        invalidate_now(TRACKER_LIST, source="benchmark")

    @staticmethod
    def l1_only_cold() -> None:
        tiers.l1_clear()

    def measure(self, fn, *, prepare=None, runs: int) -> tuple[float, int, int]:
        """Return (median ms, queries of one run, bytes) of ``fn``; ``prepare`` runs untimed before each."""
        if prepare:
            prepare()
        # An execute wrapper sees every statement; CaptureQueriesContext would lose the ones
        # before each request (the request_started signal resets the query log).
        statements = []
        with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
            size = fn()
        times = []
        for _ in range(runs):
            if prepare:
                prepare()
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times), len(statements), size

    def run(self) -> list[tuple[str, float, int, int]]:
        rows = []
        median, queries, size = self.measure(baseline_payload, runs=self.baseline_runs)
        rows.append((f"baseline 1 + N, all {self.total} trackers", median, queries, size))
        for size_name, page_size in (("one page (size=50)", 50), (f"all {self.total} trackers (pages of 500)", 500)):
            pages = self.pages(page_size)

            def get(pages=pages):
                return self.fetch(pages)

            for label, prepare in (("cold", self.cold), ("warm L2 (Redis)", self.l1_only_cold), ("warm L1", None)):
                if prepare is None:
                    get()  # fill
                median, queries, size = self.measure(get, prepare=prepare, runs=self.runs)
                rows.append((f"GET /api/trackers/ {label}, {size_name}", median, queries, size))
        rows += self.before_any_sync()
        return rows

    def before_any_sync(self) -> list[tuple[str, float, int, int]]:
        """Measure the cold endpoint while no tracker has synced state (the LATERAL fallback)."""
        rows = []
        Tracker.objects.update(
            latest_latitude=None,
            latest_longitude=None,
            latest_timestamp=None,
            latest_nearest_city="",
            latest_confidence=None,
            latest_history_id=None,
        )
        try:
            for size_name, page_size in (("one page (size=50)", 50), (f"all {self.total} trackers", 500)):
                pages = self.pages(page_size)
                median, queries, size = self.measure(lambda p=pages: self.fetch(p), prepare=self.cold, runs=self.runs)
                label = f"GET /api/trackers/ cold, before any sync (LATERAL fallback), {size_name}"
                rows.append((label, median, queries, size))
        finally:
            SyncWatermark.objects.all().delete()
            sync_tracker_state()
        return rows


def sync_figures(runs: int) -> list[str]:
    """Time a full state sync of all history (median) and an idle run (median, queries)."""
    full = []
    for _ in range(3):
        SyncWatermark.objects.all().delete()
        Tracker.objects.update(latest_timestamp=None, latest_history_id=None)
        started = time.perf_counter()
        result = sync_tracker_state()
        full.append(time.perf_counter() - started)
    idle, statements = [], []
    for _ in range(runs):
        with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
            started = time.perf_counter()
            sync_tracker_state()
            idle.append((time.perf_counter() - started) * 1000)
    return [
        f"| sync_tracker_state, full: {result.rows:,} rows in {result.batches} batches, {result.trackers} trackers "
        f"| {statistics.median(full):.2f} s | median of 3 |",
        f"| sync_tracker_state, nothing new | {statistics.median(idle):.1f} ms | {len(statements) // runs} queries "
        f"(advisory lock, head query, unlock) |",
    ]


def seed() -> None:
    name = connection.settings_dict["NAME"]
    if name in PROTECTED_DATABASES:
        raise SystemExit(f"Refusing to reset database {name!r}: point DATABASE_URL at a database of its own.")
    call_command("migrate", verbosity=0, interactive=False)
    call_command("seed_demo_data", "--reset", "--trackers", "1500", "--history", "100", "--users", "0", verbosity=0)
    call_command("sync_tracker_state", verbosity=0)


def environment() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        db_version = cursor.fetchone()[0]
    l2 = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return (
        f"{connection.vendor} {db_version}, L2 {l2}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (shared with other jobs), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def render(rows, args, env: str, history: int, sync_rows: list[str]) -> str:
    baseline_ms = rows[0][1]
    lines = [
        "# Tracker dashboard: 1 + N baseline vs GET /api/trackers/ cold and warm",
        "",
        "Command (its own PostgreSQL database and a Redis DB/prefix of its own):",
        "",
        "```",
        "psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_trackers'",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_trackers \\",
        "REDIS_URL=redis://127.0.0.1:6379/4 CACHE_KEY_PREFIX=h4bench \\",
        f".venv/bin/python benchmarks/trackers_bench.py --seed --runs {args.runs} --baseline-runs {args.baseline_runs}",
        "```",
        "",
        f"Data: {Tracker.objects.count()} trackers, {history} location history rows (seed_demo_data, then "
        "sync_tracker_state). Environment: " + env + ".",
        f"Medians over {args.runs} runs ({args.baseline_runs} for the baseline); queries counted in one "
        "extra run. Endpoint variants go through the full Django stack as a logged-in staff user (their "
        "query counts include the session and user lookups of each request); the baseline is the bare ORM "
        "loop plus json.dumps.",
        "",
        "| variant | median ms | SQL queries | response bytes | vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, median, queries, size in rows:
        ratio = baseline_ms / median if median else float("inf")
        lines.append(f"| {label} | {median:.1f} | {queries} | {size:,} | {ratio:.0f}x faster |")
    lines[-len(rows)] = lines[-len(rows)].replace(" 1x faster |", " 1x |")
    lines += [
        "",
        "Notes: cold = the namespace invalidated before each run (every tier misses, the page is computed: "
        "count + page query, latest location from the state kept by the sync). Warm L2 = process memory "
        "cleared, value read from Redis. Warm L1 = in-process hit: no tracker SQL and no Redis value read. "
        "Before any sync = the trackers' synced state blanked, so each page adds one LATERAL query for "
        "the latest locations (the state is restored by a full sync afterwards). The two SQL queries of "
        "a warm request are the session and user lookups of Django's session authentication. The machine "
        "is shared by several jobs, so times vary between runs; the query counts do not.",
        "",
        "## State sync on the same data",
        "",
        "| run | time | notes |",
        "|---|---:|---|",
        *sync_rows,
        "",
        f"Default batch size (TRACKERS_SYNC_BATCH_SIZE). The idle run is the median of {args.runs}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", action="store_true", help="migrate, reset and seed 1,500 x 100, then sync")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per endpoint variant (default 30)")
    parser.add_argument("--baseline-runs", type=int, default=7, help="timed runs of the baseline (default 7)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update the results file")
    args = parser.parse_args()
    if args.seed:
        seed()
    if not Tracker.objects.exists():
        raise SystemExit("No trackers: run with --seed (into a database of its own).")
    history = LocationHistory.objects.count()
    rows = Bench(args.runs, args.baseline_runs).run()
    text = render(rows, args, environment(), history, sync_figures(args.runs))
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"Written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
