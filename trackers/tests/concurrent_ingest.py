"""A separate process: threads posting location reports at once to the embedded default (SQLite file).

Usage: ``concurrent_ingest.py <sqlite file> <threads> <requests per thread>``. Prints one JSON
object: ``{"status": {code: count}, "errors": {exception class: count}}``. Run by
``test_ingest.py`` in a subprocess so that it gets a SQLite *file* (the suite's own SQLite test
database is in memory) with the project's own SQLite options.
"""

import json
import os
import random
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)  # the embedded default, whatever the suite runs on
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.live_server_settings"
os.environ["LIVE_SERVER_SQLITE"] = sys.argv[1]

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("migrate", verbosity=0)
call_command("seed_demo_data", "--trackers", "30", "--history", "1", "--users", "1", verbosity=0)

from trackers.models import Tracker  # noqa: E402

user = get_user_model().objects.create(username="ingest-ops", is_staff=True, is_superuser=True)
serials = list(Tracker.objects.values_list("serial", flat=True))
threads, per_thread = int(sys.argv[2]), int(sys.argv[3])
found = {"status": {}, "errors": {}}
lock = threading.Lock()


def post_reports(n: int) -> None:
    client = Client()
    client.force_login(user)
    rng = random.Random(n)
    for i in range(per_thread):
        reports = [
            {
                "serial": rng.choice(serials),
                "timestamp": f"2026-11-{1 + n:02d}T{i % 24:02d}:{rng.randrange(60):02d}:{j:02d}Z",
                "latitude": 1.0,
                "longitude": 2.0,
            }
            for j in range(5)
        ]
        try:
            key, kind = (
                str(client.post("/api/location-reports/", {"reports": reports}, "application/json").status_code),
                "status",
            )
        except Exception as exc:  # noqa: BLE001 - counted: the test asserts there are none
            key, kind = type(exc).__name__, "errors"
        with lock:
            found[kind][key] = found[kind].get(key, 0) + 1


workers = [threading.Thread(target=post_reports, args=(n,)) for n in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps(found))
