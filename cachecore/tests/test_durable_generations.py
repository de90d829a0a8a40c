"""L3 survives the loss of L2: rows are checked against durable generations in the database.

A Redis flush or restart, the epoch bump after an outage and another process's local-memory L2
all lose or replace the L2 generations; the cache table's rows stay valid until an invalidation
replaces their durable generation, and a value computed from a snapshot older than a delivered
invalidation is never served, across any of these.
"""

import json
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from cachecore import generations, tiers
from cachecore.invalidation import flush_pending, invalidate, invalidate_now
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock, run_sqlite_worker, user_scope
from cachecore.tests.invalidation_helpers import pending_keys
from tests.helpers import QueryCounter

pytestmark = pytest.mark.django_db


def flush_l1_and_l2() -> None:
    """A worker restart and a Redis flush (or restart without persistence): values and generations go."""
    tiers.l1_clear()
    tiers.l2_cache().clear()


def durable_of(ns, scope):
    return tiers.l3_generation(ns.name, scope)


@pytest.fixture
def persistent(make_ns):
    return make_ns(l1_ttl=60, l2_ttl=300, l3_ttl=3600, persistent=True, scope=user_scope)


class TestFlush:
    def test_a_flush_leaves_an_l3_hit_with_the_same_value(self, persistent):
        compute = Counter()
        value, _ = get_or_compute(persistent.name, {"user_id": 1}, compute)
        flush_l1_and_l2()
        again, info = get_or_compute(persistent.name, {"user_id": 1}, compute)
        assert (again, info.tier, info.is_cached) == (value, "l3", True)
        assert [get_or_compute(persistent.name, {"user_id": 1}, compute)[1].tier for _ in range(2)] == ["l1", "l1"]
        tiers.l1_clear()
        assert get_or_compute(persistent.name, {"user_id": 1}, compute)[1].tier == "l2"  # written back
        assert compute.calls == 1

    def test_an_invalidation_before_the_flush_is_not_undone(self, persistent):
        source = {"v": "old"}
        get_or_compute(persistent.name, {"user_id": 1}, lambda: dict(source))
        get_or_compute(persistent.name, {"user_id": 2}, lambda: {"v": "two"})
        source["v"] = "new"
        invalidate_now(persistent.name, "user:1")
        flush_l1_and_l2()
        assert get_or_compute(persistent.name, {"user_id": 1}, lambda: dict(source))[0] == {"v": "new"}
        value, info = get_or_compute(persistent.name, {"user_id": 2}, Counter())
        assert (value, info.tier) == ({"v": "two"}, "l3")  # another scope's row stays valid

    def test_a_namespace_invalidation_retires_every_scope(self, persistent):
        for user_id in (1, 2):
            get_or_compute(persistent.name, {"user_id": user_id}, lambda: "old")
        generations.bump_generation(persistent.name)  # the durable bump alone (rows not deleted)
        flush_l1_and_l2()
        assert {get_or_compute(persistent.name, {"user_id": u}, lambda: "new")[0] for u in (1, 2)} == {"new"}

    def test_the_stale_set_race_across_a_flush(self, persistent):
        # The compute reads the old source, then the source changes and its invalidation is
        # delivered before the compute stores: its row carries the replaced durable token.
        source = {"v": "old"}

        def racing_compute():
            seen = dict(source)
            source["v"] = "new"
            invalidate_now(persistent.name, "user:1")
            return seen

        assert get_or_compute(persistent.name, {"user_id": 1}, racing_compute)[0] == {"v": "old"}
        row = CacheEntry.objects.get(namespace=persistent.name)
        assert row.payload == {"v": {"v": "old"}}  # written, but under the replaced token
        assert row.generation != durable_of(persistent, "user:1")
        flush_l1_and_l2()
        value, info = get_or_compute(persistent.name, {"user_id": 1}, lambda: dict(source))
        assert (value, info.tier) == ({"v": "new"}, "miss")


class TestCost:
    @pytest.mark.django_db(transaction=True)  # as in a request: no transaction around the read
    def test_l1_and_l2_hits_query_nothing_and_an_l3_hit_queries_once(self, persistent):
        get_or_compute(persistent.name, {"user_id": 1}, Counter())
        with QueryCounter() as l1:
            assert get_or_compute(persistent.name, {"user_id": 1}, Counter())[1].tier == "l1"
        tiers.l1_clear()
        with QueryCounter() as l2:
            assert get_or_compute(persistent.name, {"user_id": 1}, Counter())[1].tier == "l2"
        flush_l1_and_l2()
        with QueryCounter() as l3:
            assert get_or_compute(persistent.name, {"user_id": 1}, Counter())[1].tier == "l3"
        assert (len(l1), len(l2), len(l3)) == (0, 0, 1), l3.sql  # the generation check is in the row's query

    def test_non_persistent_namespaces_touch_only_the_outbox(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, scope=user_scope)
        with QueryCounter() as reads:
            get_or_compute(ns.name, {"user_id": 1}, Counter())
        with QueryCounter() as invalidation:
            invalidate_now(ns.name, "user:1")
        with QueryCounter() as again:
            get_or_compute(ns.name, {"user_id": 1}, Counter())
        assert (len(reads), len(again)) == (0, 0), reads.sql + again.sql
        statements = [q["sql"] for q in invalidation.captured_queries]
        assert statements and all("cachecore_invalidationoutbox" in sql for sql in statements), statements
        assert not CacheGeneration.objects.exists()


class TestFailedDurableBump:
    def test_keeps_its_row_until_l3_recovers(self, persistent, monkeypatch):
        tiers.l3_breaker.clock = FakeClock()  # the breaker stays open: no cool-down passes
        get_or_compute(persistent.name, {"user_id": 1}, lambda: "old")

        def down(*args):
            raise DatabaseError("database unreachable")

        monkeypatch.setattr(tiers, "_l3_bump", down)
        monkeypatch.setattr(tiers, "l3_delete", lambda *args: 0)  # the rows' deletion is lost too
        invalidate(persistent.name, "user:1")
        flush_pending()
        assert pending_keys() == {(persistent.name, "user:1")}  # kept for a retry
        assert tiers.l3_breaker.state == "open"
        monkeypatch.undo()
        flush_l1_and_l2()
        # L3 is not read while its breaker is open, so the old row cannot answer meanwhile.
        assert get_or_compute(persistent.name, {"user_id": 1}, lambda: "new")[0] == "new"
        assert CacheEntry.objects.get().payload == {"v": "old"}  # nothing written while L3 was down
        assert tiers.l3_breaker.state == "open"
        # A relay retries despite the open breaker (invalidations do not wait for its cool-down):
        # the database answers again, so the row is retired and the breaker closes.
        flush_pending()
        assert pending_keys() == set()
        assert tiers.l3_breaker.state == "closed"
        assert not CacheEntry.objects.filter(payload={"v": "old"}).exists()
        flush_l1_and_l2()
        value, info = get_or_compute(persistent.name, {"user_id": 1}, lambda: "newer")
        assert (value, info.tier) == ("newer", "miss")
        flush_l1_and_l2()
        assert get_or_compute(persistent.name, {"user_id": 1}, lambda: "x")[0] == "newer"

    def test_a_bump_that_fails_inside_a_transaction_does_not_break_it(self, persistent, monkeypatch):
        get_or_compute(persistent.name, {"user_id": 1}, lambda: "old")

        def down(*args):
            raise DatabaseError("deadlock detected")

        monkeypatch.setattr(tiers, "_l3_bump", down)
        with transaction.atomic():
            assert invalidate_now(persistent.name, "user:1") is False
            assert CacheEntry.objects.count() == 1  # the transaction still works


def run_worker(db_path: Path, action: str, value: str = "") -> dict:
    done = run_sqlite_worker(db_path, action, value)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(False)
def test_separate_processes_on_the_embedded_default_share_l3(tmp_path):
    """prewarm_cache in one process, the server in another: L3 rows and invalidations are shared."""
    db = tmp_path / "shared.sqlite3"
    assert run_worker(db, "read", "first") == {"value": "first", "tier": "miss"}
    assert run_worker(db, "read", "second") == {"value": "first", "tier": "l3"}
    assert run_worker(db, "invalidate")["rows"] == 0
    assert run_worker(db, "read", "third") == {"value": "third", "tier": "miss"}
    assert run_worker(db, "read", "fourth") == {"value": "third", "tier": "l3"}


@pytest.mark.django_db(False)
def test_every_process_adds_its_hits_of_every_tier_at_exit(tmp_path):
    """Access counts of two processes (L3 and L1 hits) reach the shared table, flushed at exit."""
    db = tmp_path / "shared.sqlite3"
    assert run_worker(db, "hits", "3") == {"tiers": ["miss", "l1", "l1"]}
    assert run_worker(db, "hits", "3") == {"tiers": ["l3", "l1", "l1"]}
    assert run_worker(db, "accesses") == {"access_count": 5}


class TestOutageRecovery:
    def test_keeps_valid_l3_rows_but_serves_no_pre_outage_l2_value(self, persistent, fault_redis):
        tiers.l2_breaker.clock = breaker_clock = FakeClock()
        source = {1: "one-before", 2: "two"}
        for user_id in (1, 2):
            get_or_compute(persistent.name, {"user_id": user_id}, lambda u=user_id: source[u])
        tiers.l1_clear()
        assert get_or_compute(persistent.name, {"user_id": 1}, Counter())[1].tier == "l2"
        before = durable_of(persistent, "user:1")

        fault_redis.freeze()  # Redis stops answering but keeps the pre-outage values and generations
        source[1] = "one-after"
        invalidate_now(persistent.name, "user:1")  # its L2 bump is lost; its database part is not
        assert durable_of(persistent, "user:1") != before
        assert list(CacheEntry.objects.values_list("user_id", flat=True)) == [2]
        assert tiers.l2_breaker.state == "open"

        fault_redis.thaw()
        breaker_clock.advance(10)
        tiers.l1_clear()
        # The probe ends the outage and bumps the epoch: user 1's pre-outage L2 value (still under
        # the generation whose bump was lost) is never served.
        value, info = get_or_compute(persistent.name, {"user_id": 1}, lambda: source[1])
        assert tiers.l2_breaker.state == "closed" and tiers.l2_breaker.recoveries == 1
        assert (value, info.tier) == ("one-after", "miss")
        # User 2's row was valid before the outage and still is: the epoch does not retire L3.
        value, info = get_or_compute(persistent.name, {"user_id": 2}, Counter())
        assert (value, info.tier) == ("two", "l3")
