"""Checked L1 (``Namespace(l1_checked=True)``): an L1 copy is served only while L2 confirms it.

The access-rights namespaces (sessions, users, a user's client set) use it: an invalidation in
another process must hold on the very next lookup here, before its pub/sub message arrives.
"""

import pytest

from cachecore import generations, keys, tiers
from cachecore.api import Namespace, prefetched_generations
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, user_scope
from tests.helpers import RedisRoundTrips


def bumped_elsewhere(ns, scope: str) -> None:
    """Replace the scope's L2 generation as another process does, before its pub/sub message arrives."""
    tiers.l2_set(keys.generation_key(ns.name, scope), generations.new_token(), None)


def lookup(ns, user_id: int, compute):
    value, info = get_or_compute(ns.name, {"user_id": user_id}, compute)
    return value["n"], info.tier


def make_checked(make_ns, **extra):
    return make_ns(scope=user_scope, l1_ttl=60, l2_ttl=60, l1_checked=True, **extra)


class TestCheckedL1:
    def test_serves_its_l1_copy_while_the_generations_are_current(self, make_ns):
        ns = make_checked(make_ns)
        compute = Counter()
        assert [lookup(ns, 1, compute) for _ in range(3)] == [(1, "miss"), (1, "l1"), (1, "l1")]

    def test_an_invalidation_elsewhere_holds_on_the_next_lookup_here(self, make_ns):
        checked = make_checked(make_ns)
        plain = make_ns(scope=user_scope, l1_ttl=60, l2_ttl=60)
        computes = {checked.name: Counter(), plain.name: Counter()}
        for ns in (checked, plain):
            lookup(ns, 1, computes[ns.name])
            lookup(ns, 2, computes[ns.name])
            bumped_elsewhere(ns, "user:1")
        assert lookup(checked, 1, computes[checked.name]) == (3, "miss")
        assert lookup(checked, 2, computes[checked.name]) == (2, "l1")  # another scope keeps its copy
        # The reason for the option: an unchecked L1 copy lives until the pub/sub message comes.
        assert lookup(plain, 1, computes[plain.name]) == (1, "l1")

    def test_no_copy_is_served_while_l2_cannot_confirm_it(self, make_ns, fault_redis, breaker_clock):
        ns = make_checked(make_ns)
        compute = Counter()
        assert lookup(ns, 1, compute) == (1, "miss")
        assert lookup(ns, 1, compute) == (1, "l1")
        fault_redis.freeze()  # Redis stops answering: nobody can say whether the copy was retired
        assert lookup(ns, 1, compute) == (2, "miss")
        assert lookup(ns, 1, compute) == (3, "miss")  # and nothing unchecked was kept meanwhile
        fault_redis.thaw()

    def test_needs_l2_generations(self):
        with pytest.raises(ValueError, match="l1_checked needs L2 generations"):
            Namespace(name="test.checked_without_l2", l1_checked=True, l2_ttl=0)


@pytest.mark.redis
class TestPrefetch:
    def test_prefetched_lookups_make_no_round_trip_of_their_own(self, make_ns):
        first, second = make_checked(make_ns), make_checked(make_ns)
        compute = Counter()
        for ns in (first, second):
            lookup(ns, 1, compute)
        with RedisRoundTrips() as unfetched:
            assert [lookup(ns, 1, compute)[1] for ns in (first, second)] == ["l1", "l1"]
        assert unfetched.commands == ["MGET", "MGET"]
        both = [(first.name, {"user_id": 1}), (second.name, {"user_id": 1})]
        with RedisRoundTrips() as idle, prefetched_generations(both):
            pass  # a request that never looks at them (a view without auth) pays nothing
        assert idle.commands == []
        with RedisRoundTrips() as trips, prefetched_generations(both):
            assert [lookup(ns, 1, compute)[1] for ns in (first, second)] == ["l1", "l1"]
        assert trips.commands == ["MGET"]

    def test_a_prefetched_generation_is_used_once_and_not_after_an_eviction(self, make_ns):
        ns = make_checked(make_ns)
        compute = Counter()
        lookup(ns, 1, compute)
        lookup(ns, 2, compute)
        with prefetched_generations([(ns.name, {"user_id": 1}), (ns.name, {"user_id": 2})]):
            with RedisRoundTrips() as trips:
                assert lookup(ns, 1, compute) == (1, "l1")  # reads both users' generations
                assert lookup(ns, 1, compute) == (1, "l1")  # the second lookup reads its own
            assert trips.commands == ["MGET", "MGET"]
            # Another process's invalidation reached this L1 (pub/sub): the snapshot, read before
            # it, no longer speaks for user 2 even once L1 holds a copy again.
            bumped_elsewhere(ns, "user:2")
            tiers.l1_evict(ns.name, "user:2")
            assert lookup(ns, 2, compute) == (3, "miss")
            with RedisRoundTrips() as trips:
                assert lookup(ns, 2, compute) == (3, "l1")
            assert trips.commands == ["MGET"]

    def test_a_prefetch_while_l2_is_away_prefetches_nothing(self, make_ns, fault_redis, breaker_clock):
        ns = make_checked(make_ns)
        compute = Counter()
        lookup(ns, 1, compute)
        fault_redis.freeze()
        with prefetched_generations([(ns.name, {"user_id": 1})]):
            assert lookup(ns, 1, compute) == (2, "miss")
        fault_redis.thaw()
