"""Another process on a Sentinel-managed Redis, for the failover test (driven over stdin/stdout).

Usage: python cachecore/tests/sentinel_peer.py NAMESPACE
Its settings come from the environment (REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_SERVICE).
Prints ``ready`` once subscribed with the namespace's value in L1; then, after a line on stdin
(``failover``), waits until its subscriber has reconnected (to the new master), fills L1 again and
prints ``resubscribed <json>``; then waits for an eviction of the namespace and prints ``evicted <json>``
(the messages received meanwhile, and whether L1 was dropped whole instead).
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from cachecore import coherence, tiers  # noqa: E402
from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from cachecore.service import get_or_compute  # noqa: E402


def wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            print(f"timeout: {what} {json.dumps(coherence.info())}", flush=True)
            sys.exit(2)
        time.sleep(0.01)


def fill(name: str) -> None:
    get_or_compute(name, {}, lambda: f"peer value {time.monotonic()}")
    wait(lambda: tiers.l1.entries_by_namespace().get(name), 5, "L1 fill")


def main() -> None:
    name = sys.argv[1]
    register_namespace(Namespace(name=name, l1_ttl=300, l2_ttl=300))
    subscriber = coherence.ensure_started()
    wait(lambda: subscriber is not None and subscriber.connected.is_set(), 10, "subscription")
    fill(name)
    print("ready", flush=True)
    sys.stdin.readline()  # the master is being killed now
    wait(lambda: subscriber.connects >= 2 and subscriber.connected.is_set(), 30, "resubscription")
    fill(name)
    info = {"drops": subscriber.drops, "connects": subscriber.connects, "port": subscriber.master[1]}
    events, drops = subscriber.events, dict(subscriber.drops)
    print("resubscribed " + json.dumps(info), flush=True)
    wait(lambda: not tiers.l1.entries_by_namespace().get(name), 20, "eviction")
    # By a message, not by a drop of the whole L1: the test checks both figures.
    print(
        "evicted " + json.dumps({"events": subscriber.events - events, "new_drops": subscriber.drops != drops}),
        flush=True,
    )


if __name__ == "__main__":
    main()
