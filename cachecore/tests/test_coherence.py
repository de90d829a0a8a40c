"""Cross-process L1 coherence: events, the subscriber thread, reconnects, two real processes."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from django.db import transaction

from cachecore import coherence, tiers
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock, RedisServer
from cachecore.tests.invalidation_helpers import temporary_namespace
from cachecore.tests.testapp.models import Item, Owner
from tests.services import PrivateRedisServer, free_port


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        threading.Event().wait(interval)
    return True


def foreign_event(namespace, scope=None) -> str:
    return json.dumps({"origin": "another-host:1:abc", "namespace": namespace, "scope": scope})


@pytest.fixture
def coherent_ns():
    with temporary_namespace("test.coh", l1_ttl=300, l2_ttl=300) as ns:
        yield ns.name


class TestEvents:
    def test_foreign_event_evicts_the_namespace(self, coherent_ns):
        get_or_compute(coherent_ns, {}, lambda: "v")
        assert tiers.l1.entries_by_namespace() == {coherent_ns: 1}
        assert coherence.apply_event(foreign_event(coherent_ns)) is True
        assert tiers.l1.entries_by_namespace() == {}

    def test_own_events_are_ignored(self, coherent_ns):
        get_or_compute(coherent_ns, {}, lambda: "v")
        assert coherence.apply_event(coherence.encode_event(coherent_ns)) is False
        assert tiers.l1.entries_by_namespace() == {coherent_ns: 1}

    def test_event_without_namespace_clears_everything(self, coherent_ns):
        get_or_compute(coherent_ns, {}, lambda: "v")
        coherence.apply_event(foreign_event(None))
        assert len(tiers.l1) == 0

    @pytest.mark.parametrize("raw", [b"not json", "[]", json.dumps({"origin": "x"}), "null"])
    def test_malformed_events_are_ignored(self, raw, coherent_ns):
        get_or_compute(coherent_ns, {}, lambda: "v")
        assert coherence.apply_event(raw) is False
        assert len(tiers.l1) == 1

    def test_origin_changes_with_the_process(self, monkeypatch):
        mine = coherence.origin()
        monkeypatch.setattr(os, "getpid", lambda: -1)
        assert coherence.origin() != mine


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="checks the embedded default (no Redis)")
class TestEmbeddedDefault:
    def test_publish_and_subscriber_are_no_ops(self):
        assert coherence.redis_client() is None
        assert coherence.publish("anything") == 0
        assert coherence.ensure_started() is None
        assert coherence.is_coherent() is True


class TestSubscriberDisconnect:
    def test_losing_the_connection_drops_l1_at_once(self):
        # Events published while the subscriber is away are lost, so L1 cannot be trusted from
        # the moment the connection breaks (a Redis outage may last long), not only after reconnecting.
        proceed = threading.Event()
        made = []

        class PubSub:
            def __init__(self):
                self.calls = 0

            def subscribe(self, channel):
                pass

            def get_message(self, timeout):
                self.calls += 1
                if self.calls == 1:
                    return {"type": "subscribe"}
                proceed.wait(5)
                raise ConnectionError("connection lost")

            def close(self):
                pass

        class Client:
            def pubsub(self, **kwargs):
                return PubSub()

            def get(self, key):
                return None  # the sequence counter: nothing published yet

        def factory():
            made.append(1)
            if len(made) > 1:
                raise ConnectionError("still down")
            return Client()

        sub = coherence.Subscriber(factory, "test:disconnect").start()
        try:
            assert sub.connected.wait(5)
            tiers.l1.set(
                "k", "v", ttl=None, created=0.0, size=1, namespace="n", scope=None, marker=tiers.l1.marker("n", None)
            )
            assert len(tiers.l1) == 1
            proceed.set()
            assert wait_until(lambda: len(made) > 1)  # it has noticed and tries to reconnect
            assert len(tiers.l1) == 0 and not sub.connected.is_set()
        finally:
            sub.stop()


@pytest.mark.redis
class TestSubscriberOnRedis:
    def test_subscriber_applies_published_events(self, coherent_ns):
        events = []
        sub = coherence.Subscriber(
            coherence.redis_client, "h2:test:coherence", on_event=events.append, on_drop=lambda: None
        ).start()
        try:
            assert sub.connected.wait(5)
            coherence.redis_client().publish("h2:test:coherence", foreign_event(coherent_ns))
            assert wait_until(lambda: events)
            assert json.loads(events[0])["namespace"] == coherent_ns
        finally:
            sub.stop()

    def test_ensure_started_starts_one_subscriber_per_process(self):
        first = coherence.ensure_started()
        try:
            assert first is not None and first.alive
            assert coherence.ensure_started() is first
            assert first.connected.wait(5)
            assert coherence.is_coherent()
        finally:
            coherence.stop()

    def test_reconnect_drops_the_whole_l1(self, coherent_ns):
        server = RedisServer()
        server.start()
        import redis

        connects = []
        sub = coherence.Subscriber(
            lambda: redis.Redis.from_url(server.url, socket_connect_timeout=0.2, socket_timeout=0.5),
            "h2:test:reconnect",
            on_drop=lambda: (connects.append(1), tiers.l1_clear()),
        )
        sub.poll_seconds = 0.05
        sub.start()
        process_subscriber = coherence.ensure_started()  # the process's own, on the suite's Redis
        try:
            assert sub.connected.wait(5) and process_subscriber.connected.wait(5)
            get_or_compute(coherent_ns, {}, lambda: "v")
            assert len(tiers.l1) == 1
            server.stop()  # events published now would be lost to this process
            assert wait_until(lambda: not sub.connected.is_set())
            server.start()
            assert wait_until(lambda: sub.connects == 2, timeout=15)
            assert len(tiers.l1) == 0  # dropped on reconnect
            assert sub.drops["connect"] == 2 and sub.drops["disconnected"] >= 1
        finally:
            sub.stop()
            server.stop()


PEER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from cachecore import coherence, tiers
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    register_namespace(Namespace(name="test.coh.peer", l1_ttl=300, l2_ttl=300))
    subscriber = coherence.ensure_started()
    if subscriber is None or not subscriber.connected.wait(10):
        print("no-subscriber", flush=True)
        sys.exit(1)
    get_or_compute("test.coh.peer", {}, lambda: "peer value")
    assert tiers.l1.entries_by_namespace() == {"test.coh.peer": 1}
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while tiers.l1.entries_by_namespace().get("test.coh.peer"):
        if time.monotonic() > deadline:
            print("timeout", flush=True)
            sys.exit(2)
        time.sleep(0.002)
    print("evicted", flush=True)
    """
)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_write_in_one_process_evicts_the_l1_of_another_within_one_second():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert peer.stdout.readline().strip() == "ready", peer.stderr.read()
        with temporary_namespace("test.coh.peer", watch=[Item], l1_ttl=300, l2_ttl=300, debounce=0):
            owner = Owner.objects.create(name="c")
            written = time.monotonic()
            with transaction.atomic():
                Item.objects.create(owner=owner, name="b")
            line = peer.stdout.readline().strip()
            seen = time.monotonic()
        assert line == "evicted", peer.stderr.read()
        assert seen - written < 1.0
        assert peer.wait(10) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait(5)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_invalidation_during_a_redis_outage_returns_and_is_counted(coherent_ns, settings):
    from cachecore import invalidation
    from cachecore.tests.invalidation_helpers import failures

    get_or_compute(coherent_ns, {}, lambda: "v")
    closed_port = free_port()  # nothing listens there
    down = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}
    settings.CACHES = {"default": down}
    try:
        for _ in range(5):
            invalidation.invalidate_now(coherent_ns)  # never raises into the caller
        assert failures(coherent_ns) == 5
        assert tiers.l1.entries_by_namespace() == {}  # the local steps still ran
        assert tiers.l2_breaker.info()["state"] != "closed"  # later calls skip Redis instead of waiting
    finally:
        from django.core.cache import caches

        caches["default"].close()


def test_info_describes_the_subscriber():
    info = coherence.info()
    assert info["enabled"] is bool(os.environ.get("REDIS_URL"))
    assert set(info) == {
        "enabled",
        "running",
        "connected",
        "connects",
        "events",
        "channel",
        "last_seq",
        "drops",
        "master_changes",
    }


class TestSequencedCoherence:
    """Every eviction carries a number from one counter; a subscriber notices what it missed."""

    @pytest.fixture
    def server(self):
        server = PrivateRedisServer().start()
        yield server
        server.stop()

    @pytest.fixture
    def subscriber(self, server):
        events, drops = [], []
        sub = coherence.Subscriber(
            server.client, "seq:test", on_event=events.append, on_drop=lambda: drops.append(1), check_seconds=0.2
        )
        sub.poll_seconds = 0.05
        sub.start()
        assert sub.connected.wait(5)
        sub.events_seen = events
        yield sub
        sub.stop()

    def test_messages_in_sequence_drop_nothing(self, server, subscriber):
        for _ in range(3):
            coherence._publish_sequenced(server.client(), "seq:test", foreign_event("ns"))
        assert wait_until(lambda: len(subscriber.events_seen) == 3)
        time.sleep(0.5)  # two checks later
        assert subscriber.last_seq == 3
        assert subscriber.drops == {"connect": 1}

    def test_a_gap_in_the_sequence_drops_l1(self, server, subscriber):
        client = server.client()
        coherence._publish_sequenced(client, "seq:test", foreign_event("ns"))
        client.incr(coherence.sequence_key("seq:test"))  # number 2 taken, its message lost
        coherence._publish_sequenced(client, "seq:test", foreign_event("ns"))
        assert wait_until(lambda: subscriber.last_seq == 3)
        assert subscriber.drops.get("gap") == 1

    def test_a_lost_last_message_is_noticed_by_the_periodic_check(self, server, subscriber):
        server.client().incr(coherence.sequence_key("seq:test"))  # published nothing: lost
        assert wait_until(lambda: subscriber.drops.get("lost") == 1, timeout=3)
        assert subscriber.last_seq == 1

    def test_a_counter_that_went_backwards_means_redis_restarted(self, server, subscriber):
        client = server.client()
        client.set(coherence.sequence_key("seq:test"), 10)
        assert wait_until(lambda: subscriber.drops.get("lost") == 1, timeout=3)
        client.flushall()  # the counter is gone: 0 < 10
        assert wait_until(lambda: subscriber.drops.get("reset") == 1, timeout=3)
        assert subscriber.last_seq == 0

    def test_a_full_redis_still_delivers_unsequenced_evictions(self, server, subscriber):
        client = server.client()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")
        assert coherence._publish_sequenced(client, "seq:test", foreign_event("ns")) == 0
        assert wait_until(lambda: subscriber.events_seen)
        assert subscriber.drops == {"connect": 1}


@pytest.mark.django_db
def test_with_a_disconnected_subscriber_l1_keeps_values_one_check_interval(make_ns, settings):
    server = PrivateRedisServer().start()
    try:
        settings.CACHES = server.cache_settings(settings.CACHES["default"])
        settings.CACHECORE_CACHE_ALIAS = "fault"
        settings.CACHECORE_COHERENCE_CHECK_SECONDS = 0.5
        coherence.stop()
        subscriber = coherence.ensure_started()
        assert subscriber.connected.wait(5) and coherence.is_coherent()
        subscriber.stop()  # disconnected: other processes' evictions cannot reach this one
        assert not coherence.is_coherent()
        ns = make_ns(l1_ttl=300, l2_ttl=300)
        tiers.l1.clock = clock = FakeClock()
        get_or_compute(ns.name, {}, Counter())
        assert get_or_compute(ns.name, {}, Counter())[1].tier == "l1"
        clock.advance(0.6)
        assert get_or_compute(ns.name, {}, Counter())[1].tier == "l2"
    finally:
        coherence.stop()
        server.stop()


def test_every_l1_entry_expires_at_the_ceiling(make_ns, settings):
    settings.CACHECORE_L1_MAX_TTL = 2.0
    ns = make_ns(l1_ttl=None, l2_ttl=0)
    tiers.l1.clock = clock = FakeClock()
    compute = Counter()
    get_or_compute(ns.name, {}, compute)
    clock.advance(1.9)
    assert get_or_compute(ns.name, {}, compute)[1].tier == "l1"
    clock.advance(0.2)
    assert get_or_compute(ns.name, {}, compute)[1].tier == "miss"
