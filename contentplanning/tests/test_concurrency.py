"""Concurrent first loads of one user's data call the AI provider once (single-flight)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from contentplanning.services import comprehensive_user_data

# Threads use their own connections, so the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_concurrent_misses_compute_once(alice, provider):
    gate = threading.Barrier(20)
    release = threading.Event()
    inner = provider.inner.analyse

    def slow_analyse(context):
        release.wait(5)  # hold the leader inside compute() until every caller has arrived
        return inner(context)

    provider.inner.analyse = slow_analyse

    def load(_):
        try:
            gate.wait(5)
            return comprehensive_user_data(user=alice)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(load, n) for n in range(20)]
        # Give the other callers a moment to queue behind the leader (no assertion on time).
        threading.Timer(0.3, release.set).start()
        results = [f.result(timeout=15) for f in futures]
    assert provider.calls == 1
    assert len({r[0]["generated_at"] for r in results}) == 1  # everyone got the one computation
