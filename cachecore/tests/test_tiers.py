"""L1 bounds, LRU, TTL with an injected clock, eviction fencing; L3 helpers."""

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachecore import tiers
from cachecore.models import CacheEntry
from cachecore.tests.engine_helpers import FakeClock

l1 = tiers.l1


def put(key, value="v", *, ns="ns", scope=None, ttl=None, size=1, marker=None):
    return l1.set(
        key,
        value,
        ttl=ttl,
        created=0.0,
        size=size,
        namespace=ns,
        scope=scope,
        marker=l1.marker(ns, scope) if marker is None else marker,
    )


class TestL1:
    def test_get_returns_stored_entry(self):
        put("a", {"x": 1})
        assert l1.get("a")[1] == {"x": 1}
        assert l1.get("missing") is None

    def test_expired_entries_are_counted_until_a_read_drops_them(self):
        l1.clock = clock = FakeClock()
        put("short", ttl=10)
        put("forever", ttl=None)
        assert l1.expired_entries() == 0
        clock.advance(11)
        assert l1.expired_entries() == 1
        assert l1.info()["expired"] == 1 and l1.info()["entries"] == 2
        assert l1.get("short") is None
        assert l1.expired_entries() == 0

    @override_settings(CACHECORE_L1_MAX_ENTRIES=3)
    def test_entry_bound_evicts_least_recently_used(self):
        for key in "abc":
            put(key)
        l1.get("a")  # touch: b is now the oldest
        put("d")
        assert [k for k in "abcd" if l1.get(k)] == ["a", "c", "d"]

    @override_settings(CACHECORE_L1_MAX_BYTES=400)
    def test_byte_bound_evicts_until_under_limit(self):
        for key in "abcde":
            put(key, size=100)
        assert len(l1) == 4 and l1.info()["bytes"] == 400
        assert l1.get("a") is None

    @override_settings(CACHECORE_L1_MAX_BYTES=400)
    def test_oversized_value_is_not_stored(self):
        assert put("big", size=101) is False
        assert l1.get("big") is None

    def test_ttl_expiry_with_injected_clock(self):
        l1.clock = clock = FakeClock()
        put("a", ttl=10)
        clock.advance(9.9)
        assert l1.get("a") is not None
        clock.advance(0.2)
        assert l1.get("a") is None
        assert len(l1) == 0

    def test_no_ttl_never_expires(self):
        l1.clock = clock = FakeClock()
        put("a", ttl=None)
        clock.advance(10**9)
        assert l1.get("a") is not None

    def test_evict_scope_drops_only_that_scope(self):
        put("u1", ns="n", scope="user:1")
        put("u2", ns="n", scope="user:2")
        put("o", ns="other", scope="user:1")
        assert tiers.l1_evict("n", "user:1") == 1
        assert l1.get("u1") is None and l1.get("u2") and l1.get("o")

    def test_evict_namespace_drops_every_scope(self):
        put("u1", ns="n", scope="user:1")
        put("u2", ns="n", scope="user:2")
        assert tiers.l1_evict("n") == 2
        assert len(l1) == 0

    def test_write_started_before_an_eviction_is_dropped(self):
        marker = l1.marker("n", "user:1")
        tiers.l1_evict("n", "user:1", generation="abc")
        assert put("late", ns="n", scope="user:1", marker=marker) is False
        assert l1.get("late") is None

    def test_namespace_eviction_fences_scoped_writes(self):
        marker = l1.marker("n", "user:1")
        tiers.l1_evict("n")
        assert put("late", ns="n", scope="user:1", marker=marker) is False

    def test_clear_fences_every_pending_write(self):
        marker = l1.marker("n", None)
        tiers.l1_clear()
        assert put("late", ns="n", marker=marker) is False

    def test_other_scope_eviction_does_not_fence(self):
        marker = l1.marker("n", "user:1")
        tiers.l1_evict("n", "user:2")
        assert put("fine", ns="n", scope="user:1", marker=marker) is True

    def test_scope_fences_stay_bounded_and_still_fence(self, monkeypatch):
        # One fence per evicted scope (one per user) must not grow for the life of the process.
        monkeypatch.setattr(tiers.L1Cache, "max_scope_fences", 10, raising=False)
        tiers.l1_evict("n", "user:1")
        marker = l1.marker("n", "user:1")  # a computation starts after that first eviction
        put("kept", ns="n", scope="user:2")
        for user in range(2, 50):
            tiers.l1_evict("n", f"user:x{user}")
        assert len(l1._seq_scope) <= 10
        tiers.l1_evict("n", "user:1")  # its fence restarted from zero: the pending write must still fail
        assert put("late", ns="n", scope="user:1", marker=marker) is False
        assert l1.get("kept") is not None  # forgetting fences evicts no valid entry

    def test_entries_by_namespace(self):
        put("a", ns="x")
        put("b", ns="x")
        put("c", ns="y")
        assert l1.entries_by_namespace() == {"x": 2, "y": 1}


@pytest.mark.django_db
class TestL3Delete:
    def test_deletes_scope_rows_of_a_persistent_namespace(self, make_ns):
        from django.utils import timezone

        ns = make_ns(persistent=True)
        now = timezone.now()
        for scope in ("user:1", "user:1", "user:2"):
            CacheEntry.objects.create(
                namespace=ns.name,
                key_hash=f"{scope}-{CacheEntry.objects.count()}",
                scope=scope,
                data_hash="d",
                payload={"v": 1},
                created_at=now,
                expires_at=now,
                last_accessed=now,
            )
        assert tiers.l3_delete(ns.name, "user:1") == 2
        assert tiers.l3_delete(ns.name) == 1

    def test_non_persistent_namespace_runs_no_query(self, make_ns, count_queries):
        ns = make_ns(persistent=False)
        with count_queries() as q:
            assert tiers.l3_delete(ns.name) == 0
        assert len(q) == 0


def test_concurrent_reads_writes_and_evictions_stay_consistent():
    import threading

    errors = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                for i in range(50):
                    l1.get(f"k{i}")
        except Exception as exc:  # noqa: BLE001 - any error is the failure we look for
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for round_ in range(200):
            for i in range(50):
                put(f"k{i}", ns="n", scope=f"s{i % 3}", size=10)
            tiers.l1_evict("n", f"s{round_ % 3}")
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    assert l1.info()["bytes"] == 10 * len(l1)


class TestL1Invariants:
    """Random operation sequences never break the bounds, the byte count or expiry."""

    op = st.one_of(
        st.tuples(st.just("set"), st.integers(0, 15), st.integers(1, 60), st.sampled_from([None, 1, 5])),
        st.tuples(st.just("get"), st.integers(0, 15)),
        st.tuples(st.just("tick"), st.integers(0, 3)),
        st.tuples(st.just("evict"), st.sampled_from(["a", "b"])),
    )

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(op, max_size=60))
    def test_random_operations(self, ops):
        tiers.l1.reset()
        l1.clock = clock = FakeClock()
        expiry = {}
        with override_settings(CACHECORE_L1_MAX_ENTRIES=6, CACHECORE_L1_MAX_BYTES=400):
            for step in ops:
                if step[0] == "set":
                    _, k, size, ttl = step
                    if put(f"k{k}", ns="ab"[k % 2], ttl=ttl, size=size):
                        expiry[f"k{k}"] = None if ttl is None else clock() + ttl
                elif step[0] == "get":
                    key = f"k{step[1]}"
                    entry = l1.get(key)
                    if entry is not None:
                        assert expiry[key] is None or expiry[key] > clock()
                elif step[0] == "tick":
                    clock.advance(step[1])
                else:
                    tiers.l1_evict(step[1])
                assert len(l1) <= 6
                assert l1.info()["bytes"] == sum(e[3] for e in l1._data.values()) <= 400
        l1.reset()
