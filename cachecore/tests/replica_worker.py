"""A process of the project on a private primary + streaming replica (tests/pg_replica.py).

Usage: python cachecore/tests/replica_worker.py SCENARIO [SECONDS]
(environment from ``ReplicaCluster.django_env()``). Prints one JSON object, the last line.

- ``routing``: where the router sends plain reads, cache computations, marked selectors, reads
  inside a transaction, the engine's and auth's tables, writes.
- ``lag``: an owner's name is cached, the name is changed on the primary and its invalidation
  applied; then for SECONDS reads of new keys (each one a computation) and of the key cached
  before the write. Reports reads that served the old name, and where each computation ran.
- ``lag-unguarded``: the same with the replica rule switched off (the recorded position read as
  "no invalidation"): the negative control, which must serve the old name from the replica.
- ``unavailable``: the replica URL names a closed port: computations run on the primary.
- ``read-your-write``: a write, then cached reads of the key cached before and of new keys, and
  a read inside a transaction that wrote, while the replica lags.
- ``error``: the replica's backend is terminated during a computation: it runs again on the
  primary, and the next one uses the replica again.
"""

import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import router, transaction  # noqa: E402

from cachecore import stats, wal  # noqa: E402
from cachecore.api import (  # noqa: E402
    Namespace,
    flush_pending,
    get_or_compute,
    register_namespace,
    replica_reads,
    watch_model,
)
from cachecore.models import CacheGeneration  # noqa: E402
from cachecore.tests.testapp.models import Owner  # noqa: E402

NAMESPACES = ("test.replica", "test.replica_l3")
for _name in NAMESPACES:
    register_namespace(
        Namespace(
            _name,
            params=("owner_id", "variant"),
            scope=lambda p: f"owner:{p['owner_id']}",
            l1_ttl=60,
            l2_ttl=60,
            l3_ttl=600 if _name.endswith("l3") else 0,
            persistent=_name.endswith("l3"),
            debounce=0,
            max_wait=0,
        )
    )
watch_model(Owner, list(NAMESPACES), scope=lambda owner: f"owner:{owner.pk}")


def owner_name(owner_id: int) -> dict:
    """The computation: the owner's name, and the database alias its read used."""
    rows = Owner.objects.filter(pk=owner_id)
    return {"name": rows.values_list("name", flat=True).first(), "db": rows.db}


def read(namespace: str, owner_id: int, variant: int) -> dict:
    value, info = get_or_compute(namespace, {"owner_id": owner_id, "variant": variant}, lambda: owner_name(owner_id))
    return {**value, "tier": info.tier}


def wait_on_replica(owner_id: int, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with replica_reads():
            if Owner.objects.filter(pk=owner_id, name=name).exists():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"the replica never showed owner {owner_id} named {name!r}")
        time.sleep(0.05)


def outcomes() -> dict:
    found: dict = {}
    for key, value in stats.totals().items():
        if key[0] == "replica":
            found[key[2]] = found.get(key[2], 0) + value
    return found


def scenario_routing() -> dict:
    owner = Owner.objects.create(name=f"routing-{uuid.uuid4().hex[:8]}")
    flush_pending()
    wait_on_replica(owner.pk, owner.name)
    computed = read(NAMESPACES[0], owner.pk, 0)
    with replica_reads():
        marked = {
            "owner": Owner.objects.all().db,
            "cache_generation": CacheGeneration.objects.all().db,
            "user": User.objects.all().db,
        }
        with transaction.atomic():
            marked["owner_in_transaction"] = Owner.objects.all().db
        loaded = Owner.objects.get(pk=owner.pk)
    loaded.name = f"{owner.name}-saved"
    loaded.save()  # an instance read from the replica is written to the primary
    with transaction.atomic():
        in_transaction = read(NAMESPACES[0], owner.pk, 1)
    return {
        "plain_read": Owner.objects.all().db,
        "computed": computed,
        "marked": marked,
        "write": router.db_for_write(Owner, instance=loaded),
        "saved_on_primary": Owner.objects.filter(pk=owner.pk, name=loaded.name).exists(),
        "computed_in_transaction": in_transaction,
        "migrate_on_replica": router.allow_migrate("replica_1", "testapp"),
        "outcomes": outcomes(),
    }


def scenario_lag(seconds: float, *, guarded: bool = True) -> dict:
    if not guarded:
        wal.invalidation_lsn = lambda namespace, scope: None  # the negative control: no rule
    before, after = (f"lag-{uuid.uuid4().hex[:8]}-{state}" for state in ("before", "after"))
    owner = Owner.objects.create(name=before)
    flush_pending()
    wait_on_replica(owner.pk, before)
    warmed = [read(ns, owner.pk, 0)["name"] for ns in NAMESPACES]
    stats.reset()
    owner.name = after
    owner.save()
    flush_pending()  # the invalidation is applied: from here on no read may serve `before`
    applied = time.monotonic()
    with replica_reads():
        replica_right_after = Owner.objects.get(pk=owner.pk).name
    reads, variant = [], 0
    while time.monotonic() - applied < seconds:
        variant += 1
        for ns in NAMESPACES:
            for v in (variant, 0):  # a new key (computed) and the key cached before the write
                got = read(ns, owner.pk, v)
                reads.append({**got, "at": round(time.monotonic() - applied, 3), "new_key": v != 0})
        time.sleep(0.05)
    computed = [r for r in reads if r["tier"] == "miss"]
    on_replica = [r for r in computed if r["db"] != "default"]
    return {
        "warmed": warmed,
        "replica_right_after_write": replica_right_after,
        "before": before,
        "after": after,
        "reads": len(reads),
        "stale_reads": sum(1 for r in reads if r["name"] == before),
        "computations": len(computed),
        "on_replica": len(on_replica),
        "on_primary": len(computed) - len(on_replica),
        "first_on_replica_at": min((r["at"] for r in on_replica), default=None),
        "outcomes": outcomes(),
    }


def scenario_read_your_write() -> dict:
    """A write, then cached reads in the same flow, while the replica lags (debounce 0 namespaces)."""
    before, after, pending = (f"ryw-{uuid.uuid4().hex[:8]}-{state}" for state in ("before", "after", "pending"))
    owner = Owner.objects.create(name=before)
    flush_pending()
    wait_on_replica(owner.pk, before)
    warmed = read(NAMESPACES[0], owner.pk, 0)["name"]
    stats.reset()
    owner.name = after
    owner.save()  # debounce 0: the committing thread applies the invalidation, no relay needed
    cached_key, new_key = read(NAMESPACES[0], owner.pk, 0), read(NAMESPACES[0], owner.pk, 1)
    with transaction.atomic():
        owner.name = pending
        owner.save()
        in_transaction = read(NAMESPACES[0], owner.pk, 2)  # sees the transaction's own write
    with replica_reads():
        replica_now = Owner.objects.get(pk=owner.pk).name
    return {
        "before": before,
        "after": after,
        "pending": pending,
        "warmed": warmed,
        "cached_key": cached_key,
        "new_key": new_key,
        "in_transaction": in_transaction,
        "replica_still": replica_now,
        "outcomes": outcomes(),
    }


def scenario_error() -> dict:
    """The replica's backend is terminated in the middle of a computation (a lost connection)."""
    import psycopg
    from django.conf import settings
    from django.db import connections

    owner = Owner.objects.create(name=f"error-{uuid.uuid4().hex[:8]}")
    flush_pending()
    wait_on_replica(owner.pk, owner.name)
    runs = []

    def compute() -> dict:
        rows = Owner.objects.filter(pk=owner.pk)
        name = rows.values_list("name", flat=True).first()
        runs.append(rows.db)
        if len(runs) == 1:
            replica = settings.DATABASES["replica_1"]
            pid = connections["replica_1"].connection.info.backend_pid
            dsn = {"host": replica["HOST"], "port": replica["PORT"], "user": replica["USER"], "dbname": replica["NAME"]}
            with psycopg.connect(**dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", [pid])
            name = rows.values_list("name", flat=True).first()  # the connection is gone: raises
        return {"name": name, "db": rows.db}

    value, _ = get_or_compute(NAMESPACES[0], {"owner_id": owner.pk, "variant": 1}, compute)
    after = read(NAMESPACES[0], owner.pk, 2)
    return {"value": value, "runs": runs, "expected": owner.name, "next": after, "outcomes": outcomes()}


def scenario_unavailable() -> dict:
    owner = Owner.objects.create(name=f"down-{uuid.uuid4().hex[:8]}")
    flush_pending()
    got = [read(NAMESPACES[0], owner.pk, v) for v in range(5)]
    return {"names": sorted({r["name"] for r in got}), "dbs": sorted({r["db"] for r in got}), "expected": owner.name}


def main() -> None:
    scenario = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.5
    if scenario == "routing":
        result = scenario_routing()
    elif scenario == "lag":
        result = scenario_lag(seconds)
    elif scenario == "lag-unguarded":
        result = scenario_lag(seconds, guarded=False)
    elif scenario == "unavailable":
        result = scenario_unavailable()
    elif scenario == "error":
        result = scenario_error()
    elif scenario == "read-your-write":
        result = scenario_read_your_write()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
