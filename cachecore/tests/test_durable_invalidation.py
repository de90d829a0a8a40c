"""Invalidations survive what used to lose them: a killed writer, Redis refusing writes or stalling,
a failed durable bump, two relays at once, a dead listener connection; and bad input is refused.

Each test reproduces one finding of the durable-invalidation issue with the failure in it:
separate processes, a private redis-server (full with ``noeviction``, paused with ``CLIENT
PAUSE``), a frozen TCP proxy in front of PostgreSQL.
"""

import decimal
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from cachecore import coherence, invalidation, outbox, pgnotify, relay, tiers
from cachecore.invalidation import flush_pending, invalidate, invalidate_now
from cachecore.models import CacheEntry, InvalidationOutbox
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock, run_sqlite_worker, user_scope
from cachecore.tests.invalidation_helpers import pending_keys, temporary_namespace
from cachecore.tests.test_coherence import wait_until
from tests.services import FrozenTcpProxy, PrivateRedisServer

run_worker = run_sqlite_worker


def last_json(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- finding 2: a writer killed after its commit -------------------------------------------------


@pytest.mark.django_db(False)
def test_a_writer_killed_right_after_its_commit_loses_nothing(tmp_path):
    db = tmp_path / "shared.sqlite3"
    assert last_json(run_worker(db, "read", "old")) == {"value": "old", "tier": "miss"}
    died = run_worker(db, "commit-and-die")
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert last_json(died) == {"committed": 1}  # the invalidation was committed with the write
    assert last_json(run_worker(db, "read", "new")) == {"value": "old", "tier": "l3"}  # not applied yet
    # Any other process's relay applies it: the first wave lost it for good.
    assert last_json(run_worker(db, "relay", "2")) == {"pending": 0, "rows": 0}
    assert last_json(run_worker(db, "read", "new")) == {"value": "new", "tier": "miss"}


# -- finding 4: Redis trouble seen only by the invalidating process ------------------------------


@pytest.fixture
def private_l2(settings, breaker_clock):
    """A private redis-server as L2 (alias ``fault``), the breaker on a fake clock."""
    server = PrivateRedisServer().start()
    settings.CACHES = server.cache_settings(settings.CACHES["default"])
    settings.CACHECORE_CACHE_ALIAS = "fault"
    settings.CACHECORE_BREAKER_THRESHOLD = 100  # these tests look at single failures
    coherence.stop()
    try:
        yield server
    finally:
        coherence.stop()
        server.stop()


@pytest.fixture
def cached_ns(make_ns):
    ns = make_ns(l1_ttl=300, l2_ttl=300, scope=user_scope)
    assert get_or_compute(ns.name, {"user_id": 1}, lambda: "old")[0] == "old"
    return ns


def read_elsewhere(ns, value):
    """A read as another process would do it: nothing in this process's L1."""
    tiers.l1_clear()
    return get_or_compute(ns.name, {"user_id": 1}, lambda: value)[0]


@pytest.mark.django_db(transaction=True)
class TestRedisRefusingWrites:
    def test_full_with_noeviction_still_retires_the_old_value(self, private_l2, cached_ns):
        private_l2.client().config_set("maxmemory-policy", "noeviction")
        private_l2.client().config_set("maxmemory", "1")  # every write is refused with OOM now
        with pytest.raises(Exception, match="maxmemory"):
            private_l2.client().set("probe", "x")
        assert read_elsewhere(cached_ns, "new") == "old"  # reads are still served
        assert invalidate_now(cached_ns.name, "user:1") is True  # SET refused: the old key deleted
        assert read_elsewhere(cached_ns, "new") == "new"
        assert pending_keys() == set()

    def test_a_write_pause_keeps_the_row_until_redis_answers(self, private_l2, cached_ns, breaker_clock):
        private_l2.client().execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        started = time.monotonic()
        assert invalidate_now(cached_ns.name, "user:1") is False  # SET and DEL time out
        assert pending_keys() == {(cached_ns.name, "user:1")}  # kept for the relay
        wait_until(lambda: time.monotonic() - started > 1.6, timeout=5)
        breaker_clock.advance(60)
        flush_pending()
        assert pending_keys() == set()
        assert read_elsewhere(cached_ns, "new") == "new"

    def test_a_stall_of_the_whole_server_keeps_the_row(self, private_l2, cached_ns, breaker_clock):
        stall = threading.Thread(target=lambda: private_l2.client().execute_command("DEBUG", "SLEEP", "1"))
        stall.start()
        time.sleep(0.1)
        invalidate(cached_ns.name, "user:1")
        flush_pending()
        assert pending_keys() == {(cached_ns.name, "user:1")}
        stall.join(5)
        breaker_clock.advance(60)
        flush_pending()
        assert pending_keys() == set()
        assert read_elsewhere(cached_ns, "new") == "new"

    def test_invalidate_cache_exits_non_zero_when_redis_did_not_take_it(self, private_l2, cached_ns):
        private_l2.client().execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        with pytest.raises(CommandError, match="recorded in the outbox and a relay will apply it"):
            call_command("invalidate_cache", cached_ns.name, "--scope", "user:1")
        assert pending_keys() == {(cached_ns.name, "user:1")}


# -- finding 5: a failed durable bump, retried, also retires L2 ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_retry_of_a_failed_durable_bump_retires_an_l3_row_written_back_into_l2(make_ns, monkeypatch):
    ns = make_ns(l1_ttl=300, l2_ttl=300, l3_ttl=3600, persistent=True, scope=user_scope)
    get_or_compute(ns.name, {"user_id": 1}, lambda: "old")

    def down(*args):
        raise DatabaseError("database unreachable")

    monkeypatch.setattr(tiers, "_l3_bump", down)
    monkeypatch.setattr(tiers, "l3_delete", lambda *args: 0)
    invalidate(ns.name, "user:1")
    flush_pending()
    assert pending_keys() == {(ns.name, "user:1")}
    monkeypatch.undo()
    # Another process, whose database works, finds the old row still valid and writes it back
    # into L2 under the new L2 generation.
    tiers.l3_breaker.reset()
    tiers.l1_clear()
    value, info = get_or_compute(ns.name, {"user_id": 1}, lambda: "never")
    assert (value, info.tier) == ("old", "l3")
    flush_pending()  # the retry bumps both tokens
    assert pending_keys() == set()
    assert read_elsewhere(ns, "new") == "new"


# -- rows, relays and transactions ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
class TestOutboxRows:
    def test_a_rolled_back_transaction_leaves_no_row(self, make_ns):
        ns = make_ns(scope=user_scope)
        with pytest.raises(RuntimeError), transaction.atomic():
            invalidate(ns.name, "user:1")
            raise RuntimeError("abort")
        assert InvalidationOutbox.objects.count() == 0

    def test_two_relays_never_lose_a_row(self, make_ns, monkeypatch):
        # Relay A leases the rows it is applying; relay B sees none of them; a row committed while
        # A applies stays for the next pass. Nothing is lost, nothing applied by both at once.
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)  # nothing applied at commit
        a, b = relay.Relay(), relay.Relay()
        for user in range(5):
            invalidate(ns.name, f"user:{user}")  # autocommitted: each its own row
        applied_by = {}
        real_apply = relay.Relay.apply

        def apply(self, keys):
            if self is a and not applied_by:
                assert b.run_once(force=True).seen == 0  # everything is leased by A
                invalidate(ns.name, "user:late")  # committed while A applies
            for key in keys:
                applied_by.setdefault(key, []).append("a" if self is a else "b")
            return real_apply(self, keys)

        monkeypatch.setattr(relay.Relay, "apply", apply)
        assert a.run_once(force=True).applied == 5
        assert pending_keys() == {(ns.name, "user:late")}
        assert b.run_once(force=True).applied == 1
        assert pending_keys() == set()
        assert all(len(by) == 1 for by in applied_by.values()), applied_by

    def test_a_dead_relays_lease_expires(self, make_ns, settings):
        settings.CACHECORE_RELAY_LEASE_SECONDS = 0.2
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)
        invalidate(ns.name, "user:1")
        row_ids = [row.id for row in outbox.fetch(10)]
        assert outbox.claim(row_ids, "dead-relay", relay._lease()) == set(row_ids)
        assert relay.Relay().run_once(force=True).seen == 0  # leased
        time.sleep(0.3)
        assert relay.Relay().run_once(force=True).applied == 1
        assert pending_keys() == set()

    def test_the_relay_thread_applies_a_commit_of_this_process(self, make_ns):
        ns = make_ns(l1_ttl=300, l2_ttl=300, scope=user_scope, debounce=0.05, max_wait=0.05)
        relay.set_manual(False)
        try:
            get_or_compute(ns.name, {"user_id": 1}, lambda: "old")
            with transaction.atomic():
                invalidate(ns.name, "user:1")
            assert wait_until(lambda: not pending_keys(), timeout=5)
            assert get_or_compute(ns.name, {"user_id": 1}, lambda: "new")[0] == "new"
        finally:
            relay.set_manual(True)

    def test_outbox_status_reports_the_oldest_row(self, make_ns):
        ns = make_ns(scope=user_scope)
        assert outbox.status() == {"pending": 0, "oldest_age_seconds": 0.0}
        invalidate(ns.name, "user:1")
        time.sleep(0.05)
        found = outbox.status()
        assert found["pending"] == 1 and found["oldest_age_seconds"] >= 0.05


def test_the_staleness_bound_adds_up_the_delays(settings):
    settings.CACHECORE_RELAY_POLL_SECONDS = 1.0
    settings.CACHECORE_RELAY_LEASE_SECONDS = 2.0
    settings.CACHECORE_COHERENCE_CHECK_SECONDS = 0.5
    with temporary_namespace("test.bound", debounce=2.0, max_wait=10.0):
        assert invalidation.staleness_bound("test.bound") == 15.5


# -- finding 11: bad input -----------------------------------------------------------------------


class TestBadInput:
    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1, float("-inf")], {"x": float("nan")}])
    @pytest.mark.django_db
    def test_a_non_finite_number_is_refused_before_any_tier_is_written(self, make_ns, bad):
        ns = make_ns(l1_ttl=60, l2_ttl=60, l3_ttl=60, persistent=True)
        with pytest.raises(TypeError, match="non-JSON value"):
            get_or_compute(ns.name, {}, lambda: bad)
        assert not CacheEntry.objects.exists()
        assert len(tiers.l1) == 0
        assert connection.cursor().execute("SELECT 1").fetchone() == (1,)  # the transaction is intact

    @pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "sNaN"])
    def test_non_finite_decimals_are_keys_of_their_own(self, make_ns, value):
        ns = make_ns(params=("x",), unordered=())
        compute = Counter()  # Decimal("NaN") used to hash like None; Infinity and sNaN raised
        get_or_compute(ns.name, {"x": decimal.Decimal(value)}, compute)
        get_or_compute(ns.name, {"x": None}, compute)
        assert compute.calls == 2

    def test_params_that_are_not_a_dict_name_the_parameter(self, make_ns):
        ns = make_ns()
        with pytest.raises(TypeError, match="params of cache namespace .* must be a dict, got str"):
            get_or_compute(ns.name, "x", Counter())


# -- finding 8: the listener's connection silently dead ------------------------------------------


@pytest.mark.postgres
def test_a_frozen_listener_connection_is_noticed_and_max_seconds_honoured():
    params = pgnotify.connection_params()
    proxy = FrozenTcpProxy(params.get("host") or "127.0.0.1", int(params.get("port") or 5432)).start()
    import psycopg

    def connect():
        return psycopg.connect(
            **{**params, "host": "127.0.0.1", "port": proxy.port, "connect_timeout": 1}, autocommit=True
        )

    listener = pgnotify.Listener(connect, lambda table: None, lambda first: None)
    listener.poll_seconds, listener.keepalive_seconds, listener.ping_timeout = 0.1, 0.3, 0.5
    result = {}
    thread = threading.Thread(target=lambda: result.update(stats=listener.run(max_seconds=4)), daemon=True)
    try:
        thread.start()
        assert wait_until(listener.listening.is_set, timeout=5)
        proxy.freeze()
        started = time.monotonic()
        thread.join(10)
        assert not thread.is_alive(), "max_seconds was not honoured on a dead connection"
        assert time.monotonic() - started < 6
        assert result["stats"].lost_connections >= 1
    finally:
        proxy.stop()


# -- finding 7: force_refresh reaches the other processes' L1 ------------------------------------

PEER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from cachecore import coherence, tiers
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    register_namespace(Namespace(name="test.refresh.peer", l1_ttl=300, l2_ttl=300))
    subscriber = coherence.ensure_started()
    if subscriber is None or not subscriber.connected.wait(10):
        print("no-subscriber", flush=True)
        sys.exit(1)
    assert get_or_compute("test.refresh.peer", {}, lambda: "peer value")[0] == "peer value"
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while get_or_compute("test.refresh.peer", {}, lambda: "recomputed")[0] == "peer value":
        if time.monotonic() > deadline:
            print("timeout", flush=True)
            sys.exit(2)
        time.sleep(0.005)
    print("refreshed", get_or_compute("test.refresh.peer", {}, lambda: "recomputed")[0], flush=True)
    """
)


@pytest.mark.redis
def test_force_refresh_replaces_the_value_in_other_processes_l1():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    peer = subprocess.Popen(
        [sys.executable, "-c", PEER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert peer.stdout.readline().strip() == "ready", peer.stderr.read()
        with temporary_namespace("test.refresh.peer", l1_ttl=300, l2_ttl=300):
            coherence.ensure_started()
            assert get_or_compute("test.refresh.peer", {}, lambda: "x", force_refresh=True)[0] == "x"
            written = time.monotonic()
            line = peer.stdout.readline().strip()
        assert line == "refreshed x", peer.stderr.read()
        assert time.monotonic() - written < 1.0
        assert peer.wait(10) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait(5)
        coherence.stop()


# -- leases under contention: no waiting on another relay's locks, no deadlock -----------------


def _while_locked_elsewhere(row_ids, action):
    """Return ``action()`` run here while another connection's open transaction locks ``row_ids``.

    The other transaction is a relay mid-claim. Here a 500 ms lock_timeout turns a wait on its
    locks into a failed test instead of a hung one.
    """
    import psycopg

    other = psycopg.connect(**pgnotify.connection_params(), autocommit=False)
    try:
        other.execute("SET lock_timeout = '5s'")
        other.execute("SELECT id FROM cachecore_invalidationoutbox WHERE id = ANY(%s) FOR UPDATE", [list(row_ids)])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        try:
            return action()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        other.rollback()
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestLeasesUnderContention:
    """Two relays (or a relay and a committing writer) touching the same rows never wait on each
    other's row locks: such waits ordered differently are what PostgreSQL reported as
    ``deadlock detected`` in a loaded 5-minute torture run."""

    def _rows(self, make_ns, n=3):
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)
        for user in range(n):
            invalidate(ns.name, f"user:{user}")
        return ns, [row.id for row in outbox.fetch(10)]

    def test_a_claim_skips_rows_locked_by_another_transaction_instead_of_waiting(self, make_ns):
        ns, ids = self._rows(make_ns)
        held = _while_locked_elsewhere(ids[:1], lambda: outbox.claim(ids, "relay-b", relay._lease()))
        assert held == set(ids[1:])

    def test_a_delete_skips_rows_locked_by_another_transaction_instead_of_waiting(self, make_ns):
        ns, ids = self._rows(make_ns)
        deleted = _while_locked_elsewhere(ids[:1], lambda: outbox.delete(ids))
        assert deleted == len(ids) - 1
        assert [row.id for row in outbox.fetch(10)] == ids[:1]


@pytest.mark.django_db(transaction=True)
class TestLeasesAreRespected:
    def test_a_committing_writer_leaves_a_row_leased_by_a_relay_to_that_relay(self, make_ns):
        # The writer's own application at commit must not delete a row another relay is applying.
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)
        invalidate(ns.name, "user:1")
        (row,) = outbox.fetch(10)
        assert outbox.claim([row.id], "relay-a", relay._lease()) == {row.id}
        item = relay.debounce.Item(row.id, 0.0, "commit", ((ns.name, "user:1"),))
        assert relay.Relay().apply_rows([item]) == (False, (row.id,))  # not ours: relay-a applies it
        assert InvalidationOutbox.objects.filter(id=row.id, claimed_by="relay-a").exists()

    def test_a_writer_whose_row_a_relay_claimed_first_returns_once_that_relay_applied_it(self, make_ns, monkeypatch):
        # Access rights (debounce 0) hold on the next request because the writer applies its row
        # before its commit returns; when a relay's pass claimed the row in between, the writer
        # waits for that pass instead of returning with the invalidation still on its way.
        ns = make_ns(scope=user_scope, l1_ttl=0, l2_ttl=60, debounce=0)
        calls = Counter()
        assert get_or_compute(ns.name, {"user_id": 1}, calls)[0] == {"n": 1}
        real_claim = outbox.claim
        first = threading.Event()
        writer = threading.get_ident()  # the commit hook runs in the writing thread

        def claimed_by_a_relay_first(ids, owner, lease, **kwargs):
            if threading.get_ident() != writer or first.is_set():
                return real_claim(ids, owner, lease, **kwargs)
            # The writer's claim: relay-a's pass got there first and holds the row (no other
            # relay of this process can take it meanwhile); it finishes 0.3 s later.
            first.set()
            ids = list(ids)
            assert real_claim(ids, "relay-a", lease, **kwargs) == set(ids)

            def relay_a_finishes():
                # As a relay thread does, a pass that fails is tried again: on the embedded
                # test database (SQLite's shared-cache memory database) a write that meets the
                # writer's polling read fails at once with "database table is locked" (CI, once).
                for _ in range(100):
                    try:
                        outbox.release(ids, "relay-a")
                        relay.Relay().run_once(force=True)
                        return
                    except DatabaseError:
                        time.sleep(0.01)

            threading.Timer(0.3, relay_a_finishes).start()
            return set()

        monkeypatch.setattr(outbox, "claim", claimed_by_a_relay_first)
        started = time.monotonic()
        with transaction.atomic():
            invalidate(ns.name, "user:1")
        waited = time.monotonic() - started
        assert first.is_set() and waited >= 0.25
        assert not InvalidationOutbox.objects.exists()
        assert get_or_compute(ns.name, {"user_id": 1}, calls)[0] == {"n": 2}  # in force on return

    def test_a_relay_deletes_only_rows_it_still_holds(self, make_ns, monkeypatch, settings):
        # A pass slower than its lease: another relay took the rows over; the first one must not
        # delete them under the second one's feet (it only deletes what it still holds).
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)
        invalidate(ns.name, "user:1")
        a = relay.Relay()
        real_apply = relay.Relay.apply

        def slow_apply(self, keys):
            InvalidationOutbox.objects.update(claimed_by="relay-b")  # lease expired, taken over
            return real_apply(self, keys)

        monkeypatch.setattr(relay.Relay, "apply", slow_apply)
        result = a.run_once(force=True)
        assert result.applied == 1 and result.deleted == 0
        assert InvalidationOutbox.objects.filter(claimed_by="relay-b").count() == 1

    def test_a_failed_pass_gives_its_leases_back(self, make_ns, monkeypatch):
        # A pass that fails after leasing (the database broke mid-pass) must not leave its rows
        # leased: the next relay retries them at once instead of after the lease.
        ns = make_ns(scope=user_scope, debounce=60, max_wait=60)
        invalidate(ns.name, "user:1")

        def broken_delete(*args, **kwargs):
            raise DatabaseError("connection lost mid-pass")

        monkeypatch.setattr(outbox, "delete", broken_delete)
        with pytest.raises(DatabaseError):
            relay.Relay().run_once(force=True)
        monkeypatch.undo()
        assert relay.Relay().run_once(force=True).applied == 1
        assert pending_keys() == set()


# -- a failed publish is retried ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failed_publish_keeps_the_row(make_ns, monkeypatch):
    ns = make_ns(scope=user_scope)

    def refused(*args, **kwargs):
        raise tiers.TierUnavailable("l2: publish refused")

    monkeypatch.setattr(coherence, "publish", refused)
    invalidate(ns.name, "user:1")
    flush_pending()
    assert pending_keys() == {(ns.name, "user:1")}
    monkeypatch.undo()
    flush_pending()
    assert pending_keys() == set()


# keep FakeClock importable for the fixtures above (breaker_clock comes from engine_helpers)
_ = FakeClock
