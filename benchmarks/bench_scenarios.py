"""The multi-thread and multi-process scenarios of ``make bench`` (see make_bench.py).

- stampede: N concurrent requests on a cold tracker page: how many computations, the waiters' p99;
- invalidation: a committed write here to the eviction of an L1 entry in another process;
- throughput: gunicorn (2 workers) on loopback driven by ``wrk`` for a fixed time per URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def stampede(session: str, url: str, *, requests: int, invalidate, computes) -> dict:
    """Fire ``requests`` concurrent GETs on a just-invalidated page; count computations."""
    from django.db import connections
    from django.test import Client

    invalidate()
    before = computes()
    barrier = threading.Barrier(requests)
    latencies, statuses = [], []

    def one():
        client = Client()
        client.cookies["sessionid"] = session
        barrier.wait()
        started = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.append(response.status_code)
        connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return {
        "requests": requests,
        "computations": computes() - before,
        "all_200": all(s == 200 for s in statuses) and len(statuses) == requests,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


PEER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    import django
    django.setup()
    from cachecore import coherence, tiers
    from trackers import selectors
    from trackers.namespaces import REFERENCE
    name = REFERENCE["brands"]
    subscriber = coherence.ensure_started()
    if subscriber is None or not subscriber.connected.wait(10):
        print(json.dumps({"error": "no subscriber (Redis needed)"}), flush=True)
        sys.exit(1)
    for line in sys.stdin:
        selectors.reference_rows("brands")
        assert tiers.l1.entries_by_namespace().get(name), "not in L1"
        print(json.dumps({"ready": True}), flush=True)
        deadline = time.monotonic() + 10
        while tiers.l1.entries_by_namespace().get(name) and time.monotonic() < deadline:
            time.sleep(0.0002)
        print(json.dumps({"evicted_at": time.time()}), flush=True)
    """
)


def invalidation_latency(samples: int) -> dict:
    """Return p50/p99 ms from a committed brand write here to the brands list gone from another process's L1."""
    from django.conf import settings
    from django.test import override_settings

    from trackers.models import Brand

    if not settings.REDIS_URL:
        return {"skipped": "needs REDIS_URL (cross-process eviction goes over Redis pub/sub)"}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CACHECORE_DEBOUNCE_SECONDS": "0"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER, str(ROOT)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    brand = Brand.objects.order_by("id").first()
    latencies = []
    try:
        for i in range(samples):
            peer.stdin.write("go\n")
            peer.stdin.flush()
            assert json.loads(peer.stdout.readline()).get("ready"), "peer not ready"
            brand.name = brand.name.rstrip("*") + ("*" if i % 2 == 0 else "")
            written = time.time()
            with override_settings(CACHECORE_DEBOUNCE_SECONDS=0):
                brand.save(update_fields=["name"])  # autocommit: the invalidation fires at this commit
            evicted = json.loads(peer.stdout.readline())["evicted_at"]
            latencies.append((evicted - written) * 1000)
    finally:
        peer.stdin.close()
        peer.wait(10)
        brand.name = brand.name.rstrip("*")
        with override_settings(CACHECORE_DEBOUNCE_SECONDS=0):
            brand.save(update_fields=["name"])
    return {
        "samples": samples,
        "debounce_s": 0,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throughput(session: str, urls: dict[str, str], *, seconds: int, database_url: str) -> dict:
    """Run gunicorn with 2 workers on loopback and ``wrk`` for ``seconds`` per URL, URLs interleaved."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECURE_SSL": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "benchmarks.floor_wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    results = {}
    try:
        _wait_for(port)
        for url in urls.values():  # warm both workers' caches and connections
            cmd = [wrk, "-t1", "-c2", "-d1s", "-H", f"Cookie: sessionid={session}", f"http://127.0.0.1:{port}{url}"]
            subprocess.run(cmd, capture_output=True, check=True)
        for name, url in urls.items():
            out = subprocess.run(
                [
                    wrk,
                    "-t2",
                    "-c8",
                    f"-d{seconds}s",
                    "--latency",
                    "-H",
                    f"Cookie: sessionid={session}",
                    f"http://127.0.0.1:{port}{url}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results[name] = _parse_wrk(out)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 3)


def _parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "requests_per_s": rps,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }
