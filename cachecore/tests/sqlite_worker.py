"""A separate process on the embedded default (SQLite file, local-memory L2) for the L3 tests.

Usage: python cachecore/tests/sqlite_worker.py DB_PATH ACTION VALUE
ACTION: ``read`` (get_or_compute with a compute returning VALUE), ``invalidate``,
``commit-and-die`` (commit an invalidation, then SIGKILL itself before its relay applies it),
``relay`` (run the relay command for VALUE seconds), ``hits`` (VALUE reads, then exit: the access
counts are flushed at exit) or ``accesses`` (the row's access count).
Prints a JSON object: the value and tier read, or what was invalidated.
"""

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
for name in ("DATABASE_URL", "REDIS_URL"):  # the embedded default, whatever the parent runs on
    os.environ.pop(name, None)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

NAMESPACE = "test.sqlite_worker"


def main() -> None:
    db_path, action, value = sys.argv[1], sys.argv[2], sys.argv[3]
    settings.DATABASES["default"]["NAME"] = db_path
    django.setup()
    from django.db import connection

    from cachecore.invalidation import invalidate_now
    from cachecore.models import CacheEntry, CacheGeneration, InvalidationOutbox
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    existing = connection.introspection.table_names()
    with connection.schema_editor() as editor:
        for model in (CacheEntry, CacheGeneration, InvalidationOutbox):
            if model._meta.db_table not in existing:
                editor.create_model(model)
    register_namespace(
        Namespace(
            NAMESPACE,
            params=("user_id",),
            scope=lambda p: f"user:{p['user_id']}",
            l1_ttl=60,
            l2_ttl=60,
            l3_ttl=600,
            persistent=True,
            debounce=0.5,
            max_wait=0.5,
        )
    )
    if action == "read":
        got, info = get_or_compute(NAMESPACE, {"user_id": 1}, lambda: value)
        print(json.dumps({"value": got, "tier": info.tier}))
    elif action == "hits":
        tiers = [get_or_compute(NAMESPACE, {"user_id": 1}, lambda: "hit")[1].tier for _ in range(int(value))]
        print(json.dumps({"tiers": tiers}))  # the pending hits are flushed by the atexit hook
    elif action == "accesses":
        print(json.dumps({"access_count": CacheEntry.objects.get(namespace=NAMESPACE).access_count}))
    elif action == "invalidate":
        invalidate_now(NAMESPACE, "user:1", source="command")
        print(json.dumps({"invalidated": NAMESPACE, "rows": CacheEntry.objects.count()}))
    elif action == "commit-and-die":
        from django.db import transaction

        from cachecore.invalidation import invalidate

        with transaction.atomic():
            invalidate(NAMESPACE, "user:1", source="signal")
        print(json.dumps({"committed": InvalidationOutbox.objects.count()}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # inside the debounce window: nothing applied it yet
    elif action == "relay":
        from django.core.management import call_command

        call_command("cache_relay", max_seconds=float(value))
        print(json.dumps({"pending": InvalidationOutbox.objects.count(), "rows": CacheEntry.objects.count()}))
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main()
