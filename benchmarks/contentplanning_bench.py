"""Benchmark: GET comprehensive-user-data on a miss and on L1/L2/L3 hits, next to a trivial DRF view.

Every request goes through the full Django stack (middleware, DRF, the view) with the in-process
test client, so the figures compare like with like. The AI provider is the local one with a
simulated latency (3 s by default, as in ``make run``). A throwaway test database is created
and seeded with the foundation's demo users; nothing touches your development database.

Reproduce (embedded default: SQLite + local memory):

    .venv/bin/python benchmarks/contentplanning_bench.py

and on PostgreSQL + Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/5 \\
    TEST_DATABASE_NAME=bench_cp CACHE_KEY_PREFIX=benchcp .venv/bin/python benchmarks/contentplanning_bench.py

``--write`` appends the table to benchmarks/results/contentplanning.md.
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
import types
from datetime import UTC, date, datetime

import bootstrap

ROOT = bootstrap.setup(
    PROMETHEUS_MIDDLEWARE="0",  # measure the app, not the exporter
    CACHECORE_ACCESS_FLUSH_SECONDS="0",
)

RESULTS = ROOT / "benchmarks" / "results" / "contentplanning.md"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=3.0, help="simulated AI latency in seconds (default 3)")
    parser.add_argument("--runs", type=int, default=300, help="requests per hit tier and trivial view")
    parser.add_argument("--misses", type=int, default=5, help="requests on a miss (each pays the latency)")
    parser.add_argument("--users", type=int, default=20, help="demo users to seed")
    parser.add_argument("--write", action="store_true", help=f"append the result to {RESULTS.relative_to(ROOT)}")
    return parser.parse_args()


def setup_django(latency: float):
    os.environ["AI_ANALYSIS_LATENCY"] = str(latency)
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return old_name


def teardown_django(old_name):
    from django.db import connection

    connection.creation.destroy_test_db(old_name, verbosity=0)


def install_urlconf():
    """Serve the app's URLs plus a trivial DRF view under one urlconf."""
    from django.conf import settings
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class TrivialApi(APIView):
        def get(self, request):
            return Response({"status": "success", "user_id": request.user.pk})

    urlconf = types.ModuleType("bench_urls")
    urlconf.urlpatterns = [
        path("bench/trivial/", TrivialApi.as_view()),
        path("api/content-planning/", include("contentplanning.urls")),
    ]
    sys.modules["bench_urls"] = urlconf
    settings.ROOT_URLCONF = "bench_urls"


def seed(users: int):
    from contentplanning.demo_data import seed_users

    return seed_users(random.Random(42), users=users, today=date(2026, 1, 15))


def timed_get(client, url, expect_tier=None) -> float:
    """Return the wall time (ms) of one GET, checking the tier that answered."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:300]
    if expect_tier is not None:
        tier = response.json()["cache_info"]["tier"]
        assert tier == expect_tier, f"expected a {expect_tier} answer, got {tier}"
    return elapsed


def interleaved(client, cases, runs: int) -> dict[str, list[float]]:
    """Time each case ``runs`` times, round-robin, so load changes on the machine hit all alike.

    A case is (name, url, before, expected tier); ``before()`` runs untimed ahead of each GET.
    """
    samples = {name: [] for name, *_ in cases}
    for _ in range(runs):
        for name, url, before, tier in cases:
            if before is not None:
                before()
            samples[name].append(timed_get(client, url, tier))
    return samples


def run(args) -> list[tuple[str, list[float]]]:
    from django.conf import settings
    from rest_framework.test import APIClient

    from cachecore import generations, keys, tiers
    from cachecore.api import get_namespace, invalidate_now
    from contentplanning.caching import user_scope
    from contentplanning.conf import NAMESPACE

    install_urlconf()
    user = seed(args.users)[0]
    client = APIClient()
    client.force_authenticate(user)
    url = "/api/content-planning/calendar-generation/comprehensive-user-data"
    ns = get_namespace(NAMESPACE)
    canon = keys.canonical_params(ns, {"user_id": user.pk, "strategy_id": None, "period": "month"})

    def drop_l1():
        tiers.l1_clear()

    def drop_l1_and_l2():
        tiers.l1_clear()
        gens = generations.current_generations(NAMESPACE, user_scope(user.pk))
        tiers.l2_delete(keys.value_key(NAMESPACE, gens, keys.param_hash(canon)))

    def invalidate():
        invalidate_now(NAMESPACE, scope=user_scope(user.pk), source="benchmark")

    print(f"AI latency {settings.AI_ANALYSIS_LATENCY} s; {args.misses} misses, {args.runs} runs per hit tier")
    trivial = "/bench/trivial/"
    for _ in range(20):  # warm-up: imports, connections, the coherence subscriber
        timed_get(client, trivial)
    misses = []
    for _ in range(args.misses):
        invalidate()  # untimed: the next GET finds nothing in any tier
        misses.append(timed_get(client, url, "miss"))
    hits = interleaved(
        client,
        [
            ("trivial DRF view", trivial, None, None),
            ("L1 hit", url, None, "l1"),
            ("L2 hit", url, drop_l1, "l2"),
            ("L3 hit (cache table)", url, drop_l1_and_l2, "l3"),
        ],
        args.runs,
    )
    return [("trivial DRF view", hits.pop("trivial DRF view")), ("miss (compute)", misses), *hits.items()]


def table(results, backend: str, args) -> str:
    trivial = statistics.median(results[0][1])
    miss = statistics.median(results[1][1])
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {backend}, AI latency {args.latency:g} s",
        "",
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs (shared; load average at the end "
        f"{os.getloadavg()[0]:.1f}), {args.users} demo users, {args.runs} runs per hit tier, {args.misses} misses.",
        "",
        "| request | n | median ms | p90 ms | x trivial view | miss / this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, samples in results:
        median = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1] if len(samples) >= 10 else max(samples)
        lines.append(
            f"| {name} | {len(samples)} | {median:.2f} | {p90:.2f} | {median / trivial:.1f} | {miss / median:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    old_name = setup_django(args.latency)
    try:
        from django.conf import settings

        db = "PostgreSQL" if settings.IS_POSTGRES else "SQLite"
        l2 = "Redis" if settings.REDIS_URL else "local memory"
        backend = f"{db} + {l2} L2"
        output = table(run(args), backend, args)
    finally:
        from cachecore import access

        access.flush()  # pending L3 access counts belong to the database about to be dropped
        teardown_django(old_name)
    print(output)
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as fh:
            fh.write("\n" + output)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
