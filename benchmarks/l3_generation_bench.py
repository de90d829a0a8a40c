"""Cost of the durable-generation check on an L3 hit: the row SELECT alone vs with the check.

The check is two scalar subqueries on CacheGeneration's unique (namespace, scope) index inside the
row's own SELECT (no extra round trip). This measures the row query before (plain SELECT) and
after (with the subqueries), and a whole L3 hit through get_or_compute (L1 and L2 off for the
namespace, so every call reads the cache table).

Run on a scratch database only (the script creates the two cachecore tables if missing and
writes one namespace's rows):

    .venv/bin/python benchmarks/l3_generation_bench.py --sqlite /tmp/l3bench.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch db> .venv/bin/python benchmarks/l3_generation_bench.py

Each figure is the median over ROUNDS rounds of the mean seconds per call of CALLS calls.
"""

import argparse
import os
from datetime import UTC, datetime

import bootstrap
from timing import median_per_call

ROOT = bootstrap.setup(
    PROMETHEUS_MIDDLEWARE="0",
)
os.environ.pop("REDIS_URL", None)  # L2 is off for the namespace anyway; keep the run self-contained

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--sqlite", help="SQLite file to use instead of DATABASE_URL")
parser.add_argument("--calls", type=int, default=500)
parser.add_argument("--rounds", type=int, default=15)
args = parser.parse_args()
if args.sqlite:
    os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if args.sqlite:
    settings.DATABASES["default"]["NAME"] = args.sqlite
django.setup()

from django.db import connection  # noqa: E402

from cachecore import generations, keys, tiers  # noqa: E402
from cachecore.models import CacheEntry, CacheGeneration  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from cachecore.service import get_or_compute  # noqa: E402

NAMESPACE = "bench.l3gen"
VALUE = {"items": [{"id": i, "name": f"item {i}"} for i in range(20)]}


def measure(fn) -> float:
    return median_per_call(fn, calls=args.calls, rounds=args.rounds)


def main() -> None:
    existing = connection.introspection.table_names()
    with connection.schema_editor() as editor:
        for model in (CacheEntry, CacheGeneration):
            if model._meta.db_table not in existing:
                editor.create_model(model)
    CacheEntry.objects.filter(namespace=NAMESPACE).delete()
    CacheGeneration.objects.filter(namespace=NAMESPACE).delete()
    register_namespace(
        Namespace(
            NAMESPACE, params=("user_id",), scope=lambda p: f"user:{p['user_id']}", l1_ttl=0, l2_ttl=0, persistent=True
        )
    )
    for user_id in range(1, 201):  # some neighbours in both tables
        generations.bump_generation(NAMESPACE, f"user:{user_id}")
        get_or_compute(NAMESPACE, {"user_id": user_id}, VALUE.copy)
    canon = keys.canonical_params(tiers_ns(), {"user_id": 7})
    key_hash = keys.param_hash(canon)
    now = datetime.now(UTC)
    assert get_or_compute(NAMESPACE, {"user_id": 7}, VALUE.copy)[1].tier == "l3"

    def plain_select():
        return (
            CacheEntry.objects.filter(namespace=NAMESPACE, key_hash=key_hash, expires_at__gt=now)
            .values_list("pk", "generation", "payload", "created_at", "expires_at")
            .first()
        )

    def checked_select():
        return tiers.l3_get(NAMESPACE, key_hash, "user:7", now)

    rows = [
        ("row SELECT alone (before)", measure(plain_select)),
        ("row SELECT with the durable-generation check (after)", measure(checked_select)),
        ("whole L3 hit through get_or_compute", measure(lambda: get_or_compute(NAMESPACE, {"user_id": 7}, VALUE.copy))),
    ]
    engine = "PostgreSQL" if settings.IS_POSTGRES else "SQLite file"
    print(f"{engine}; median over {args.rounds} rounds of the mean per call ({args.calls} calls per round)")
    base = rows[0][1]
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e6:.0f} µs | {seconds / base:.2f}x |")
    CacheEntry.objects.filter(namespace=NAMESPACE).delete()


def tiers_ns():
    from cachecore.namespaces import get_namespace

    return get_namespace(NAMESPACE)


if __name__ == "__main__":
    main()
