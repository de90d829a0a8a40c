"""Redis Sentinel: the engine on a Sentinel-managed Redis, and a failover (SIGKILL of the master).

Each test starts its own topology (tests/sentinel_topology.py: a master, a replica, three
Sentinels on free loopback ports) and points a cache alias ``sentinel`` at it, configured as
config/settings.py does with REDIS_SENTINELS. Only redis-server is needed, so both halves run it.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from cachecore import coherence, tiers
from cachecore.invalidation import flush_pending, invalidate, invalidate_now
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import pending_keys, temporary_namespace
from tests.sentinel_topology import SentinelTopology

PREFIX = "cwsentinel"
CHANNEL = f"{PREFIX}:cachecore:invalidate"
PEER = Path(__file__).with_name("sentinel_peer.py")


@pytest.fixture
def topology(tmp_path):
    topology = SentinelTopology(tmp_path).start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture
def sentinel_l2(topology, settings):
    """The engine's L2 (alias ``sentinel``) on the topology, as REDIS_SENTINELS configures it."""
    settings.CACHES = {
        **settings.CACHES,
        "sentinel": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": topology.url(0),
            "KEY_PREFIX": PREFIX,
            "OPTIONS": topology.cache_options(timeout=0.3),
        },
    }
    settings.CACHECORE_CACHE_ALIAS = "sentinel"
    settings.CACHECORE_CHANNEL = CHANNEL
    settings.CACHECORE_BREAKER_COOLDOWN = 0.5
    settings.CACHECORE_REDIS_WAIT_REPLICAS = 1  # as config/settings.py sets it with REDIS_SENTINELS
    coherence.stop()
    try:
        yield topology
    finally:
        coherence.stop()
        from django.core.cache import caches

        caches["sentinel"].close()


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def master_keys(topology) -> list[bytes]:
    return topology.master_client().keys(f"{PREFIX}:*")


@pytest.mark.django_db
def test_the_cache_works_through_the_sentinels(sentinel_l2):
    with temporary_namespace("test.sentinel.basic", l1_ttl=300, l2_ttl=300):
        assert get_or_compute("test.sentinel.basic", {}, lambda: "v")[1].tier == "miss"
        tiers.l1_clear()
        value, info = get_or_compute("test.sentinel.basic", {}, lambda: "other")
        assert (value, info.tier) == ("v", "l2")  # read back from the master
    assert master_keys(sentinel_l2)  # the values live on the master the Sentinels name
    subscriber = coherence.ensure_started()
    assert subscriber.connected.wait(5) and coherence.is_coherent()


@pytest.mark.django_db(transaction=True)
def test_a_failover_is_followed_by_l2_the_subscriber_and_the_outbox(sentinel_l2):
    topology = sentinel_l2
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "CACHE_KEY_PREFIX": PREFIX}
    env.update(topology.env(0), CACHECORE_CHANNEL=CHANNEL, REDIS_CONNECT_TIMEOUT="0.3", REDIS_SOCKET_TIMEOUT="0.3")
    peer = subprocess.Popen(
        [sys.executable, str(PEER), "test.sentinel.peer"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with (
        temporary_namespace("test.sentinel.peer", l1_ttl=300, l2_ttl=300, debounce=0),
        temporary_namespace("test.sentinel.outbox", l1_ttl=300, l2_ttl=300, debounce=0),
    ):
        try:
            subscriber = coherence.ensure_started()
            assert subscriber.connected.wait(5)
            assert get_or_compute("test.sentinel.outbox", {}, lambda: "old")[0] == "old"
            assert peer.stdout.readline().strip() == "ready", peer.stderr.read()
            topology.master_client().execute_command("WAIT", 1, 2000)  # the replica has all of it

            old_port = topology.kill_master()
            peer.stdin.write("failover\n")
            peer.stdin.flush()
            # Committed while no master exists: applied by the committing thread it fails, the row stays.
            with transaction.atomic():
                invalidate("test.sentinel.outbox")
            assert pending_keys() == {("test.sentinel.outbox", None)}
            new_port = topology.wait_for_failover(old_port)

            # The relay applies the row on the new master (retrying until the client finds it).
            assert wait_until(lambda: (flush_pending(), pending_keys())[1] == set(), timeout=15)
            tiers.l1_clear()
            assert get_or_compute("test.sentinel.outbox", {}, lambda: "new")[0] == "new"
            assert master_keys(topology)  # L2 reads and writes go to the new master
            assert topology.master_address()[1] == new_port

            # This process's subscriber went through the drop path and follows the new master.
            assert wait_until(lambda: subscriber.connects >= 2 and subscriber.connected.is_set(), timeout=20)
            assert subscriber.drops.get("disconnected", 0) >= 1 and subscriber.drops["connect"] >= 2
            assert subscriber.master == ("127.0.0.1", new_port) and subscriber.master_changes == 1
            line = peer.stdout.readline().strip()
            assert line.startswith("resubscribed "), line + peer.stderr.read()
            resubscribed = json.loads(line.split(" ", 1)[1])
            assert resubscribed["port"] == new_port
            assert resubscribed["drops"].get("disconnected", 0) >= 1

            # An eviction published after the failover reaches the other process's L1.
            assert invalidate_now("test.sentinel.peer") is True
            line = peer.stdout.readline().strip()
            assert line.startswith("evicted "), line + peer.stderr.read()
            evicted = json.loads(line.split(" ", 1)[1])
            assert evicted["events"] >= 1 and evicted["new_drops"] is False
            assert peer.wait(10) == 0
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait(5)


@pytest.mark.django_db(transaction=True)
def test_an_invalidation_is_kept_until_the_replica_has_it(sentinel_l2):
    """Deleting the row before the replica has the bump would let a failover bring the old value back."""
    topology = sentinel_l2
    with temporary_namespace("test.sentinel.wait", l1_ttl=300, l2_ttl=300, debounce=0):
        assert get_or_compute("test.sentinel.wait", {}, lambda: "old")[0] == "old"
        topology.freeze(topology.replica_port)  # connected, but acknowledges nothing
        try:
            with transaction.atomic():
                invalidate("test.sentinel.wait")
            assert pending_keys() == {("test.sentinel.wait", None)}  # bumped on the master, not yet safe
            tiers.l1_clear()
            assert get_or_compute("test.sentinel.wait", {}, lambda: "new")[0] == "new"  # the master has the bump
        finally:
            topology.thaw(topology.replica_port)
        assert wait_until(lambda: (flush_pending(), pending_keys())[1] == set(), timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_full_master_still_retires_without_waiting(sentinel_l2):
    """Redis full with noeviction: the bump deletes the old generation, and the fence is not retried forever."""
    master = sentinel_l2.master_client()
    with temporary_namespace("test.sentinel.full", l1_ttl=300, l2_ttl=300, debounce=0):
        assert get_or_compute("test.sentinel.full", {}, lambda: "old")[0] == "old"
        master.config_set("maxmemory-policy", "noeviction")
        master.config_set("maxmemory", "1")
        assert invalidate_now("test.sentinel.full") is True
        assert pending_keys() == set()
        tiers.l1_clear()
        assert get_or_compute("test.sentinel.full", {}, lambda: "new")[0] == "new"


@pytest.mark.django_db(transaction=True)
def test_a_planned_switchover_moves_the_subscriber_and_retires_l2(sentinel_l2):
    """SENTINEL FAILOVER leaves the old master writable for seconds: follow the Sentinels, not the socket."""
    topology = sentinel_l2
    with temporary_namespace("test.sentinel.switch", l1_ttl=300, l2_ttl=300):
        subscriber = coherence.ensure_started()
        assert subscriber.connected.wait(5)
        assert get_or_compute("test.sentinel.switch", {}, lambda: "before")[0] == "before"
        topology.master_client().execute_command("WAIT", 1, 2000)
        old_port = topology.switchover()
        new_port = topology.wait_for_failover(old_port)
        # Within a few check intervals, long before the old master is reconfigured and drops its
        # clients (seconds later), the subscriber is on the new master.
        assert wait_until(lambda: subscriber.master == ("127.0.0.1", new_port), timeout=3)
        assert subscriber.master_changes == 1
        # The epoch was bumped on the new master: what was cached before is retired (it might
        # have missed a bump made on the old master after the promotion).
        tiers.l1_clear()
        assert get_or_compute("test.sentinel.switch", {}, lambda: "after")[0] == "after"
