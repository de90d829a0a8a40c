"""A separate process for the cluster single-flight test: N threads miss one key at once.

Usage: python cachecore/tests/cluster_worker.py NAMESPACE PROCESSES THREADS
Prints a JSON list of the values its threads got. Counts its compute() runs in Redis.
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from django_redis import get_redis_connection  # noqa: E402

from cachecore.namespaces import Namespace, register_namespace  # noqa: E402
from cachecore.service import get_or_compute  # noqa: E402


def main() -> None:
    name, processes, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    register_namespace(Namespace(name, params=("k",), l1_ttl=60, l2_ttl=60))
    redis = get_redis_connection("default")

    def compute():
        redis.incr(f"{name}:computes")
        time.sleep(0.5)
        return {"computed_by": os.getpid()}

    # A barrier across processes: everyone starts missing the key at the same moment.
    redis.incr(f"{name}:ready")
    deadline = time.time() + 60
    while int(redis.get(f"{name}:ready") or 0) < processes and time.time() < deadline:
        time.sleep(0.01)

    results = []
    barrier = threading.Barrier(threads)

    def work():
        barrier.wait()
        value, info = get_or_compute(name, {"k": 1}, compute)
        results.append(value["computed_by"])

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
