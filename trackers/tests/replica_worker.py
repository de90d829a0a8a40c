"""The tracker API of a process on a private primary + lagging streaming replica (tests/pg_replica.py).

Usage: python trackers/tests/replica_worker.py SECONDS (environment from
``ReplicaCluster.django_env()``). A staff user reads one tracker through ``GET /api/trackers/``
and ``GET /api/trackers/<id>/``; the tracker is renamed on the primary and the invalidation
applied; then for SECONDS the same user reads new list pages (each one a computation), the page
cached before the rename and the detail. Prints one JSON object: reads that served the old
name, statuses, and where the list's computations ran.
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

from django.test import Client  # noqa: E402

from cachecore import stats  # noqa: E402
from cachecore.api import flush_pending, replica_reads  # noqa: E402
from tests.factories import make_dataset, make_user  # noqa: E402
from trackers.models import Tracker  # noqa: E402
from trackers.namespaces import TRACKER_DETAIL, TRACKER_LIST  # noqa: E402


def wait_on_replica(tracker_id: int, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with replica_reads():
            if Tracker.objects.filter(pk=tracker_id, name=name).exists():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"the replica never showed tracker {tracker_id} named {name!r}")
        time.sleep(0.05)


def main() -> None:
    seconds = float(sys.argv[1])
    tag = uuid.uuid4().hex[:8]
    tracker = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, prefix=tag).trackers[0]
    client = Client()
    client.force_login(make_user(f"staff-{tag}", staff=True))
    before, after = tracker.name, f"{tracker.name} renamed"
    flush_pending()
    wait_on_replica(tracker.pk, before)

    def names(size: int) -> tuple[int, str | None]:
        response = client.get("/api/trackers/", {"search": tracker.serial, "size": size})
        items = response.json().get("items", []) if response.status_code == 200 else []
        return response.status_code, items[0]["name"] if items else None

    def detail() -> tuple[int, str | None]:
        response = client.get(f"/api/trackers/{tracker.pk}/")
        return response.status_code, response.json().get("name") if response.status_code == 200 else None

    warmed = [names(1)[1], detail()[1]]
    stats.reset()
    tracker.name = after
    tracker.save()
    flush_pending()  # applied: from here on no read may serve the old name
    applied = time.monotonic()
    with replica_reads():
        replica_right_after = Tracker.objects.get(pk=tracker.pk).name
    reads, size = [], 1
    while time.monotonic() - applied < seconds:
        size += 1
        reads += [names(size), names(1), detail()]
        time.sleep(0.05)
    outcomes = {}
    for key, value in stats.totals().items():
        if key[0] == "replica" and key[1] in (TRACKER_LIST, TRACKER_DETAIL):
            outcomes[f"{key[1]}:{key[2]}"] = value
    print(
        json.dumps(
            {
                "warmed": warmed,
                "before": before,
                "after": after,
                "replica_right_after_write": replica_right_after,
                "reads": len(reads),
                "statuses": sorted({status for status, _ in reads}),
                "stale_reads": sum(1 for _, name in reads if name == before),
                "names": sorted({str(name) for _, name in reads}),
                "outcomes": outcomes,
            }
        )
    )


if __name__ == "__main__":
    main()
