"""Side-by-side cost per call of the cache engine's paths against a dict lookup and a redis-py GET.

Run (PostgreSQL is not needed for these paths; Redis makes L2 real):

    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python benchmarks/cachecore_bench.py

Every figure is the median, over ROUNDS rounds, of the mean cost per call of CALLS calls; the
table is printed and written to benchmarks/results/cachecore.md together with the command.
"""

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import bootstrap
from timing import median_per_call

ROOT = bootstrap.setup(
    CACHE_KEY_PREFIX="bench",
    PROMETHEUS_MIDDLEWARE="0",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from cachecore import stats, tiers  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from cachecore.service import get_or_compute  # noqa: E402

VALUE = {"items": [{"id": i, "name": f"brand {i}", "client_id": i % 7} for i in range(20)], "total": 20}
PARAMS = {"user_id": 7, "ids": [3, 1, 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "cachecore.md"))
    args = parser.parse_args()

    register_namespace(Namespace("bench.l1", params=("user_id", "ids"), unordered=("ids",), l1_ttl=None, l2_ttl=300))
    register_namespace(Namespace("bench.l2", params=("user_id", "ids"), unordered=("ids",), l1_ttl=0, l2_ttl=300))
    compute = VALUE.copy
    get_or_compute("bench.l1", PARAMS, compute)
    get_or_compute("bench.l2", PARAMS, compute)
    assert get_or_compute("bench.l1", PARAMS, compute)[1].tier == "l1"
    assert get_or_compute("bench.l2", PARAMS, compute)[1].tier == "l2"

    plain = {"bench:plain": VALUE}
    rows = [
        ("plain dict lookup", median_per_call(lambda: plain.get("bench:plain"), calls=args.calls, rounds=args.rounds))
    ]
    redis_client = None
    if settings.REDIS_URL:
        import json

        from config.redis_sentinel import redis_client as make_client

        redis_client = make_client(settings.REDIS_URL, settings.REDIS_SENTINELS, timeout=5)
        redis_client.set("bench:plain", json.dumps(VALUE))
        rows.append(
            (
                "plain redis-py GET",
                median_per_call(lambda: redis_client.get("bench:plain"), calls=args.calls, rounds=args.rounds),
            )
        )
    rows.append(
        (
            "L1 hit",
            median_per_call(lambda: get_or_compute("bench.l1", PARAMS, compute), calls=args.calls, rounds=args.rounds),
        )
    )
    observers = stats.observers()
    for observer in observers:  # the engine alone, without the metrics exporter's per-request work
        stats.remove_observer(observer)
    rows.append(
        (
            "L1 hit, no stats observers",
            median_per_call(lambda: get_or_compute("bench.l1", PARAMS, compute), calls=args.calls, rounds=args.rounds),
        )
    )
    for observer in observers:
        stats.add_observer(observer)
    slow = max(args.calls // 10, 50)
    rows.append(
        ("L2 hit", median_per_call(lambda: get_or_compute("bench.l2", PARAMS, compute), calls=slow, rounds=args.rounds))
    )
    rows.append(
        (
            "miss (compute() returns at once)",
            median_per_call(
                lambda: get_or_compute("bench.l1", PARAMS, compute, force_refresh=True), calls=slow, rounds=args.rounds
            ),
        )
    )
    tiers.l1_clear()
    if redis_client is not None:
        redis_client.delete("bench:plain")

    base = dict(rows)
    l2_backend = "django-redis" if settings.REDIS_URL else "local memory (REDIS_URL unset)"
    lines = [
        "# cachecore: cost per call",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} / "
        f"Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs shared with other jobs; L2 backend: {l2_backend}.",
        f"Median over {args.rounds} rounds of the mean per call ({args.calls} calls per round for the fast paths, "
        f"{slow} for L2 hit and miss).",
        "",
        "Command:",
        "",
        "```",
        f"REDIS_URL={settings.REDIS_URL or ''} .venv/bin/python benchmarks/cachecore_bench.py {' '.join(sys.argv[1:])}",
        "```",
        "",
        "| path | median per call | vs dict lookup | vs redis-py GET |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in rows:
        vs_dict = f"{seconds / base['plain dict lookup']:.1f}x"
        vs_redis = f"{seconds / base['plain redis-py GET']:.2f}x" if "plain redis-py GET" in base else "n/a"
        lines.append(f"| {name} | {seconds * 1e6:.2f} µs | {vs_dict} | {vs_redis} |")
    lines += [
        "",
        f"Stats observers registered in this process: {', '.join(type(o).__name__ for o in observers) or 'none'}",
        "(every path except the 'no stats observers' row pays for them).",
        "",
        "What each path does: an L1 hit canonicalises and hashes the parameters, then does one dict",
        "lookup and one clock read; an L2 hit is one MGET (the generations plus the value under the",
        "generations this process saw last; a second GET only right after an invalidation);",
        "a miss reads the generations, takes and releases the single-flight lock (SET NX PX + a",
        "compare-and-delete script) and writes L2 and L1.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
