"""Per-request cost of the monitoring: automatic SQL timing and django-prometheus's middleware.

Seeds a throwaway test database (never your data), then requests ``GET /api/trackers/`` as a
staff user in four configurations that alternate request by request in one process, so drift
and load from elsewhere hit them all alike:

- ``off``: no query timing (the execute wrapper removed) and no django-prometheus middleware;
- ``timing``: the execute wrapper only;
- ``middleware``: django-prometheus's Before/After middleware only;
- ``both``: the production default.

Two workloads: ``cold`` (cache tiers emptied before each request, so the request runs its SQL)
and ``warm`` (answered from L1). It reports the median per request of each configuration, the
median of the per-cycle differences to ``off``, and a micro-benchmark of the wrapper alone per
statement.
django-prometheus's database wrappers are the configured ENGINE and stay on in every configuration.

Reproduce benchmarks/results/monitoring.md:

    .venv/bin/python benchmarks/monitoring_overhead.py --write
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/6 \
    CACHE_KEY_PREFIX=bench TEST_DATABASE_NAME=bench_monitoring \
    .venv/bin/python benchmarks/monitoring_overhead.py --write

The cold workload clears the cache alias (FLUSHDB of the REDIS_URL database): use a database of your own.
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
os.environ["PROMETHEUS_MIDDLEWARE"] = "1"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment, teardown_databases  # noqa: E402
from django.urls import path  # noqa: E402

from cachecore import testing  # noqa: E402
from monitoring import query_timing  # noqa: E402
from monitoring.query_timing import timed_execute  # noqa: E402
from tests.helpers import QueryCounter  # noqa: E402
from trackers import demo_data  # noqa: E402

CONFIGS = ("off", "timing", "middleware", "both")
TRACKERS = "/api/trackers/"
PARAMS = {"size": 50, "include_latest_location": "true"}
NOOP = "/bench/noop"
RESULTS = ROOT / "benchmarks" / "results" / "monitoring.md"


def noop(request):
    """A view that does nothing: isolates the per-request cost of the middleware."""
    return HttpResponse("ok")


# This module is also the URLconf of the ``noop`` workload.
urlpatterns = [path("bench/noop", noop)]


def without_prometheus_middleware() -> list[str]:
    return [m for m in settings.MIDDLEWARE if not m.startswith("django_prometheus.")]


def make_client(user, *, middleware: bool) -> Client:
    """Return a logged-in client whose handler loaded the middleware of this configuration."""
    client = Client()
    client.force_login(user)
    if middleware:
        assert client.get(TRACKERS, PARAMS).status_code == 200
    else:
        with override_settings(MIDDLEWARE=without_prometheus_middleware()):
            assert client.get(TRACKERS, PARAMS).status_code == 200  # the handler loads its chain now
    return client


def set_timing(on: bool) -> None:
    wrappers = connection.execute_wrappers
    if on and timed_execute not in wrappers:
        wrappers.insert(0, timed_execute)
    if not on and timed_execute in wrappers:
        wrappers.remove(timed_execute)


def cold() -> None:
    for cache in caches.all():
        cache.clear()
    testing.reset()


def run(clients: dict, path: str, params: dict, cycles: int, *, before=None) -> tuple[dict, dict]:
    """Return per-request wall and CPU (this thread) seconds of every configuration.

    Configurations alternate request by request (in a shuffled order per cycle), so a burst of
    load from elsewhere on the machine lands on all of them alike; the deltas pair within cycles.
    """
    wall = {name: [] for name in CONFIGS}
    cpu = {name: [] for name in CONFIGS}
    order = list(CONFIGS)
    rng = random.Random(1)
    for _ in range(cycles):
        rng.shuffle(order)
        for name in order:
            set_timing(name in ("timing", "both"))
            if before is not None:
                before()
            started, started_cpu = time.perf_counter(), time.thread_time()
            response = clients[name].get(path, params)
            cpu[name].append(time.thread_time() - started_cpu)
            wall[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    set_timing(True)
    return wall, cpu


def paired_median_delta(samples: dict, name: str) -> float:
    """Return the median over cycles of (this configuration - off), in seconds."""
    return statistics.median(a - b for a, b in zip(samples[name], samples["off"], strict=True))


def statement_cost(cycles: int, per_block: int = 200) -> tuple[float, float]:
    """Return the median µs of one real ``SELECT 1`` with and without the wrapper (alternating blocks)."""
    blocks = {True: [], False: []}
    with connection.cursor() as cursor:
        for _ in range(cycles):
            for on in (True, False):
                set_timing(on)
                started = time.thread_time()
                for _ in range(per_block):
                    cursor.execute("SELECT 1")
                blocks[on].append((time.thread_time() - started) / per_block * 1e6)
    set_timing(True)
    return statistics.median(blocks[True]), statistics.median(blocks[False])


def apply_cost(client, cycles: int) -> tuple[float, float]:
    """Return the median µs of applying one statement timing: one at a time in situ, and in batches."""
    original, flush_at = query_timing.record_statement, query_timing.FLUSH_AT
    calls: list[int] = []

    def timed(sql, seconds):
        started = time.perf_counter_ns()
        original(sql, seconds)
        calls.append(time.perf_counter_ns() - started)

    query_timing.record_statement = timed
    try:
        medians = []
        for batch in (1, flush_at):  # 1: each statement applied by the wrapper right after it ran
            query_timing.flush()
            query_timing.FLUSH_AT = batch
            calls.clear()
            for _ in range(cycles):
                cold()
                client.get(TRACKERS, PARAMS)
            query_timing.flush()
            medians.append(statistics.median(calls) / 1000)
    finally:
        query_timing.record_statement, query_timing.FLUSH_AT = original, flush_at
    return medians[0], medians[1]


def workloads(args, queries: dict) -> list[tuple]:
    return [
        ("noop view", NOOP, {}, args.cycles * 4, None, 0),
        ("tracker list, warm (L1)", TRACKERS, PARAMS, args.cycles * 2, None, queries["warm"]),
        ("tracker list, cold", TRACKERS, PARAMS, args.cycles, cold, queries["cold"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trackers", type=int, default=300)
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=500, help="cycles of the cold workload (warm 2x, noop 4x)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()

    setup_test_environment()
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        rng = random.Random(42)
        ref = demo_data.seed_reference_data(rng)
        demo_data.seed_trackers(
            rng, ref, trackers=args.trackers, history=args.history, now=demo_data.utc_now(), progress=lambda *a: None
        )
        staff = get_user_model().objects.create_user("bench-monitoring", is_staff=True)
        clients = {name: make_client(staff, middleware=name in ("middleware", "both")) for name in CONFIGS}
        cold()
        with QueryCounter() as cold_queries:
            clients["off"].get(TRACKERS, PARAMS)
        with QueryCounter() as warm_queries:
            clients["off"].get(TRACKERS, PARAMS)
        queries = {"cold": len(cold_queries), "warm": len(warm_queries)}

        header = (
            f"{connection.vendor}, L2 {caches['default'].__class__.__name__}, {args.trackers} trackers, "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, --cycles {args.cycles}"
        )
        print(f"# {header}", flush=True)
        lines = [
            "| workload | SQL/request | configuration | wall ms | wall vs off (µs) | CPU ms | CPU vs off (µs) "
            "| CPU vs off (%) |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for label, path_, params, cycles, before, sql in workloads(args, queries):
            urlconf = sys.modules[__name__] if path_ == NOOP else settings.ROOT_URLCONF
            with override_settings(ROOT_URLCONF=urlconf):
                wall, cpu = run(clients, path_, params, cycles, before=before)
            base_cpu = statistics.median(cpu["off"])
            for name in CONFIGS:
                delta, delta_cpu = paired_median_delta(wall, name), paired_median_delta(cpu, name)
                line = (
                    f"| {label} | {sql} | {name} | {statistics.median(wall[name]) * 1000:.3f} | {delta * 1e6:+.0f} | "
                    f"{statistics.median(cpu[name]) * 1000:.3f} | {delta_cpu * 1e6:+.0f} | "
                    f"{100 * delta_cpu / base_cpu:+.1f} |"
                )
                lines.append(line)
                print(line, flush=True)
        with_wrapper, without = statement_cost(cycles=max(20, args.cycles // 10))
        micro = (
            f"One real `SELECT 1` (CPU, median of blocks of 200): {with_wrapper:.2f} µs with the execute "
            f"wrapper vs {without:.2f} µs without = {with_wrapper - without:.2f} µs per statement."
        )
        in_situ, batched = apply_cost(clients["timing"], cycles=max(50, args.cycles // 5))
        micro += (
            f" Applying one timing (fingerprint lookup, tracker, histogram; wall, median) on the cold tracker "
            f"list: {in_situ:.1f} µs one at a time inside the request vs {batched:.1f} µs in batches of "
            f"{query_timing.FLUSH_AT}."
        )
        print(micro)
        if args.write:
            write_results(header, lines, micro)
    finally:
        teardown_databases(old_config, verbosity=0)


def write_results(header: str, lines: list[str], micro: str) -> None:
    backend = "postgresql" if settings.IS_POSTGRES else "sqlite"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    start, end = f"<!-- {backend} -->", f"<!-- /{backend} -->"
    section = "\n".join([start, f"### {backend}", "", f"`{header}`", "", *lines, "", micro, end])
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = (text.rstrip() + "\n\n" if text else _preamble()) + section + "\n"
    RESULTS.write_text(text)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def _preamble() -> str:
    return (
        "# Monitoring overhead\n\n"
        "Produced by `benchmarks/monitoring_overhead.py` (command and method in its docstring). One process, "
        "Django's test client, staff session. Workloads: a no-op view (no SQL: the middleware alone), "
        "`GET /api/trackers/?size=50&include_latest_location=true` warm (answered from L1) and cold (cache "
        "tiers emptied before each request). The four configurations alternate request by request; "
        "`vs off` is the median of the per-cycle differences to `off` (no execute wrapper, no "
        "django-prometheus middleware), in wall time and in this thread's CPU time (`time.thread_time`, "
        "insensitive to other processes on this shared 2-core machine). django-prometheus's database "
        "wrappers are the ENGINE and stay on everywhere.\n\n"
    )


if __name__ == "__main__":
    main()
