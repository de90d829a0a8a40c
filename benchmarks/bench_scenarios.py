"""The multi-thread and multi-process scenarios of ``make bench`` (see make_bench.py).

- stampede: N concurrent requests on a cold tracker page: how many computations, the waiters' p99;
- invalidation: a committed write here to the eviction of an L1 entry in another process;
- throughput: gunicorn (2 workers) on loopback driven by ``wrk`` for a fixed time per URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def stampede(session: str, url: str, *, requests: int, invalidate, computes) -> dict:
    """Fire ``requests`` concurrent GETs on a just-invalidated page; count computations."""
    from django.db import connections
    from django.test import Client

    invalidate()
    before = computes()
    barrier = threading.Barrier(requests)
    latencies, statuses = [], []

    def one():
        client = Client()
        client.cookies["sessionid"] = session
        barrier.wait()
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.append(response.status_code)
        connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return {
        "requests": requests,
        "computations": computes() - before,
        "all_200": all(s == 200 for s in statuses) and len(statuses) == requests,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


PEER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    import django
    django.setup()
    from cachecore import coherence, tiers
    from trackers import selectors
    from trackers.namespaces import REFERENCE
    name = REFERENCE["brands"]
    subscriber = coherence.ensure_started()
    if subscriber is None or not subscriber.connected.wait(10):
        print(json.dumps({"error": "no subscriber (Redis needed)"}), flush=True)
        sys.exit(1)
    for line in sys.stdin:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # L1 takes the value once this process is coherent
            selectors.reference_rows("brands")
            if tiers.l1.entries_by_namespace().get(name):
                break
            time.sleep(0.05)
        print(json.dumps({"ready": True}), flush=True)
        deadline = time.monotonic() + 10
        while tiers.l1.entries_by_namespace().get(name) and time.monotonic() < deadline:
            time.sleep(0.0002)
        print(json.dumps({"evicted_at": time.time()}), flush=True)
    """
)


def invalidation_latency(samples: int) -> dict:
    """Return p50/p99 ms from a committed brand write here to the brands list gone from another process's L1."""
    from django.conf import settings
    from django.test import override_settings

    from trackers.models import Brand

    if not settings.REDIS_URL:
        return {"skipped": "needs REDIS_URL (cross-process eviction goes over Redis pub/sub)"}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CACHECORE_DEBOUNCE_SECONDS": "0"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER, str(ROOT)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    brand = Brand.objects.order_by("id").first()
    latencies = []
    try:
        for i in range(samples):
            peer.stdin.write("go\n")
            peer.stdin.flush()
            assert json.loads(peer.stdout.readline()).get("ready"), "peer not ready"
            brand.name = brand.name.rstrip("*") + ("*" if i % 2 == 0 else "")
            written = time.time()
            with override_settings(CACHECORE_DEBOUNCE_SECONDS=0):
                brand.save(update_fields=["name"])  # autocommit: the invalidation fires at this commit
            evicted = json.loads(peer.stdout.readline())["evicted_at"]
            latencies.append((evicted - written) * 1000)
    finally:
        peer.stdin.close()
        peer.wait(10)
        brand.name = brand.name.rstrip("*")
        with override_settings(CACHECORE_DEBOUNCE_SECONDS=0):
            brand.save(update_fields=["name"])
    return {
        "samples": samples,
        "debounce_s": 0,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throughput(session: str, urls: dict[str, str], *, seconds: int, database_url: str) -> dict:
    """Run gunicorn with 2 workers on loopback and ``wrk`` for ``seconds`` per URL, URLs interleaved."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECURE_SSL": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "benchmarks.floor_wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    results = {}
    try:
        _wait_for(port)
        for url in urls.values():  # warm both workers' caches and connections
            cmd = [wrk, "-t1", "-c2", "-d1s", "-H", f"Cookie: sessionid={session}", f"http://127.0.0.1:{port}{url}"]
            subprocess.run(cmd, capture_output=True, check=True)
        for name, url in urls.items():
            out = subprocess.run(
                [
                    wrk,
                    "-t2",
                    "-c8",
                    f"-d{seconds}s",
                    "--latency",
                    "-H",
                    f"Cookie: sessionid={session}",
                    f"http://127.0.0.1:{port}{url}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results[name] = _parse_wrk(out)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 3)


def _parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "requests_per_s": rps,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


SYNC_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    import django
    django.setup()
    from django.db import connection
    from trackers.sync import sync_tracker_state
    connection.ensure_connection()  # connecting (and opening the pool) is not the sync's work
    seen = []
    started = time.perf_counter()
    with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
        result = sync_tracker_state()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"rows": result.rows, "trackers": result.trackers, "seconds": seconds, "queries": len(seen)}
    print(json.dumps({**out, "peak_rss_mb": peak}))
    """
)

ADD_HISTORY = """
    INSERT INTO trackers_locationhistory
        (tracker_id, timestamp, latitude, longitude, nearest_city, confidence, created_at)
    SELECT t.ids[1 + (g %% cardinality(t.ids))],
           t.base + make_interval(secs => g),
           50 + (g %% 100) / 100.0, 8 + (g %% 50) / 100.0, 'Bench City', 0.9, now()
    FROM generate_series(1, %s) AS g,
         (SELECT array_agg(id ORDER BY id) AS ids FROM trackers_tracker) AS t0,
         LATERAL (SELECT t0.ids,
                         (SELECT max(timestamp) FROM trackers_locationhistory) + interval '1 second' AS base) AS t
"""


RESET_STATE = """
    UPDATE trackers_tracker SET latest_latitude = NULL, latest_longitude = NULL, latest_timestamp = NULL,
        latest_nearest_city = '', latest_confidence = NULL, latest_history_id = NULL, last_report_received = NULL
"""


def _sync_in_child() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SYNC_CHILD, str(ROOT)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["rows_per_s"] = round(result["rows"] / result["seconds"]) if result["rows"] else None
    result["seconds"] = round(result["seconds"], 3)
    result["peak_rss_mb"] = round(result["peak_rss_mb"], 1)
    return result


def state_sync(sizes: tuple[int, ...] = (100_000, 1_000_000)) -> dict:
    """Append new history rows and time a sync of each batch in a fresh process; then an idle run.

    The appended rows are deleted afterwards and tracker state is rebuilt by a full sync.
    """
    from django.db import connection

    from trackers.models import LocationHistory, SyncWatermark

    if connection.vendor != "postgresql":
        return {"skipped": "PostgreSQL scenario (the rows are generated with generate_series)"}
    _sync_in_child()  # start from a synced state
    first_new = (LocationHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    results = {}
    try:
        for size in sizes:
            with connection.cursor() as cursor:
                cursor.execute(ADD_HISTORY, [size])
                cursor.execute("ANALYZE trackers_locationhistory")
            results[f"{size:,} new rows"] = _sync_in_child()
        results["no-change run"] = _sync_in_child()
    finally:
        with connection.cursor() as cursor:  # one statement (the ORM's delete() collects 1.1M rows first)
            cursor.execute("DELETE FROM trackers_locationhistory WHERE id >= %s", [first_new])
        SyncWatermark.objects.all().delete()
        with connection.cursor() as cursor:  # the state points at deleted rows, newer than any left:
            cursor.execute(RESET_STATE)  # clear it, or the guard keeps it and the next run updates nothing
        _sync_in_child()  # rebuild the state from the seeded history
        with connection.cursor() as cursor:  # and reclaim the dead rows the syncs left
            cursor.execute("VACUUM (FULL, ANALYZE) trackers_tracker")
            cursor.execute("VACUUM ANALYZE trackers_locationhistory")
    return results


def l2_hit_against_redis_get(value: dict) -> dict:
    """Return the per-call cost of an L2 hit (no L1) against a bare redis-py GET of the same bytes."""
    from django.conf import settings
    from django_redis import get_redis_connection

    from benchmarks.timing import median_per_call
    from cachecore.api import Namespace, get_or_compute, register_namespace

    if not settings.REDIS_URL:
        return {"skipped": "needs REDIS_URL"}
    register_namespace(Namespace(name="bench.l2_hit", params=("k",), l1_ttl=0, l2_ttl=600))
    get_or_compute("bench.l2_hit", {"k": 1}, lambda: value)
    redis = get_redis_connection("default")
    redis.set("bench:l2_hit:bare", value["body"].encode(), ex=600)
    # Interleaved round by round, like every other comparison here: a load change on the shared
    # machine then hits both sides alike instead of one block of rounds.
    ours_rounds, bare_rounds = [], []
    for _ in range(15):
        ours_rounds.append(
            median_per_call(lambda: get_or_compute("bench.l2_hit", {"k": 1}, lambda: value), calls=200, rounds=1)
        )
        bare_rounds.append(median_per_call(lambda: redis.get("bench:l2_hit:bare"), calls=200, rounds=1))
    ours, bare = statistics.median(ours_rounds), statistics.median(bare_rounds)
    return {"bytes": len(value["body"]), "l2_hit_us": round(ours * 1e6, 1), "redis_get_us": round(bare * 1e6, 1)}


def comprehensive_user_data(get, user_id: int, *, latency: float = 3.0, misses: int = 3, runs: int = 30) -> dict:
    """Comprehensive user data with a simulated AI latency: a miss, then L1, L2 and L3 hits.

    ``get(url)`` returns the response of the logged-in benchmark client (staff: may read anyone's
    data). Misses are invalidated first (untimed); the hit tiers are interleaved round by round:
    L1 as it is, L2 after this process's L1 is dropped, L3 after L1 and the L2 value are dropped.
    """
    from django.test import override_settings

    from cachecore import generations, keys, tiers
    from cachecore.api import get_namespace, invalidate_now
    from contentplanning.caching import user_scope
    from contentplanning.conf import NAMESPACE

    url = f"/api/content-planning/calendar-generation/comprehensive-user-data?user_id={user_id}"
    ns = get_namespace(NAMESPACE)
    canon = keys.canonical_params(ns, {"user_id": user_id, "strategy_id": None, "period": "month"})
    scope = user_scope(user_id)

    def drop_l1():
        tiers.l1_clear()

    def drop_l1_and_l2():
        tiers.l1_clear()
        gens = generations.current_generations(NAMESPACE, scope)
        tiers.l2_delete(keys.value_key(NAMESPACE, gens, keys.param_hash(canon)))

    def timed(expect: str) -> float:
        started = time.perf_counter()
        response = get(url)
        elapsed = (time.perf_counter() - started) * 1000
        tier = response.json()["cache_info"]["tier"]
        assert tier == expect, f"expected a {expect} answer, got {tier}"
        return elapsed

    with override_settings(AI_ANALYSIS_LATENCY=latency):
        miss_ms = []
        for _ in range(misses):
            invalidate_now(NAMESPACE, scope=scope, source="benchmark")
            miss_ms.append(timed("miss"))
        cases = {"l1": None, "l2": drop_l1, "l3": drop_l1_and_l2}
        hits = {tier: [] for tier in cases}
        for _ in range(runs):
            for tier, before in cases.items():
                if before is not None:
                    before()
                hits[tier].append(timed(tier))
    out = {"ai_latency_s": latency, "miss_median_ms": round(statistics.median(miss_ms), 1), "misses": misses}
    for tier, samples in hits.items():
        median = statistics.median(samples)
        out[f"{tier}_median_ms"] = round(median, 3)
        out[f"{tier}_p95_ms"] = round(percentile(samples, 0.95), 3)
        out[f"miss/{tier}"] = round(statistics.median(miss_ms) / median)
    out["runs_per_hit_tier"] = runs
    return out


def read_replica(requests: int = 100, rounds: int = 2) -> dict:
    """Cold tracker pages without replicas, with a caught-up and with a lagging replica (replica_bench.py).

    Runs on its own private primary + replica (the PostgreSQL server binaries, nothing else);
    skipped, and said so, where they are missing. Full figures: benchmarks/results/replicas.md.
    """
    from benchmarks import replica_bench
    from tests.pg_replica import missing_reason

    reason = missing_reason()
    if reason:
        return {"skipped": reason}
    summary = replica_bench.run(requests, rounds)["summary"]
    figures = {}
    for variant, row in summary.items():
        figures[f"{variant} pages/s"] = row["pages_per_s"]
        figures[f"{variant} primary statements/page"] = row["primary_statements_per_page"]
    return figures
