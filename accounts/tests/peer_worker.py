"""A second server process for the cross-process revocation tests.

Usage: python accounts/tests/peer_worker.py DB_NAME
Reads one JSON request per line on stdin (``{"url": ..., "session": ...}``), serves it through the
whole Django stack with that session cookie, and prints ``{"status", "queries", "body"}``.
``{"deafen": true}`` makes it ignore pub/sub evictions from then on (prints ``{"deaf": true}``).
It uses the parent's test database (DB_NAME) and the same Redis, like another gunicorn worker.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def main() -> None:
    settings.DATABASES["default"]["NAME"] = sys.argv[1]
    django.setup()
    from django.test import Client

    from tests.helpers import QueryCounter

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("deafen"):
            # From now on this process hears no pub/sub eviction (as if every message were late):
            # only the checks against Redis's generations can retire its L1 copies.
            from cachecore import coherence

            coherence.ensure_started()._on_event = lambda body: False
            print(json.dumps({"deaf": True}), flush=True)
            continue
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = request["session"]
        with QueryCounter() as q:
            response = client.get(request["url"])
        body = response.json() if response["Content-Type"].startswith("application/json") else None
        print(json.dumps({"status": response.status_code, "queries": len(q), "body": body}), flush=True)


if __name__ == "__main__":
    main()
