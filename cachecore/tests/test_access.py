"""Batched access counts: hits of every tier write nothing; a flush is one UPDATE per batch."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cachecore import access
from cachecore.models import CacheEntry
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter


def make_row(key_hash, **fields):
    now = timezone.now()
    defaults = {
        "namespace": "acc",
        "data_hash": "d",
        "payload": {"v": 1},
        "created_at": now,
        "expires_at": now + timedelta(hours=1),
        "last_accessed": now - timedelta(days=1),
    }
    return CacheEntry.objects.create(key_hash=key_hash, **{**defaults, **fields})


@pytest.mark.django_db
class TestAccessFlush:
    @pytest.mark.django_db(transaction=True)  # as in a request: no transaction around the reads
    def test_l3_hits_run_no_write_until_flush(self, make_ns, count_queries):
        ns = make_ns(l1_ttl=0, l2_ttl=0, persistent=True)
        get_or_compute(ns.name, {"user_id": 1}, Counter())
        with count_queries() as q:
            for _ in range(3):
                assert get_or_compute(ns.name, {"user_id": 1}, Counter())[1].tier == "l3"
        assert len(q) == 3 and all(s["sql"].lstrip().upper().startswith("SELECT") for s in q.captured_queries)
        assert access.flush() == 1
        assert CacheEntry.objects.get(namespace=ns.name).access_count == 3

    def test_flush_is_one_update_for_many_rows(self, count_queries):
        rows = [make_row(f"k{i}") for i in range(20)]
        later = timezone.now() + timedelta(minutes=5)
        for i, row in enumerate(rows):
            for _ in range(i + 1):
                access.record("acc", row.key_hash, later.timestamp())
        with count_queries() as q:
            assert access.flush() == 20
        assert len(q) == 1 and q.captured_queries[0]["sql"].upper().startswith("UPDATE")
        counts = dict(CacheEntry.objects.values_list("key_hash", "access_count"))
        assert counts == {f"k{i}": i + 1 for i in range(20)}
        assert set(CacheEntry.objects.values_list("last_accessed", flat=True)) == {later}
        assert access.pending() == 0

    @override_settings(CACHECORE_ACCESS_BATCH_SIZE=7)
    def test_batches_bound_each_update(self, count_queries):
        rows = [make_row(f"k{i}") for i in range(20)]
        for row in rows:
            access.record("acc", row.key_hash)
        with count_queries() as q:
            assert access.flush() == 20
        assert len(q) == 3

    def test_counts_accumulate_across_flushes_and_empty_flush_is_free(self, count_queries):
        row = make_row("k")
        access.record("acc", row.key_hash)
        access.flush()
        access.record("acc", row.key_hash)
        access.record("acc", row.key_hash)
        access.flush()
        row.refresh_from_db()
        assert row.access_count == 3
        with count_queries() as q:
            assert access.flush() == 0
        assert len(q) == 0

    def test_l1_and_l2_hits_are_counted_too(self, make_ns, count_queries):
        ns = make_ns(l1_ttl=60, l2_ttl=60, persistent=True)
        get_or_compute(ns.name, {"user_id": 1}, Counter())  # miss: computed, written to every tier
        with count_queries() as q:
            for _ in range(3):
                assert get_or_compute(ns.name, {"user_id": 1}, Counter())[1].tier == "l1"
        assert len(q) == 0  # a hit writes (and reads) nothing in the database
        from cachecore import tiers

        tiers.l1_clear()
        assert get_or_compute(ns.name, {"user_id": 1}, Counter())[1].tier == "l2"
        assert access.flush() == 1
        assert CacheEntry.objects.get(namespace=ns.name).access_count == 4

    def test_hits_of_a_namespace_without_rows_are_not_recorded(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, persistent=False)
        get_or_compute(ns.name, {"user_id": 1}, Counter())
        get_or_compute(ns.name, {"user_id": 1}, Counter())
        assert access.pending() == 0

    def test_same_key_hash_in_two_namespaces_counts_apart(self):
        a = make_row("same")
        b = make_row("same", namespace="other")
        access.record("acc", "same")
        access.record("acc", "same")
        access.record("other", "same")
        assert access.flush() == 2
        a.refresh_from_db()
        b.refresh_from_db()
        assert (a.access_count, b.access_count) == (2, 1)

    def test_an_older_access_does_not_move_last_accessed_back(self):
        row = make_row("k")
        newer = timezone.now() + timedelta(minutes=5)
        access.record("acc", "k", newer.timestamp())
        access.flush()
        access.record("acc", "k", (newer - timedelta(minutes=1)).timestamp())  # another process, late
        access.flush()
        row.refresh_from_db()
        assert row.last_accessed == newer
        assert row.access_count == 2

    def test_deleted_row_is_ignored(self):
        row = make_row("k")
        access.record("acc", row.key_hash)
        row.delete()
        assert access.flush() == 0
        assert access.info()["pending"] == 0


def test_a_forked_child_runs_its_own_flusher_and_drops_the_parents_hits():
    import os

    access.record("acc", "one")  # the parent's flusher thread is running and a hit is pending
    assert access._state["thread"] is not None
    pid = os.fork()
    if pid == 0:  # the child inherits the parent's thread object, but not the thread
        ok = False
        try:
            access.record("acc", "two")
            thread = access._state["thread"]
            ok = thread is not None and thread.is_alive() and access._pending.keys() == {("acc", "two")}
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ("acc", "one") in access._pending  # the parent still owns (and flushes) its own hits
