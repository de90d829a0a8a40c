"""State sync on PostgreSQL: set-based id ranges against the streamed keyset batches, by backlog size.

Reproduce (uses make bench's database, ``<DATABASE_URL's name>_bench``, seeded by ``make bench``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cw_bench_perf13 .venv/bin/python benchmarks/sync_crossover_bench.py

For each backlog size the rows are appended once (newer than every report, spread over all
trackers, as in make bench), then each variant syncs them in a fresh process from the same
starting point: the watermark and the trackers' state columns are restored between variants, so
every variant does the same updates. Variants: streamed (``ORDER BY id LIMIT 5000`` batches,
the SQLite path, forced here on PostgreSQL) and set-based with several ids-per-statement sizes.
The appended rows are deleted and the state restored at the end. Writes
``benchmarks/results/sync.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from urllib.parse import urlparse, urlunparse

import bootstrap

ROOT = bootstrap.setup()
if os.environ.get("DATABASE_URL"):
    parts = urlparse(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunparse(parts._replace(path=parts.path + "_bench"))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from benchmarks.bench_scenarios import ADD_HISTORY  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
VARIANTS = {
    "streamed, 5,000 rows per batch": ("stream", 5_000),
    "set-based, 100,000 ids per statement": ("set", 100_000),
    "set-based, 1,000,000 ids per statement (default)": ("set", 1_000_000),
}
STATE = (
    "latest_latitude, latest_longitude, latest_timestamp, latest_nearest_city, latest_confidence, "
    "latest_history_id, last_report_received, current_status"
)
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    import django
    django.setup()
    from django.db import connection
    from trackers import sync
    mode, size = sys.argv[2], int(sys.argv[3])
    if mode == "stream":
        sync.set_based = lambda: False  # the SQLite path, on PostgreSQL (benchmark only)
    connection.ensure_connection()
    seen = []
    started = time.perf_counter()
    with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
        result = sync.sync_tracker_state(batch_size=size)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"rows": result.rows, "trackers": result.trackers, "seconds": seconds, "queries": len(seen)}
    print(json.dumps({**out, "peak_rss_mb": peak}))
    """
)


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def child(mode: str, size: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, str(size)],
        env=os.environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only (DATABASE_URL; run make bench once to seed its database)")
    child("set", 1_000_000)  # start from a synced state
    sql("DROP TABLE IF EXISTS bench_sync_state")
    sql(f"CREATE TABLE bench_sync_state AS SELECT id, {STATE} FROM trackers_tracker")
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_history_id FROM trackers_syncwatermark WHERE name = 'tracker_state'")
        watermark = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(id), 0) FROM trackers_locationhistory")
        first_new = cursor.fetchone()[0] + 1
    restore = f"UPDATE trackers_tracker t SET ({STATE}) = (SELECT {STATE} FROM bench_sync_state s WHERE s.id = t.id)"
    rows = []
    try:
        for size in SIZES:
            sql(ADD_HISTORY, [size])
            sql("ANALYZE trackers_locationhistory")
            for label, (mode, batch) in VARIANTS.items():
                sql(restore)
                sql("UPDATE trackers_syncwatermark SET last_history_id = %s WHERE name = 'tracker_state'", [watermark])
                sql("VACUUM ANALYZE trackers_tracker")
                result = child(mode, batch)
                result["rows_per_s"] = round(result["rows"] / result["seconds"])
                rows.append((size, label, result))
                print(size, label, result, flush=True)
            sql("DELETE FROM trackers_locationhistory WHERE id >= %s", [first_new])
    finally:
        sql("DELETE FROM trackers_locationhistory WHERE id >= %s", [first_new])
        sql(restore)
        sql("UPDATE trackers_syncwatermark SET last_history_id = %s WHERE name = 'tracker_state'", [watermark])
        sql("DROP TABLE IF EXISTS bench_sync_state")
        sql("VACUUM ANALYZE trackers_locationhistory")
    lines = [
        f"# State sync: set-based against streamed batches — {datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        "`DATABASE_URL=postgres://…/<name> .venv/bin/python benchmarks/sync_crossover_bench.py` (make bench's "
        "database: 1,500 trackers, 150,000 seeded history rows; each backlog appended newer than every "
        "report, so every tracker changes). One fresh process per run, same starting state for every "
        "variant. Shared 2-core machine with other sessions running: compare within a backlog size.",
        "",
        "| backlog rows | variant | seconds | rows/s | statements | trackers updated | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size, label, r in rows:
        lines.append(
            f"| {size:,} | {label} | {r['seconds']:.3f} | {r['rows_per_s']:,} | {r['queries']} | "
            f"{r['trackers']} | {r['peak_rss_mb']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "results" / "sync.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
