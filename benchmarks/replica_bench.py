"""Cold computations with and without a read replica (docs/read-replicas.md).

Run (needs the PostgreSQL server binaries, /usr/lib/postgresql/<version>/bin; nothing else):

    .venv/bin/python benchmarks/replica_bench.py [--requests 150] [--rounds 3]

Starts its own primary and streaming replica on free loopback ports (tests/pg_replica.py), seeds
the demo data (1,500 trackers x 20 history rows) and, round by round, runs three variants, each
in a fresh process of the whole stack (a staff session, DRF, the local-memory L2): REQUESTS cold
tracker pages (``GET /api/trackers/?size=<distinct>&include_latest_location=true``, each a
different key, so each one computes):

- ``primary only``: DATABASE_REPLICA_URLS unset (the deployment without replicas);
- ``replica``: the replica configured and caught up: the page's queries run on the replica;
- ``replica lagging``: the replica delays its replay by 60 s and the list was just invalidated:
  every computation checks the replica, finds it behind and falls back to the primary.

Reported: pages per second and median/p95 latency (median over rounds), statements per page on
the primary and on the replica, the time of the rule's check alone (``replicas.choose``, median
of 200), and where the computations ran. Both servers share this
machine's cores, so the figures show the rule's cost per computation and how much work leaves
the primary, not the capacity a separate replica host would add. Results go to
benchmarks/results/replicas.md and .json (or --output).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ("primary only", "replica", "replica lagging")
LAG_SECONDS = 60


def worker(requests: int, lagging: bool) -> dict:
    """Run in a process of the project: REQUESTS cold tracker pages; return the figures."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cachecore import replicas, stats
    from cachecore.api import invalidate_now
    from trackers.namespaces import TRACKER_LIST

    client = Client()
    client.force_login(get_user_model().objects.filter(is_staff=True).order_by("pk").first())
    for size in range(5):  # warm-up: connections, imports, the session and user caches
        client.get("/api/trackers/", {"size": 1000 + size, "include_latest_location": "true"})
    if lagging:
        invalidate_now(TRACKER_LIST)  # the replica (60 s behind) has not replayed this
    stats.reset()
    aliases = list(connections)
    captures = [CaptureQueriesContext(connections[alias]) for alias in aliases]
    for capture in captures:
        capture.__enter__()
    times = []
    for number in range(requests):
        started = time.perf_counter()
        response = client.get("/api/trackers/", {"size": 10 + number, "include_latest_location": "true"})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    for capture in captures:
        capture.__exit__(None, None, None)
    outcomes = {k[2]: v for k, v in stats.totals().items() if k[0] == "replica" and k[1] == TRACKER_LIST}
    statements = {alias: len(capture) for alias, capture in zip(aliases, captures, strict=True)}
    checks = []
    for _ in range(200):  # the rule alone: where would a computation of the list run?
        started = time.perf_counter()
        replicas.choose(TRACKER_LIST, None)
        checks.append(time.perf_counter() - started)
    times.sort()
    return {
        "pages_per_s": round(requests / sum(times), 1),
        "p50_ms": round(1000 * statistics.median(times), 2),
        "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2),
        "primary_statements_per_page": round(statements.get("default", 0) / requests, 2),
        "replica_statements_per_page": round(sum(v for k, v in statements.items() if k != "default") / requests, 2),
        "check_ms": round(1000 * statistics.median(checks), 3),
        "computations": outcomes,
    }


def run_variant(cluster, variant: str, requests: int) -> dict:
    env = cluster.django_env(PROMETHEUS_MIDDLEWARE="0", DATABASE_POOL="1")  # pooled, as deployed
    if variant == "primary only":
        env.pop("DATABASE_REPLICA_URLS")
    lagging = variant == "replica lagging"
    if lagging:
        cluster.set_apply_delay(LAG_SECONDS)
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", "--requests", str(requests), *(["--lagging"] if lagging else [])],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        if lagging:
            cluster.set_apply_delay(0)
            cluster.wait_caught_up()
    if done.returncode:
        raise RuntimeError(f"{variant} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seed(cluster) -> None:
    cluster.manage("seed_demo_data", "--trackers", "1500", "--history", "20", "--users", "3", "--seed", "1")


def summarise(runs: dict[str, list[dict]]) -> dict:
    summary = {}
    for variant, results in runs.items():
        summary[variant] = {
            key: statistics.median(r[key] for r in results)
            for key in (
                "pages_per_s",
                "p50_ms",
                "p95_ms",
                "primary_statements_per_page",
                "replica_statements_per_page",
                "check_ms",
            )
        }
        summary[variant]["computations"] = results[-1]["computations"]
    return summary


def markdown(report: dict) -> str:
    lines = [
        "# Cold computations with and without a read replica",
        "",
        f"`{report['command']}` — {report['date']}, {report['machine']}, PostgreSQL {report['postgres']} "
        f"(primary and replica on this machine), {report['requests']} cold tracker pages per variant, "
        f"median of {report['rounds']} interleaved rounds.",
        "",
        "| variant | pages/s | p50 ms | p95 ms | statements/page on the primary | on the replica "
        "| the rule's check, ms | where the list computations ran (last round) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, row in report["summary"].items():
        where = ", ".join(f"{k}: {v}" for k, v in sorted(row["computations"].items())) or "primary (no replicas)"
        lines.append(
            f"| {variant} | {row['pages_per_s']} | {row['p50_ms']} | {row['p95_ms']} "
            f"| {row['primary_statements_per_page']} | {row['replica_statements_per_page']} | {row['check_ms']} "
            f"| {where} |"
        )
    lines += [
        "",
        "Both servers share the machine's cores (and, when this ran, other jobs): the replica adds no",
        "capacity here and pages/s is noisy. The rule's cost per computation is the check column: the",
        "primary's position of the last invalidation and the replica's replayed position, one short query",
        "each (median of 200 checks; without replicas it returns at its first line). The statements show",
        "the work that leaves the primary: a page's own queries run on the replica when it is recent enough.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "replicas.md"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lagging", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.requests, args.lagging)))
        return
    report = run(args.requests, args.rounds)
    output = Path(args.output)
    output.write_text(markdown(report))
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))


def run(requests: int, rounds: int) -> dict:
    """Start a private primary + replica, seed it, run every variant ``rounds`` times; return the report."""
    from tests.pg_replica import ReplicaCluster, missing_reason

    reason = missing_reason()
    if reason:
        raise SystemExit(f"replica benchmark skipped: {reason}")
    cluster = ReplicaCluster().start()
    try:
        cluster.migrate()
        seed(cluster)
        version = cluster.sql_primary("SHOW server_version")
        runs: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
        for _ in range(rounds):
            for variant in VARIANTS:
                runs[variant].append(run_variant(cluster, variant, requests))
    finally:
        cluster.stop()
    return {
        "command": f"benchmarks/replica_bench.py --requests {requests} --rounds {rounds}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "postgres": version,
        "requests": requests,
        "rounds": rounds,
        "summary": summarise(runs),
        "runs": runs,
    }


if __name__ == "__main__":
    main()
