"""``make bench``: warm authenticated requests against the floor and the peers, cold against 1 + N.

Reproduce (``make bench`` runs exactly this):

    .venv/bin/python benchmarks/make_bench.py

It uses its OWN database: on PostgreSQL (DATABASE_URL set) ``<name>_bench`` on the same server,
created when missing; otherwise the SQLite file ``bench.sqlite3`` (the embedded default, labelled
as such). The first run seeds it with the demo generator (1,500 trackers x 100 history rows) and
syncs tracker state; later runs reuse it. Everything below is measured side by side in one
process, interleaved round by round, through the whole Django stack (middleware, real session
cookie, DRF) with Django's test client. Results: stdout, ``benchmarks/results/latest.json``,
``benchmarks/results/latest.md`` and the chart ``benchmarks/results/latest.png``. Each request's
SQL statements and Redis round trips (a pipeline is one) are counted on one more call.

Peers: plain DRF (a ListAPIView, no cache) and django-cachalot alone (the same view, and the
original 1 + N loop, with cachalot caching the tables they read). "No cache at all" is the
endpoint with ``CACHE_ENABLED=0`` (every request computes, session and user read from SQL).
The floor: the same bytes from a trivial view, with and without auth work (benchmarks/floor_urls.py).

Then (benchmarks/bench_scenarios.py): a stampede of 50 concurrent requests on a cold page, the
time from a committed write to the eviction in another process's L1 (Redis), comprehensive user
data with a simulated AI latency of 3 s (a miss, then L1, L2 and L3 hits), gunicorn -w 2 on
loopback driven by ``wrk`` for 10 s per URL (skipped, and said so, without wrk: ``apt-get install
wrk``), the state sync of 100,000 and 1,000,000 appended history rows in a fresh process each
(PostgreSQL; the rows are removed again and the state rebuilt), an L2 hit against a bare
redis-py GET of the same bytes, and cold tracker pages without replicas, with a caught-up and
with a lagging read replica on a private primary + replica (benchmarks/replica_bench.py; skipped,
and said so, without the PostgreSQL server binaries). Every ratio is printed with its target, met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

if __name__ == "__main__":
    # No options: the environment chooses the backends. Parsed before anything is set up, so
    # --help (or a mistyped option) neither creates the benchmark database nor runs the bench.
    argparse.ArgumentParser(
        prog="benchmarks/make_bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: DATABASE_URL and REDIS_URL (unset: the embedded default), CACHE_KEY_PREFIX.",
    ).parse_args()

import bootstrap  # noqa: E402

ROOT = bootstrap.setup(
    MONITORING_QUERY_TIMING="1",
)

TRACKERS, HISTORY = 1500, 100
RESULTS = ROOT / "benchmarks" / "results"


def bench_database_url() -> tuple[str, str]:
    """Return (DATABASE_URL of the benchmark's own database, label); create it on PostgreSQL."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{ROOT / 'bench.sqlite3'}", "embedded default (SQLite file, local-memory cache)"
    parts = urlparse(url)
    name = parts.path.lstrip("/") + "_bench"
    import psycopg

    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path="/" + name)), f"PostgreSQL ({name}) + " + (
        "Redis" if os.environ.get("REDIS_URL") else "local-memory cache"
    )


os.environ["DATABASE_URL"], LABEL = bench_database_url()

import django  # noqa: E402

django.setup()

from cachalot.api import cachalot_disabled  # noqa: E402
from cachalot.settings import cachalot_settings  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from benchmarks import bench_scenarios, floor_urls  # noqa: E402
from cachecore import tiers  # noqa: E402  (the warm-L2 variants clear this process's L1)
from cachecore.api import invalidate_now, stats  # noqa: E402
from tests.helpers import RedisRoundTrips  # noqa: E402
from trackers import stored  # noqa: E402
from trackers.models import LocationHistory, Tracker  # noqa: E402
from trackers.namespaces import TRACKER_LIST  # noqa: E402

PAGE = "/api/trackers/?size=100&include_latest_location=true"
BRANDS = "/api/brands/"
PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway user of the benchmark database


def ensure_data() -> None:
    call_command("migrate", verbosity=0)
    if Tracker.objects.count() == TRACKERS and LocationHistory.objects.count() == TRACKERS * HISTORY:
        vacuum()
        return
    print(f"seeding {TRACKERS} trackers x {HISTORY} history rows ...", flush=True)
    call_command("seed_demo_data", "--reset", "--trackers", TRACKERS, "--history", HISTORY, verbosity=0)
    call_command("sync_tracker_state", verbosity=0)
    vacuum()


def vacuum() -> None:
    """Reclaim what earlier runs' sync scenario left behind (dead tracker rows slow every scan)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (FULL, ANALYZE) trackers_tracker")  # 1,500 rows; the syncs leave ~48 MB
            cursor.execute("VACUUM ANALYZE trackers_locationhistory")


def logged_in_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    user.is_staff, user.is_active = True, True
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    # A real session cookie, as login() would set; login() itself goes through authenticate(),
    # which django-axes refuses without a request.
    client.force_login(user, backend="accounts.backends.CachedModelBackend")
    return client


def ai_user_id() -> int:
    """Return the first demo user (seed_demo_data gives each onboarding, strategies and performance)."""
    return get_user_model().objects.filter(username__startswith="demo.").order_by("id").values_list("id", flat=True)[0]


def one_plus_n(ids: list[int]) -> bytes:
    """The original dashboard loop over the given trackers: one latest-location query each."""
    items = []
    for tracker in Tracker.objects.select_related("production_run__brand").filter(pk__in=ids).order_by("id"):
        latest = LocationHistory.objects.filter(tracker_id=tracker.id).order_by("-timestamp").first()
        items.append(
            {
                "id": tracker.id,
                "serial": tracker.serial,
                "client_id": tracker.production_run.brand.client_id,
                "current_status": tracker.current_status,
                "latest_location": None
                if latest is None
                else {"latitude": latest.latitude, "longitude": latest.longitude, "timestamp": str(latest.timestamp)},
            }
        )
    return json.dumps(items).encode()


def uncachalot(fn):
    def run():
        with cachalot_disabled():
            return fn()

    return run


TRACKER_TABLES = frozenset({"trackers_tracker", "trackers_locationhistory", "trackers_productionrun", "trackers_brand"})


def cachalot_on_tracker_tables(fn):
    """Run ``fn`` with django-cachalot caching the tables of the tracker loop (off by default here)."""

    def run():
        # cachalot reads its settings once (override_settings does not reach them): swap directly.
        previous = cachalot_settings.CACHALOT_ONLY_CACHABLE_TABLES
        cachalot_settings.CACHALOT_ONLY_CACHABLE_TABLES = TRACKER_TABLES
        try:
            return fn()
        finally:
            cachalot_settings.CACHALOT_ONLY_CACHABLE_TABLES = previous

    return run


def without_cache(fn):
    def run():
        with override_settings(CACHE_ENABLED=False):
            return fn()

    return run


def tracker_list_computes() -> int:
    return stats()["namespaces"].get(TRACKER_LIST, {}).get("computes", 0)


def statements_of(fn) -> int:
    seen = []
    with connection.execute_wrapper(lambda execute, sql, *rest: seen.append(sql) or execute(sql, *rest)):
        fn()
    return len(seen)


def measure(variants: dict, rounds: int, per_round: int) -> dict:
    """Interleave the variants round by round; return median/p95 ms per request and query counts."""
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (fn, prepare) in variants.items():
            fn()  # untimed: refill what the previous variant invalidated (a warm L2 must be warm)
            for _ in range(per_round):
                if prepare:
                    prepare()
                started = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - started) * 1000)
    out = {}
    for name, (fn, prepare) in variants.items():
        fn()
        if prepare:
            prepare()
        queries = statements_of(fn)
        if prepare:
            prepare()
        times = sorted(samples[name])
        out[name] = {
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
            "queries": queries,
            "redis_round_trips": redis_round_trips_of(fn),
            "samples": len(times),
        }
    return out


def redis_round_trips_of(fn) -> int:
    """Return the Redis round trips of one call (a pipeline is one; 0 on the embedded default)."""
    with RedisRoundTrips() as trips:
        fn()
    return len(trips)


def main() -> None:
    ensure_data()
    settings.ROOT_URLCONF = "benchmarks.floor_urls"
    client = logged_in_client()

    def get(url):
        def fn():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:200])
            return response

        return fn

    page_bytes = get(PAGE)().content
    floor_urls.BODY["bytes"] = page_bytes
    ids = [item["id"] for item in json.loads(page_bytes)["items"]]
    get(BRANDS)()

    def cold():
        invalidate_now(TRACKER_LIST, source="benchmark")

    # Quick variants interleaved in one block, slow ones in another: ratios are taken within a block.
    warm = measure(
        {
            "warm tracker page (100, with locations)": (get(PAGE), None),
            "warm brands": (get(BRANDS), None),
            "floor: same bytes, reads request.user": (get("/bench/floor-auth/"), None),
            "floor: same bytes, no auth work": (get("/bench/floor/"), None),
            "brands, plain DRF (no cache)": (uncachalot(get("/bench/drf-brands/")), None),
            "brands, django-cachalot alone": (get("/bench/drf-brands/"), None),
        },
        rounds=15,
        per_round=30,
    )
    cold_figures = measure(
        {
            "cold tracker page (100)": (get(PAGE), cold),
            "tracker page (100), no cache at all (CACHE_ENABLED=0)": (without_cache(get(PAGE)), None),
            "1 + N loop over the same 100 trackers": (lambda: one_plus_n(ids), None),
            "1 + N loop, django-cachalot alone (warm)": (cachalot_on_tracker_tables(lambda: one_plus_n(ids)), None),
        },
        rounds=6,
        per_round=5,
    )
    all_ids = list(Tracker.objects.order_by("id").values_list("id", flat=True))
    whole = [f"/api/trackers/?size=500&page={page}&include_latest_location=true" for page in (1, 2, 3)]

    def get_all():
        for url in whole:
            get(url)()

    whole_list = measure(
        {
            f"whole list ({len(all_ids)}, 3 pages of 500), cold": (get_all, cold),
            f"whole list ({len(all_ids)}, 3 pages of 500), warm L2": (get_all, tiers.l1_clear),
            f"whole list ({len(all_ids)}, 3 pages of 500), warm L1": (get_all, None),
            "tracker page (100), warm L2": (get(PAGE), tiers.l1_clear),
            f"1 + N loop over all {len(all_ids)} trackers": (lambda: one_plus_n(all_ids), None),
        },
        rounds=3,
        per_round=2,
    )
    figures = {**warm, **cold_figures, **whole_list}
    session = client.cookies["sessionid"].value
    print("stampede, invalidation latency, throughput ...", flush=True)
    scenarios = {
        "stampede": bench_scenarios.stampede(
            session, PAGE, requests=50, invalidate=cold, computes=lambda: tracker_list_computes()
        ),
        "invalidation": bench_scenarios.invalidation_latency(samples=30),
        "throughput": bench_scenarios.throughput(
            session,
            {"warm tracker page": PAGE, "warm brands": BRANDS, "floor (no auth work)": "/bench/floor/"},
            seconds=10,
            database_url=os.environ["DATABASE_URL"],
        ),
        "comprehensive user data (AI latency 3 s)": bench_scenarios.comprehensive_user_data(
            lambda url: client.get(url), ai_user_id(), latency=3.0
        ),
        "state sync": bench_scenarios.state_sync(),
        "L2 hit": bench_scenarios.l2_hit_against_redis_get(stored.store(json.loads(page_bytes))),
        "read replica": bench_scenarios.read_replica(),
    }
    floor = figures["floor: same bytes, no auth work"]["median_ms"]
    ratios = {
        "warm tracker page / floor (target <= 1.5)": figures["warm tracker page (100, with locations)"]["median_ms"]
        / floor,
        "warm brands / floor (target <= 1.5)": figures["warm brands"]["median_ms"] / floor,
        "1 + N / cold page (target >= 20)": figures["1 + N loop over the same 100 trackers"]["median_ms"]
        / figures["cold tracker page (100)"]["median_ms"],
    }
    tput = scenarios["throughput"]
    if "skipped" not in tput:
        floor_rps = tput["floor (no auth work)"]["requests_per_s"]
        ratios["throughput: warm tracker page / floor (target >= 0.8)"] = (
            tput["warm tracker page"]["requests_per_s"] / floor_rps
        )
        ratios["throughput: warm brands / floor (target >= 0.8)"] = tput["warm brands"]["requests_per_s"] / floor_rps
    l2 = scenarios["L2 hit"]
    if "skipped" not in l2:
        ratios["L2 hit / bare redis-py GET of the same bytes (target <= 1.3)"] = l2["l2_hit_us"] / l2["redis_get_us"]
    sync = scenarios["state sync"]
    if "skipped" not in sync:
        big, small = sync["1,000,000 new rows"], sync["100,000 new rows"]
        ratios["state sync rows/s, 1M rows (target >= 1,000,000)"] = big["rows_per_s"]
        ratios["state sync peak RSS, 1M / 100k (target <= 1.2)"] = big["peak_rss_mb"] / small["peak_rss_mb"]
        ratios["state sync no-change run, ms (target <= 5)"] = sync["no-change run"]["seconds"] * 1000
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "backends": LABEL,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "versions": {"python": platform.python_version(), "django": django.get_version()},
        "data": f"{TRACKERS} trackers x {HISTORY} history rows (seed_demo_data)",
        "command": "make bench",
        "figures": figures,
        "scenarios": scenarios,
        "ratios": {name: round(value, 2) for name, value in ratios.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(report))
    chart(report, RESULTS / "latest.png")
    print(markdown(report))


def markdown(report: dict) -> str:
    lines = [
        f"# make bench — {report['date']}",
        "",
        f"{report['backends']}; {report['data']}; {report['machine']}; "
        f"Python {report['versions']['python']}, Django {report['versions']['django']}. "
        "Django test client, real session cookie, one process, variants interleaved.",
        "",
        "| request | median ms | p95 ms | SQL queries | Redis round trips |",
        "|---|---|---|---|---|",
    ]
    for name, fig in report["figures"].items():
        trips = fig.get("redis_round_trips", "")
        lines.append(f"| {name} | {fig['median_ms']} | {fig['p95_ms']} | {fig['queries']} | {trips} |")
    lines += ["", "| scenario | figures |", "|---|---|"]
    for name, value in report["scenarios"].items():
        if name == "throughput" and "skipped" not in value:
            for url, fig in value.items():
                lines.append(f"| throughput, {url} (gunicorn -w 2, wrk -t2 -c8, 10 s) | {_inline(fig)} |")
        elif name == "state sync" and "skipped" not in value:
            for run, fig in value.items():
                lines.append(f"| state sync, {run} | {_inline(fig)} |")
        else:
            lines.append(f"| {name} | {_inline(value)} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report["ratios"].items()]
    return "\n".join(lines) + "\n"


def _inline(value: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in value.items())


def chart(report: dict, path: Path) -> None:
    """Draw the medians (log scale) as horizontal bars, ours highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["figures"])
    medians = [report["figures"][n]["median_ms"] for n in names]
    colours = ["#2b7a4b" if n.startswith(("warm", "cold")) else "#8a8f98" for n in names]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
    ax.barh(names, medians, color=colours)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("median ms per request (log scale); green: Cachewarden")
    for y, value in enumerate(medians):
        ax.text(value, y, f" {value:g}", va="center", fontsize=8)
    ax.set_title(f"make bench, {report['backends']}, {report['date'][:10]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
