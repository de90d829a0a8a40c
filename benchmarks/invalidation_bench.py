"""Cost of the invalidation path: scheduling a write, coalescing, firing, cross-process eviction.

Run (Redis makes firing and the cross-process figure real; without it they are local only):

    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python benchmarks/invalidation_bench.py

The database is a throwaway SQLite file (only transactions are opened; no tables are needed).
Every per-call figure is the median, over ROUNDS rounds, of the mean cost per call; the
cross-process figure is the median latency from calling invalidate_now() in this process to a
peer process seeing its L1 entry gone. The table goes to benchmarks/results/invalidation.md.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from timing import median_per_call

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
os.environ.setdefault("CACHE_KEY_PREFIX", "benchinv")
os.environ.setdefault("PROMETHEUS_MIDDLEWARE", "0")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

_DB = tempfile.NamedTemporaryFile(suffix=".sqlite3", delete=False)  # noqa: SIM115 - removed at exit
settings.DATABASES["default"]["NAME"] = _DB.name
django.setup()

from django.db import transaction  # noqa: E402

from cachecore import coherence, tiers  # noqa: E402
from cachecore.debounce import Debouncer  # noqa: E402
from cachecore.invalidation import flush_pending, get_debouncer, invalidate, invalidate_now  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402

NS = "bench.inv"

PEER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from cachecore import coherence, tiers
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    register_namespace(Namespace(name="bench.inv", l1_ttl=300, l2_ttl=300))
    assert coherence.ensure_started().connected.wait(10)
    for line in sys.stdin:  # one round per line: fill L1, say so, wait for the eviction
        get_or_compute("bench.inv", {}, lambda: "v")
        print("filled", flush=True)
        while tiers.l1.entries_by_namespace().get("bench.inv"):
            time.sleep(0.0001)  # yield the GIL to the subscriber thread
        print(time.perf_counter_ns(), flush=True)
    """
)


def schedule_in_one_transaction(writes: int) -> None:
    """Schedule ``writes`` invalidations of one namespace in one transaction (one is queued)."""
    with transaction.atomic():
        for _ in range(writes):
            invalidate(NS)
    get_debouncer().discard()


def cross_process_latency(samples: int) -> list[float]:
    """Return seconds from calling invalidate_now() to the peer seeing its L1 entry gone."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    latencies = []
    try:
        for _ in range(samples + 1):
            peer.stdin.write("go\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "filled"
            sent = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes on Linux
            invalidate_now(NS)
            seen = int(peer.stdout.readline())
            latencies.append((seen - sent) / 1e9)
    finally:
        peer.kill()
        peer.wait(5)
    return latencies[1:]  # the first round warms the peer up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--samples", type=int, default=50, help="cross-process rounds")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "invalidation.md"))
    args = parser.parse_args()

    register_namespace(Namespace(name=NS, l1_ttl=300, l2_ttl=300))
    debouncer = Debouncer(lambda *a: None, lambda ns: (2.0, 10.0), background=False)
    rows = [
        (
            "Debouncer.add (coalescing into a pending key)",
            median_per_call(lambda: debouncer.add(NS), calls=args.calls, rounds=args.rounds),
        ),
        (
            "invalidate() inside a transaction (per write; one callback queued)",
            median_per_call(lambda: schedule_in_one_transaction(1000), calls=5, rounds=args.rounds) / 1000,
        ),
        (
            "invalidate() + commit + debouncer, one write per transaction",
            median_per_call(lambda: schedule_in_one_transaction(1), calls=200, rounds=args.rounds),
        ),
    ]
    fire_calls = max(args.calls // 10, 50)
    rows.append(
        (
            "invalidate_now(): bump + L1 evict + publish",
            median_per_call(lambda: invalidate_now(NS), calls=fire_calls, rounds=args.rounds),
        )
    )
    flush_pending()
    latency = None
    if coherence.redis_client() is not None:
        latencies = cross_process_latency(args.samples)
        latency = (statistics.median(latencies), max(latencies), len(latencies))
    tiers.l1_clear()

    backend = "django-redis" if settings.REDIS_URL else "local memory (REDIS_URL unset)"
    lines = [
        "# cachecore: cost of invalidation",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} / Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs shared with other jobs; L2 backend: {backend}.",
        f"Median over {args.rounds} rounds of the mean per call.",
        "",
        "Command:",
        "",
        "```",
        f"REDIS_URL={settings.REDIS_URL or ''} .venv/bin/python benchmarks/invalidation_bench.py",
        "```",
        "",
        "| path | median per call |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {seconds * 1e6:.2f} µs |" for name, seconds in rows]
    if latency is not None:
        median, worst, count = latency
        lines += [
            "",
            f"Cross-process L1 eviction (invalidate_now() call -> peer's L1 entry gone), {count} rounds: "
            f"median {median * 1e3:.2f} ms, max {worst * 1e3:.2f} ms.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    try:
        main()
    finally:
        os.unlink(_DB.name)
