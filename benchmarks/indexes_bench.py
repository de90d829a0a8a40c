"""Indexes of trackers: the dashboard's query plans and the ingest cost, before and after 0004.

Migration ``trackers.0004_drop_duplicate_indexes`` drops indexes that duplicate others: Django's
foreign-key indexes on ``tracker.production_run`` (= ``tracker_run_idx``),
``productionrun.brand`` (= ``productionrun_brand_idx``) and ``locationhistory.tracker`` (a prefix of
the ``(tracker, timestamp)`` unique constraint's index), ``history_tracker_ts_idx``
``(tracker, -timestamp)`` (the same columns as that unique index, which PostgreSQL scans backward
for "latest report first") and ``tracker_status_idx`` (a prefix of ``tracker_status_run_idx``); it
replaces ``tracker_last_report_idx`` (ascending, which cannot serve the dashboard's
``last_report_received DESC NULLS LAST, id`` order) by ``tracker_dashboard_order_idx`` on that order.

Reproduce (PostgreSQL; uses its OWN database, created and dropped here, never the shared ``test``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_indexes \\
    .venv/bin/python benchmarks/indexes_bench.py --rounds 5

It migrates, seeds ``seed_demo_data --trackers 1500 --history 100`` (150,000 history rows), syncs,
then alternates the two schemas side by side in one run (``migrate trackers 0003`` / ``0004``)
and per round times ingest batches of 1,000 reports (``ingest_location_reports``, the API's write
service). It then captures every SQL statement of the dashboard requests (tracker list with each
filter, statistics, scope summary, brands and runs with their counts; as staff and as a member of
one client; cache off so every request computes) and EXPLAINs each on both schemas. Results go to
stdout and ``benchmarks/results/indexes.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import bootstrap

ROOT = bootstrap.setup(
    PROMETHEUS_MIDDLEWARE="0",
)
os.environ["CACHE_ENABLED"] = "0"  # every request computes: its statements are the ones to explain
os.environ.pop("REDIS_URL", None)
os.environ["DATABASE_POOL"] = "0"  # plain connections: the database can be dropped at the end

PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}
RESULTS = ROOT / "benchmarks" / "results" / "indexes.md"
BEFORE, AFTER = "0003_membership_notify_trigger", "0004_drop_duplicate_indexes"
DASHBOARD = [
    ("/api/trackers/", {}),
    ("/api/trackers/", {"brand_ids": "{brand}"}),
    ("/api/trackers/", {"production_run_ids": "{run}"}),
    ("/api/trackers/", {"status": "in_transit"}),
    ("/api/trackers/", {"status": "lost", "brand_ids": "{brand}"}),
    ("/api/trackers/", {"search": "TRK-0001"}),
    ("/api/trackers/", {"include_latest_location": "false", "page": "3"}),
    ("/api/trackers/stats/", {}),
    ("/api/me/scope/", {}),
    ("/api/brands/", {}),
    ("/api/production-runs/", {}),
]


def database_name() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL=postgres://.../bench_indexes (a database of its own).")
    name = urlparse(url).path.lstrip("/")
    if name in PROTECTED_DATABASES:
        raise SystemExit(f"Refusing to use the database {name!r}: give the benchmark its own.")
    return name


def recreate_database(name: str) -> None:
    import psycopg

    parsed = urlparse(os.environ["DATABASE_URL"])
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    parsed = urlparse(os.environ["DATABASE_URL"])
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=4, help="ingest batches of 1,000 reports per round and schema")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = database_name()
    recreate_database(name)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from trackers.models import Brand, ProductionRun, Tracker

    out = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    def migrate(target: str) -> None:
        call_command("migrate", "trackers", target, verbosity=0)

    def indexes() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename, indexname FROM pg_indexes WHERE tablename IN "
                "('trackers_tracker', 'trackers_productionrun', 'trackers_locationhistory') ORDER BY 1, 2"
            )
            return [f"{table}.{index}" for table, index in cursor.fetchall()]

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_demo_data", "--trackers", "1500", "--history", "100", "--users", "2", verbosity=0)
    call_command("sync_tracker_state", verbosity=0)
    say(f"seeded in {time.perf_counter() - started:.0f} s: {Tracker.objects.count()} trackers")

    migrate(BEFORE)
    before_indexes = indexes()
    migrate(AFTER)
    after_indexes = indexes()

    serials = list(Tracker.objects.order_by("id").values_list("serial", flat=True))
    clock = {"t": datetime(2027, 1, 1, tzinfo=UTC)}

    def batch() -> list[dict]:
        reports = []
        for i in range(1000):
            clock["t"] += timedelta(seconds=1)
            reports.append(
                {
                    "serial": serials[i % len(serials)],
                    "timestamp": clock["t"].isoformat(),
                    "latitude": 50 + (i % 90) / 10,
                    "longitude": 8 + (i % 70) / 10,
                    "nearest_city": "Bench",
                }
            )
        return reports

    from trackers.ingest import ingest_location_reports

    def time_ingest() -> list[float]:
        times = []
        for _ in range(args.batches):
            reports = batch()
            t0 = time.perf_counter()
            ingest_location_reports(reports=reports, client_ids=None, now=clock["t"] + timedelta(days=1))
            times.append((time.perf_counter() - t0) * 1000)
        return times

    samples = {BEFORE: [], AFTER: []}
    for _ in range(args.rounds):
        for target in (BEFORE, AFTER):
            migrate(target)
            samples[target].extend(time_ingest())

    # -- plans of the dashboard's statements --
    from django.contrib.auth import get_user_model
    from django.test import Client

    from trackers.models import ClientMembership

    user_model = get_user_model()
    staff, _ = user_model.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    member, _ = user_model.objects.get_or_create(username="bench-member")
    brand = Brand.objects.order_by("id").first()
    ClientMembership.objects.get_or_create(user=member, client_id=brand.client_id)
    run = ProductionRun.objects.filter(brand=brand).order_by("id").first()

    def statements() -> list[tuple[str, str, tuple]]:
        captured = []

        def wrapper(execute, sql, params, many, context):
            if sql.lstrip().upper().startswith("SELECT") and "trackers_" in sql:
                captured.append((sql, tuple(params or ())))
            return execute(sql, params, many, context)

        found = []
        for user in (staff, member):
            client = Client()
            client.force_login(user)
            for url, params in DASHBOARD:
                query = {k: v.format(brand=brand.pk, run=run.pk) for k, v in params.items()}
                captured.clear()
                with connection.execute_wrapper(wrapper):
                    response = client.get(url, query)
                assert response.status_code == 200, (url, query, response.content[:200])
                label = f"{'staff' if user is staff else 'member'} {url} {query or ''}".strip()
                found.extend((label, sql, params) for sql, params in captured)
        # The latest-location fallback of trackers the sync has not reached (none after the sync
        # above, so called directly): one backward index probe per tracker.
        from trackers.selectors import latest_locations

        ids = list(Tracker.objects.order_by("id").values_list("id", flat=True)[:50])
        captured.clear()
        with connection.execute_wrapper(wrapper):
            latest_locations(ids)
        found.extend(("latest_locations(50 trackers), the unsynced fallback", sql, p) for sql, p in captured)
        return found

    def plan(sql: str, params: tuple, *, seqscan: bool = True) -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SET enable_seqscan = {'on' if seqscan else 'off'}")
            cursor.execute("EXPLAIN " + sql, params)
            text = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
            return text

    def scans(text: str) -> str:
        found = re.findall(r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)[^(]*)", text)
        return "; ".join(dict.fromkeys(s.strip() for s in found))

    plans = {}
    for target in (BEFORE, AFTER):
        migrate(target)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        plans[target] = [(label, sql, scans(plan(sql, params))) for label, sql, params in statements()]
    # With sequential scans disabled the planner shows the index path it has for each statement
    # (a table without a usable index still shows "Seq Scan"): what the dropped indexes could
    # have been needed for, independent of the planner's size-based choice on 1,500 trackers.
    forced = [scans(plan(sql, params, seqscan=False)) for _, sql, params in statements()]

    def median(values):
        return statistics.median(values)

    say(f"# trackers indexes: before and after {AFTER}")
    say("")
    say(
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} / Python "
        f"{platform.python_version()}, 2 CPUs shared with other jobs; PostgreSQL; "
        "demo data 1,500 trackers x 100 reports."
    )
    say("")
    say("Command:")
    say("")
    say("```")
    say("DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_indexes \\")
    say(f"  .venv/bin/python benchmarks/indexes_bench.py --rounds {args.rounds}")
    say("```")
    say("")
    say("## Indexes on the three tables")
    say("")
    say(f"Dropped by {AFTER}: " + ", ".join(sorted(set(before_indexes) - set(after_indexes))))
    say("")
    say("Kept: " + ", ".join(after_indexes))
    say("")
    say("## Ingest: one batch of 1,000 reports (`ingest_location_reports`)")
    say("")
    say(f"Alternating schemas, {args.rounds} rounds x {args.batches} batches each, side by side in one run.")
    say("")
    say("| schema | median ms per batch | min | max |")
    say("|---|---:|---:|---:|")
    for target in (BEFORE, AFTER):
        values = samples[target]
        say(f"| {target} | {median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    ratio = median(samples[AFTER]) / median(samples[BEFORE])
    say("")
    say(f"after / before: {ratio:.2f}")
    say("")
    say("## Plans of the dashboard's statements (EXPLAIN, after ANALYZE)")
    say("")
    say("The last column is the plan after the drop with `enable_seqscan = off`: the index path that")
    say("exists for the statement (a table with no usable index would still show a Seq Scan there).")
    say("")
    say("| request | statement | before | after | after, seqscan off |")
    say("|---|---|---|---|---|")
    for (label, sql, old), (_, _, new), index_path in zip(plans[BEFORE], plans[AFTER], forced, strict=True):
        short = re.sub(r"\s+", " ", sql)[:90].replace("|", "\\|")
        say(f"| {label} | `{short}` | {old} | {new}{'' if old == new else ' **(changed)**'} | {index_path} |")
    changed = sum(1 for a, b in zip(plans[BEFORE], plans[AFTER], strict=True) if a[2] != b[2])
    say("")
    without = sum(1 for path in forced if re.search(r"Seq Scan on trackers_(tracker|locationhistory)\b", path))
    say(f"{len(plans[AFTER])} statements; {changed} with a different plan after the drop; {without} with no")
    say("index path on trackers_tracker or trackers_locationhistory (seqscan off).")
    RESULTS.write_text("\n".join(out) + "\n")
    connections.close_all()
    if not args.keep:
        drop_database(name)


if __name__ == "__main__":
    main()
