"""Cost of durable invalidation: the write path with and without the outbox, commit-to-eviction
latency in another process, relay throughput and the outbox's size under a write burst.

Run (Redis makes applying and the cross-process figures real; PostgreSQL adds its trigger):

    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python benchmarks/invalidation_bench.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python benchmarks/invalidation_bench.py --output benchmarks/results/invalidation-postgres.md

The database is a throwaway test database (created, migrated and dropped by this script). Write
figures are medians over ROUNDS rounds, measured side by side in one run: "with" = the model
watched (receivers + outbox rows), "without" = the same model unwatched (and, on PostgreSQL, its
trigger disabled). The table goes to benchmarks/results/invalidation.md (or --output).
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
import uuid
from datetime import UTC, datetime
from pathlib import Path

import bootstrap
from timing import median_per_call

ROOT = bootstrap.setup(
    CACHE_KEY_PREFIX="benchinv",
    PROMETHEUS_MIDDLEWARE="0",
    TEST_DATABASE_NAME="cw_bench_invalidation",
)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not os.environ.get("DATABASE_URL"):
    # A file, not SQLite's shared in-memory database: its table locks have no busy timeout, and
    # the relay thread and this thread write at once (as they do in a real process).
    settings.DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / "cw_bench_invalidation.sqlite3")}
django.setup()

from django.db import connection, transaction  # noqa: E402

from cachecore import coherence, invalidation, relay, tiers  # noqa: E402
from cachecore.models import InvalidationOutbox  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from trackers.models import Client  # noqa: E402

NOW = "bench.inv.now"  # debounce 0: applied by the committing thread
DEFAULT = "bench.inv.default"  # the default debounce and max wait
SCOPED = "bench.inv.scoped"  # per-user scopes, for relay throughput

PEER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from cachecore import coherence, tiers
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    name = sys.argv[1]
    register_namespace(Namespace(name=name, l1_ttl=300, l2_ttl=300))
    assert coherence.ensure_started().connected.wait(10)
    subscriber = coherence.subscriber()
    for line in sys.stdin:  # one round per line: fill L1, say so, wait for the eviction message
        get_or_compute(name, {}, lambda: "v")
        events = subscriber.events
        print("filled", flush=True)
        while tiers.l1.entries_by_namespace().get(name) or subscriber.events == events:
            time.sleep(0.0001)  # yield the GIL to the subscriber thread
        print(time.perf_counter_ns(), flush=True)
    """
)


def clear_outbox() -> None:
    InvalidationOutbox.objects.all()._raw_delete(connection.alias)


def set_trigger(enabled: bool) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE trackers_client {'ENABLE' if enabled else 'DISABLE'} TRIGGER cachecore_notify")


def write_costs(rounds: int) -> list[tuple[str, float, float]]:
    """Return (case, seconds with the outbox, seconds without) per transaction."""

    def single_save():
        Client.objects.create(name=uuid.uuid4().hex)

    def thousand_saves():
        with transaction.atomic():
            for _ in range(1000):
                Client.objects.create(name=uuid.uuid4().hex)

    def bulk_create():
        with transaction.atomic():
            Client.objects.bulk_create([Client(name=uuid.uuid4().hex) for _ in range(10_000)])

    cases = [
        ("one save (autocommit)", single_save, 200),
        ("1,000 saves in one transaction", thousand_saves, 1),
        ("one bulk_create of 10,000 rows in one transaction", bulk_create, 1),
    ]
    watches = invalidation.watches_for(Client)
    results = []
    for name, fn, calls in cases:
        with_outbox = median_per_call(fn, calls=calls, rounds=rounds)
        rows = InvalidationOutbox.objects.count()
        clear_outbox()
        invalidation.unwatch_model(Client)
        set_trigger(False)
        try:
            without = median_per_call(fn, calls=calls, rounds=rounds)
            assert InvalidationOutbox.objects.count() == 0
        finally:
            set_trigger(True)
            for watch in watches:
                invalidation.watch_model(Client, watch.namespaces, scope=watch.scope)
        Client.objects.all()._raw_delete(connection.alias)
        per_transaction = rows / (calls * rounds + 1)  # median_per_call warms up with one call
        results.append((f"{name} ({per_transaction:g} outbox rows per transaction)", with_outbox, without))
    return results


def eviction_latency(namespace: str, samples: int) -> list[float]:
    """Return seconds from the start of a committing write to a peer process's L1 entry being gone."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER, namespace], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    latencies = []
    try:
        for _ in range(samples + 1):
            peer.stdin.write("go\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "filled"
            sent = time.perf_counter_ns()  # CLOCK_MONOTONIC: comparable across processes on Linux
            with transaction.atomic():
                invalidation.invalidate(namespace)
            seen = int(peer.stdout.readline())
            latencies.append((seen - sent) / 1e9)
    finally:
        peer.kill()
        peer.wait(5)
    return latencies[1:]  # the first round warms the peer up


def relay_throughput(keys: int) -> tuple[float, int]:
    """Return (keys applied per second, rows) for ``keys`` distinct scopes drained by one relay."""
    clear_outbox()
    with transaction.atomic():
        for user in range(keys):
            invalidation.invalidate(SCOPED, f"user:{user}")
    rows = InvalidationOutbox.objects.count()
    start = time.perf_counter()
    applied = relay.Relay().drain()
    elapsed = time.perf_counter() - start
    assert applied == keys and InvalidationOutbox.objects.count() == 0, (applied, keys)
    return keys / elapsed, rows


def burst(writes: int) -> tuple[int, float, float]:
    """Single-row transactions on one namespace while the relay thread runs.

    Returns (largest outbox size seen, seconds the burst took, seconds from its end until the
    outbox was empty).
    """
    clear_outbox()
    relay.set_manual(False)
    biggest = 0
    start = time.perf_counter()
    for i in range(writes):
        with transaction.atomic():
            invalidation.invalidate(DEFAULT)
        if i % 50 == 0:
            biggest = max(biggest, InvalidationOutbox.objects.count())
    took = time.perf_counter() - start
    end = time.perf_counter()
    while InvalidationOutbox.objects.exists():
        time.sleep(0.01)
    drained = time.perf_counter() - end
    relay.set_manual(True)
    return biggest, took, drained


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--samples", type=int, default=200, help="commit-to-eviction rounds, debounce 0")
    parser.add_argument("--default-samples", type=int, default=8, help="rounds with the default debounce")
    parser.add_argument("--keys", type=int, default=5000, help="distinct keys for the relay throughput")
    parser.add_argument("--burst", type=int, default=2000, help="single-row transactions in the burst")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "invalidation.md"))
    args = parser.parse_args()

    register_namespace(Namespace(name=NOW, l1_ttl=300, l2_ttl=300, debounce=0, max_wait=0))
    register_namespace(Namespace(name=DEFAULT, l1_ttl=300, l2_ttl=300))
    register_namespace(
        Namespace(name=SCOPED, params=("user",), scope=lambda p: f"user:{p['user']}", l1_ttl=300, l2_ttl=300)
    )
    relay.set_manual(True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        writes = write_costs(args.rounds)
        latency_now = latency_default = None
        if coherence.redis_client() is not None:
            coherence.ensure_started()
            latency_now = eviction_latency(NOW, args.samples)
            relay.set_manual(False)
            latency_default = eviction_latency(DEFAULT, args.default_samples)
            relay.set_manual(True)
        throughput, rows = relay_throughput(args.keys)
        biggest, took, drained = burst(args.burst)
    finally:
        relay.set_manual(True)
        connection.creation.destroy_test_db(old_name, verbosity=0)
    tiers.l1_clear()

    l2 = "Redis (django-redis)" if settings.REDIS_URL else "local memory (REDIS_URL unset)"
    env = []
    if os.environ.get("DATABASE_URL"):
        env.append(f"DATABASE_URL={os.environ['DATABASE_URL']}")
    if settings.REDIS_URL:
        env.append(f"REDIS_URL={settings.REDIS_URL}")
    lines = [
        "# cachecore: cost of durable invalidation",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} / Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs shared with other jobs; database: "
        f"{connection.vendor}; L2: {l2}. Medians over {args.rounds} rounds, side by side in one run.",
        "",
        "Command:",
        "",
        "```",
        f"{' '.join(env)} .venv/bin/python benchmarks/invalidation_bench.py".strip(),
        "```",
        "",
        "## Write path, per transaction (trackers.Client: two watched namespaces)",
        "",
        "| transaction | with the outbox | without | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {with_ * 1e3:.3f} ms | {without * 1e3:.3f} ms | {with_ / without:.2f}x |"
        for name, with_, without in writes
    ]
    lines += ["", "## From a committing write to the eviction in another process", ""]
    if latency_now is None:
        lines.append("Not measured: needs Redis (REDIS_URL).")
    else:
        for label, values in (("debounce 0", latency_now), ("default debounce (2 s)", latency_default)):
            lines.append(
                f"- {label}, {len(values)} rounds: p50 {statistics.median(values) * 1e3:.2f} ms, "
                f"p99 {percentile(values, 0.99) * 1e3:.2f} ms, max {max(values) * 1e3:.2f} ms"
            )
    lines += [
        "",
        "## Relay",
        "",
        f"- throughput: {args.keys} distinct keys ({rows} rows) drained by one relay at {throughput:,.0f} keys/s",
        f"- burst: {args.burst} single-row transactions on one namespace in {took:.2f} s with the relay "
        f"thread running: at most {biggest} rows in the outbox; empty {drained:.2f} s after the burst "
        "(the last rows wait for their debounce)",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
