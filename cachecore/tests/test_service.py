"""get_or_compute(): tier order, write-back, TTLs, the stale-set race, single-flight, switches."""

import threading
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cachecore import access, generations, keys, report, service, singleflight, stats, tiers
from cachecore.models import CacheEntry
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock, user_scope


def tier_of(ns, params, compute):
    return get_or_compute(ns.name, params, compute)[1].tier


class TestReadThrough:
    def test_miss_then_l1_hit(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        compute = Counter()
        value, info = get_or_compute(ns.name, {"user_id": 1}, compute)
        assert (value, info.tier, info.is_cached) == ({"n": 1}, "miss", False)
        value, info = get_or_compute(ns.name, {"user_id": "1"}, compute)
        assert (value, info.tier, info.is_cached) == ({"n": 1}, "l1", True)
        assert compute.calls == 1

    def test_timestamp_is_when_the_value_was_computed(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        _, first = get_or_compute(ns.name, {}, Counter())
        tiers.l1_clear()
        _, second = get_or_compute(ns.name, {}, Counter())
        assert second.tier == "l2" and second.timestamp == first.timestamp

    def test_l2_hit_is_written_back_to_l1(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        tiers.l1_clear()
        assert [tier_of(ns, {}, compute) for _ in range(2)] == ["l2", "l1"]
        assert compute.calls == 1

    @pytest.mark.django_db
    def test_persistent_order_l1_l2_l3_and_write_back(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300, l3_ttl=3600, persistent=True)
        compute = Counter()
        params = {"user_id": 7, "strategy_id": 3}
        assert tier_of(ns, params, compute) == "miss"
        row = CacheEntry.objects.get(namespace=ns.name)
        assert (row.user_id, row.strategy_id, row.payload) == (7, 3, {"v": {"n": 1}})
        tiers.l1_clear()
        tiers.l2_cache().clear()  # values and generations: the row is checked against the durable one
        assert [tier_of(ns, params, compute) for _ in range(3)] == ["l3", "l1", "l1"]
        tiers.l1_clear()
        assert tier_of(ns, params, compute) == "l2"
        assert compute.calls == 1

    @pytest.mark.django_db
    def test_l3_row_of_an_old_generation_is_a_miss(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300, persistent=True, scope=user_scope)
        compute = Counter()
        get_or_compute(ns.name, {"user_id": 1}, compute)
        generations.bump_generation(ns.name, "user:1")
        value, info = get_or_compute(ns.name, {"user_id": 1}, compute)
        assert (value, info.tier) == ({"n": 2}, "miss")

    def test_none_is_cached_distinctly_from_a_miss(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        compute = Counter(make=lambda n: None)
        assert get_or_compute(ns.name, {}, compute)[0] is None
        value, info = get_or_compute(ns.name, {}, compute)
        assert value is None and info.tier == "l1"
        tiers.l1_clear()
        assert tier_of(ns, {}, compute) == "l2"
        assert compute.calls == 1

    def test_force_refresh_recomputes_and_replaces(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        value, info = get_or_compute(ns.name, {}, compute, force_refresh=True)
        assert (value, info.tier, info.force_refresh) == ({"n": 2}, "miss", True)
        assert get_or_compute(ns.name, {}, compute)[0] == {"n": 2}

    def test_unknown_parameter_raises_naming_it(self, make_ns):
        ns = make_ns()
        with pytest.raises(TypeError, match="colour"):
            get_or_compute(ns.name, {"colour": 1}, Counter())

    def test_unknown_namespace_raises(self):
        with pytest.raises(LookupError, match="no.such"):
            get_or_compute("no.such", {}, Counter())

    def test_non_json_value_is_a_programming_error(self, make_ns):
        ns = make_ns()
        with pytest.raises(TypeError, match=ns.name):
            get_or_compute(ns.name, {}, lambda: {"when": timezone.now()})

    def test_compute_error_propagates_and_caches_nothing(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)

        def boom():
            raise RuntimeError("db down")

        with pytest.raises(RuntimeError):
            get_or_compute(ns.name, {}, boom)
        assert tier_of(ns, {}, Counter()) == "miss"

    @override_settings(CACHE_ENABLED=False)
    def test_disabled_computes_every_time(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        compute = Counter()
        infos = [get_or_compute(ns.name, {}, compute)[1] for _ in range(3)]
        assert compute.calls == 3
        assert {(i.tier, i.is_cached) for i in infos} == {("disabled", False)}
        assert len(tiers.l1) == 0


class TestL2RoundTrips:
    @pytest.fixture
    def l2_calls(self, monkeypatch):
        calls = []
        real = tiers.l2_call

        def counting(fn, *args, **kwargs):
            # _redis_get_many: the Redis lane of get_many (one MGET either way)
            calls.append({"_redis_get_many": "get_many"}.get(fn.__name__, fn.__name__))
            return real(fn, *args, **kwargs)

        monkeypatch.setattr(tiers, "l2_call", counting)
        return calls

    def test_l2_hit_is_one_round_trip_when_generations_are_unchanged(self, make_ns, l2_calls):
        ns = make_ns(l1_ttl=0, l2_ttl=60, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 1}, Counter())
        l2_calls.clear()
        assert tier_of(ns, {"user_id": 1}, Counter()) == "l2"
        assert l2_calls == ["get_many"]

    def test_changed_generations_are_never_answered_from_the_guess(self, make_ns, l2_calls):
        ns = make_ns(l1_ttl=0, l2_ttl=60, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 1}, lambda: "old")
        # another process bumps the generation: this process's last-seen generations are stale
        tiers.l2_set(keys.generation_key(ns.name, "user:1"), "fresh0token", None)
        l2_calls.clear()
        value, info = get_or_compute(ns.name, {"user_id": 1}, lambda: "new")
        assert (value, info.tier) == ("new", "miss")
        # A miss is three round trips: the generations, the lock with the value under the new
        # generations, the value's write with the lock's release.
        assert l2_calls == ["get_many", "_acquire", "_store_and_release"]
        l2_calls.clear()
        assert get_or_compute(ns.name, {"user_id": 1}, lambda: "newer")[0] == "new"
        assert l2_calls == ["get_many"]

    def test_a_value_another_process_wrote_under_new_generations_is_read_with_the_lock(self, make_ns, l2_calls):
        ns = make_ns(l1_ttl=0, l2_ttl=60, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 1}, lambda: "old")
        # Another process bumped the generation and already stored its value under it.
        tiers.l2_set(keys.generation_key(ns.name, "user:1"), "fresh1token", None)
        gens = generations.current_generations(ns.name, "user:1")
        key_hash = keys.param_hash(keys.canonical_params(ns, {"user_id": 1}))
        tiers.l2_set(keys.value_key(ns.name, gens, key_hash), (0.0, None, "theirs"), 60)
        generations.reset()  # this process last saw the old generations
        l2_calls.clear()
        value, info = get_or_compute(ns.name, {"user_id": 1}, lambda: "computed here")
        assert (value, info.tier) == ("theirs", "l2")
        assert l2_calls == ["get_many", "_acquire", "_release"]


@pytest.fixture
def coherent():
    """This process's L1 coherence subscriber, connected (with Redis as L2; a no-op otherwise).

    Without it a process keeps L1 values no longer than one coherence check interval.
    """
    from cachecore import coherence

    sub = coherence.ensure_started()
    if sub is not None:
        assert sub.connected.wait(5) and coherence.is_coherent()
    yield
    coherence.stop()


@pytest.mark.usefixtures("coherent")
class TestTTL:
    def test_l1_ttl_expiry_falls_back_to_l2(self, make_ns):
        ns = make_ns(l1_ttl=5, l2_ttl=300)
        tiers.l1.clock = clock = FakeClock()
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        clock.advance(4)
        assert tier_of(ns, {}, compute) == "l1"
        clock.advance(2)
        assert tier_of(ns, {}, compute) == "l2"

    def test_l1_never_outlives_the_l2_entry(self, make_ns):
        ns = make_ns(l1_ttl=300, l2_ttl=10)
        service.cache.wall_clock = wall = FakeClock(10_000.0)
        tiers.l1.clock = mono = FakeClock()
        get_or_compute(ns.name, {}, Counter())
        tiers.l1_clear()
        wall.advance(8)  # the L2 value has 2 s left
        assert tier_of(ns, {}, Counter()) == "l2"
        mono.advance(3)
        assert tiers.l1.get(keys.l1_key(ns.name, keys.param_hash(keys.canonical_params(ns, {})))) is None

    def test_ttl_for_caps_a_value(self, make_ns):
        ns = make_ns(l1_ttl=600, l2_ttl=600, ttl_for=lambda v: 60 if v.get("degraded") else None)
        tiers.l1.clock = clock = FakeClock()
        get_or_compute(ns.name, {"user_id": 1}, lambda: {"degraded": True})
        get_or_compute(ns.name, {"user_id": 2}, lambda: {"degraded": False})
        clock.advance(61)
        assert tier_of(ns, {"user_id": 1}, Counter()) != "l1"
        assert tier_of(ns, {"user_id": 2}, Counter()) == "l1"

    def test_ttl_for_zero_caches_nothing(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, ttl_for=lambda v: 0)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        assert tier_of(ns, {}, compute) == "miss"
        assert len(tiers.l1) == 0

    def test_zero_l1_ttl_skips_l1(self, make_ns):
        ns = make_ns(l1_ttl=0, l2_ttl=60)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        assert tier_of(ns, {}, compute) == "l2"
        assert len(tiers.l1) == 0

    @pytest.mark.django_db
    def test_expired_l3_row_is_a_miss(self, make_ns):
        ns = make_ns(l1_ttl=0, l2_ttl=0, l3_ttl=60, persistent=True)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        CacheEntry.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert tier_of(ns, {}, compute) == "miss"


class TestStaleSetRace:
    """A compute() reads old data; an invalidation lands while it runs; the old value is never served."""

    @pytest.mark.django_db
    @pytest.mark.parametrize("scope", [None, "user:1"])
    def test_value_computed_before_an_invalidation_is_not_served_after_it(self, make_ns, scope):
        ns = make_ns(l1_ttl=60, l2_ttl=300, l3_ttl=3600, persistent=True, scope=user_scope)
        source = {"version": "old"}

        def compute():
            snapshot = dict(source)  # the read of the database
            source["version"] = "new"  # a write commits meanwhile ...
            generations.bump_generation(ns.name, scope)  # ... and its invalidation is delivered
            return snapshot

        assert get_or_compute(ns.name, {"user_id": 1}, compute)[0] == {"version": "old"}
        value, info = get_or_compute(ns.name, {"user_id": 1}, lambda: dict(source))
        assert (value, info.tier) == ({"version": "new"}, "miss")

    def test_l1_event_during_compute_fences_the_late_write(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=0, scope=user_scope)

        def compute():
            tiers.l1_evict(ns.name, "user:1")  # a coherence event from another process
            return "old"

        get_or_compute(ns.name, {"user_id": 1}, compute)
        assert len(tiers.l1) == 0


class TestSingleFlight:
    @pytest.mark.parametrize("scope", [None, "user:1"])
    def test_caller_after_an_invalidation_does_not_join_a_flight_begun_before_it(self, make_ns, monkeypatch, scope):
        # A leader starts computing from the old data; the invalidation is delivered; a caller
        # arriving now must not be handed the leader's old value by single-flight.
        ns = make_ns(l1_ttl=60, l2_ttl=60, scope=user_scope)
        started, release, joined = threading.Event(), threading.Event(), threading.Event()
        source = {"version": "old"}

        def leader_compute():
            snapshot = dict(source)  # the read of the database
            started.set()
            release.wait(5)
            return snapshot

        real_join = singleflight.join

        def join(key):
            found = real_join(key)
            if threading.current_thread().name == "late-caller":
                joined.set()
            return found

        monkeypatch.setattr(singleflight, "join", join)
        leader = threading.Thread(target=get_or_compute, args=(ns.name, {"user_id": 1}, leader_compute))
        leader.start()
        assert started.wait(5)
        source["version"] = "new"  # the write commits ...
        generations.bump_generation(ns.name, scope)  # ... and its invalidation is delivered
        results = []
        late = threading.Thread(
            target=lambda: results.append(get_or_compute(ns.name, {"user_id": 1}, lambda: dict(source))),
            name="late-caller",
        )
        late.start()
        assert joined.wait(5)
        release.set()  # the leader finishes with its old snapshot
        late.join(10)
        leader.join(10)
        assert results and results[0][0] == {"version": "new"}
        assert get_or_compute(ns.name, {"user_id": 1}, Counter())[0] == {"version": "new"}

    def run_threads(self, ns, compute, n=50, params=None):
        barrier = threading.Barrier(n)
        results = []

        def worker():
            barrier.wait()
            results.append(get_or_compute(ns.name, params or {"user_id": 1}, compute))

        threads = [threading.Thread(target=worker) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results

    def slow_compute(self, release: threading.Event):
        def compute():
            release.wait(5)
            return {"answer": 42}

        return Counter(make=lambda n: compute())

    def test_fifty_threads_compute_once(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        release = threading.Event()
        compute = self.slow_compute(release)
        timer = threading.Timer(0.3, release.set)
        timer.start()
        results = self.run_threads(ns, compute)
        timer.cancel()
        assert compute.calls == 1
        assert len(results) == 50 and {r[0]["answer"] for r in results} == {42}
        assert singleflight.in_flight() == 0

    @pytest.mark.redis
    def test_fifty_threads_compute_once_with_redis(self, make_ns):
        self.test_fifty_threads_compute_once(make_ns)

    def test_followers_get_the_leaders_error(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        release = threading.Event()

        def fail():
            release.wait(5)
            raise RuntimeError("boom")

        compute = Counter(make=lambda n: fail())
        threading.Timer(0.3, release.set).start()
        errors = []

        def worker():
            try:
                get_or_compute(ns.name, {}, compute)
            except RuntimeError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert compute.calls == 1 and len(errors) == 10

    def test_waits_for_a_lock_held_by_another_process(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        params = {"user_id": 5}
        key_hash = keys.param_hash(keys.canonical_params(ns, params))
        other = singleflight.ClusterLock(keys.lock_key(ns.name, key_hash))
        assert other.acquire() is True
        gens = generations.current_generations(ns.name)

        def other_process_finishes(seconds):
            # The "other process" stores its value and releases the lock while we poll.
            tiers.l2_set(keys.value_key(ns.name, gens, key_hash), (0.0, None, "theirs"), 60)
            other.release()

        service.cache.sleep = other_process_finishes
        compute = Counter()
        value, info = get_or_compute(ns.name, params, compute)
        assert (value, info.tier, compute.calls) == ("theirs", "l2", 0)

    @pytest.mark.redis
    def test_waits_for_a_lock_held_by_another_process_with_redis(self, make_ns):
        self.test_waits_for_a_lock_held_by_another_process(make_ns)

    @override_settings(CACHECORE_LOCK_WAIT=0.05)
    def test_a_dead_holder_does_not_block_forever(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        key_hash = keys.param_hash(keys.canonical_params(ns, {}))
        assert singleflight.ClusterLock(keys.lock_key(ns.name, key_hash), timeout=60).acquire()
        compute = Counter()
        assert get_or_compute(ns.name, {}, compute)[0] == {"n": 1}

    def test_lock_is_released_only_by_its_holder(self):
        mine = singleflight.ClusterLock("t:lock", timeout=60)
        theirs = singleflight.ClusterLock("t:lock", timeout=60)
        assert mine.acquire() is True and theirs.acquire() is False
        theirs.held = True  # even if confused, a non-holder cannot delete the lock
        theirs.release()
        assert singleflight.ClusterLock("t:lock").acquire() is False
        mine.release()
        assert singleflight.ClusterLock("t:lock").acquire() is True

    @pytest.mark.redis
    def test_lock_is_released_only_by_its_holder_with_redis(self):
        self.test_lock_is_released_only_by_its_holder()

    def test_stale_while_revalidate_waiters_get_the_stale_value(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, stale_while_revalidate=True, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 1}, lambda: "v1")
        generations.bump_generation(ns.name, "user:1")
        key_hash = keys.param_hash(keys.canonical_params(ns, {"user_id": 1}))
        # Another process is refreshing: this caller gets the stale value at once.
        assert singleflight.ClusterLock(keys.lock_key(ns.name, key_hash)).acquire()
        value, info = get_or_compute(ns.name, {"user_id": 1}, Counter())
        assert (value, info.tier, info.stale) == ("v1", "l2", True)

    def test_force_refresh_never_gets_the_stale_value(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, stale_while_revalidate=True)
        get_or_compute(ns.name, {}, lambda: "v1")
        key_hash = keys.param_hash(keys.canonical_params(ns, {}))
        other = singleflight.ClusterLock(keys.lock_key(ns.name, key_hash))
        assert other.acquire()
        service.cache.sleep = lambda seconds: other.release()
        value, info = get_or_compute(ns.name, {}, lambda: "v2", force_refresh=True)
        assert (value, info.stale, info.tier) == ("v2", False, "miss")

    def test_stale_while_revalidate_in_process_followers(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, stale_while_revalidate=True)
        get_or_compute(ns.name, {}, lambda: "v1")
        generations.bump_generation(ns.name)
        release = threading.Event()
        compute = Counter(make=lambda n: release.wait(5) and "v2")
        leader = threading.Thread(target=get_or_compute, args=(ns.name, {}, compute))
        leader.start()
        while singleflight.in_flight() == 0:
            threading.Event().wait(0.005)
        value, info = get_or_compute(ns.name, {}, compute)
        release.set()
        leader.join(10)
        assert (value, info.stale, compute.calls) == ("v1", True, 1)
        assert get_or_compute(ns.name, {}, compute)[0] == "v2"

    @override_settings(CACHECORE_LOCK_WAIT=0.05)  # the child sees the parent's cluster lock (copied locmem, or Redis)
    def test_a_forked_child_does_not_inherit_flights_in_progress(self, make_ns):
        import os

        ns = make_ns(l1_ttl=60, l2_ttl=60)
        started, release = threading.Event(), threading.Event()

        def compute():
            started.set()
            release.wait(5)
            return "parent"

        leader = threading.Thread(target=get_or_compute, args=(ns.name, {}, compute))
        leader.start()
        assert started.wait(5)
        pid = os.fork()
        if pid == 0:  # the leader thread does not exist here: its flight would never land
            ok = False
            try:
                # (with Redis the parent's cluster lock still holds: the child may get its value)
                ok = singleflight.in_flight() == 0 and get_or_compute(ns.name, {}, lambda: "child")[0] in (
                    "child",
                    "parent",
                )
            finally:
                os._exit(0 if ok else 1)
        release.set()
        leader.join(10)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.django_db
class TestStats:
    def test_counts_per_namespace_and_tier(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        compute = Counter()
        get_or_compute(ns.name, {}, compute)
        get_or_compute(ns.name, {}, compute)
        tiers.l1_clear()
        get_or_compute(ns.name, {}, compute)
        entry = report.stats()["namespaces"][ns.name]
        assert entry["tiers"]["l1"] == {"hits": 1, "misses": 2, "hit_rate": 33.33}
        assert entry["tiers"]["l2"]["hits"] == 1 and entry["tiers"]["l2"]["misses"] == 1
        assert (entry["hits"], entry["misses"], entry["computes"], entry["hit_rate"]) == (2, 1, 1, 66.67)
        assert entry["l1_entries"] == 1

    def test_observer_sees_requests_and_failing_observer_is_harmless(self, make_ns):
        seen = []

        class Observer:
            def on_request(self, namespace, tier, result):
                seen.append((tier, result))

        class Broken:
            def on_request(self, *args):
                raise ValueError("observer bug")

        ns = make_ns(l1_ttl=60, l2_ttl=60)
        observer, broken = Observer(), Broken()
        stats.add_observer(broken)
        stats.add_observer(observer)
        try:
            get_or_compute(ns.name, {}, Counter())
            get_or_compute(ns.name, {}, Counter())
        finally:
            stats.remove_observer(observer)
            stats.remove_observer(broken)
        assert seen == [("l1", "miss"), ("l2", "miss"), ("miss", "miss"), ("l1", "hit")]

    def test_counters_are_exact_across_threads(self, make_ns):
        def work():
            for _ in range(1000):
                stats.record_compute("threads")

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert report.stats()["namespaces"]["threads"]["computes"] == 8000

    def test_l3_hit_queues_an_access_count(self, make_ns):
        ns = make_ns(l1_ttl=0, l2_ttl=0, persistent=True)
        get_or_compute(ns.name, {}, Counter())
        get_or_compute(ns.name, {}, Counter())
        assert access.pending() == 1


class TestStatsThreads:
    def test_counts_of_finished_threads_are_kept(self):
        threads = [threading.Thread(target=stats.record_compute, args=("gone",)) for _ in range(100)]
        for t in threads:
            t.start()
            t.join()
        assert report.stats()["namespaces"]["gone"]["computes"] == 100
        assert len(stats._all_counts) < 100  # dead threads' dicts were folded away


@pytest.mark.redis
def test_separate_processes_compute_once_per_cluster():
    """Three processes x 17 threads miss one key at once: compute() runs once in the whole cluster."""
    import json
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from django_redis import get_redis_connection

    name = f"test.cluster{uuid.uuid4().hex[:8]}"
    worker = Path(__file__).with_name("cluster_worker.py")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "PROMETHEUS_MIDDLEWARE": "0"}
    procs = [
        subprocess.Popen([sys.executable, str(worker), name, "3", "17"], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(3)
    ]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    redis = get_redis_connection("default")
    try:
        assert [len(o) for o in outputs] == [17, 17, 17]
        assert len({pid for o in outputs for pid in o}) == 1  # everyone got the one computation
        assert int(redis.get(f"{name}:computes")) == 1
    finally:
        redis.delete(f"{name}:computes", f"{name}:ready")


def l2_expiry_seconds(key: str) -> float | None:
    """Return how long ``key`` still lives in L2 (django-redis TTL or local memory's expiry)."""
    import time

    cache = tiers.l2_cache()
    if hasattr(cache, "ttl"):  # django-redis
        return cache.ttl(key)
    expires = cache._expire_info.get(cache.make_and_validate_key(key))
    return None if expires is None else expires - time.time()


class TestL2StorageBound:
    """Old generations' keys cannot be enumerated, so "no TTL" still expires from L2 eventually."""

    @override_settings(CACHECORE_L2_MAX_TTL=1234)
    def test_a_no_ttl_value_and_its_scope_generation_expire_after_the_bound(self, make_ns):
        ns = make_ns(l1_ttl=None, l2_ttl=None, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 3}, Counter())
        gens = generations.current_generations(ns.name, "user:3")
        key_hash = keys.param_hash(keys.canonical_params(ns, {"user_id": 3}))
        for key in (keys.value_key(ns.name, gens, key_hash), keys.generation_key(ns.name, "user:3")):
            assert 1200 < l2_expiry_seconds(key) <= 1234, key
        generations.bump_generation(ns.name, "user:3")
        assert 1200 < l2_expiry_seconds(keys.generation_key(ns.name, "user:3")) <= 1234

    @override_settings(CACHECORE_L2_MAX_TTL=1234)
    def test_shorter_ttls_and_shared_generations_are_unchanged(self, make_ns):
        ns = make_ns(l1_ttl=None, l2_ttl=60)
        get_or_compute(ns.name, {"user_id": 3}, Counter())
        gens = generations.current_generations(ns.name)
        key_hash = keys.param_hash(keys.canonical_params(ns, {"user_id": 3}))
        assert 50 < l2_expiry_seconds(keys.value_key(ns.name, gens, key_hash)) <= 60
        assert l2_expiry_seconds(keys.generation_key(ns.name)) in (None, -1)  # -1: django-redis "no expiry"
        assert l2_expiry_seconds(keys.EPOCH_KEY) in (None, -1)
