"""Commit-aware invalidation through the outbox: signals, transactions, bulk helpers, applying, failures."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, models, transaction
from django.test import override_settings

from cachecore import generations, invalidation, relay, tiers
from cachecore.invalidation import (
    InvalidatingManager,
    InvalidatingQuerySet,
    bulk_invalidation,
    flush_pending,
    invalidate,
    invalidate_all,
    invalidate_now,
    watch_model,
)
from cachecore.models import InvalidationOutbox
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import BumpSpy, failures, invalidations, pending_keys, temporary_namespace
from cachecore.tests.testapp.models import Item, Owner, Part

NS = "test.inv.brands"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner_row():
    return Owner.objects.create(name="Acme")


def _user_scope(params: dict) -> str | None:
    return f"user:{params['user']}" if params.get("user") is not None else None


@pytest.fixture
def brand_ns():
    with temporary_namespace(
        NS, watch=[Item], params=("user",), key_scope=_user_scope, l1_ttl=60, l2_ttl=60, persistent=True, l3_ttl=60
    ) as ns:
        yield ns


@pytest.fixture
def bumps(monkeypatch):
    return BumpSpy(monkeypatch)


def brand_names():
    return sorted(Item.objects.values_list("name", flat=True))


class TestSignals:
    def test_save_outside_a_transaction_records_an_outbox_row(self, brand_ns, owner_row, bumps):
        Item.objects.create(owner=owner_row, name="A")
        assert (NS, None) in pending_keys()
        assert bumps.count(NS) == 0  # debounced: nothing fired yet
        assert flush_pending() >= 1
        assert bumps.count(NS) == 1
        # The receiver's row (and on PostgreSQL the trigger's row of the table) applied as one.
        assert invalidations(NS) == 1

    def test_delete_schedules(self, brand_ns, owner_row, bumps):
        brand = Item.objects.create(owner=owner_row, name="A")
        flush_pending()
        brand.delete()
        assert (NS, None) in pending_keys()
        flush_pending()
        assert bumps.count(NS) == 2

    def test_unwatched_model_schedules_nothing(self, brand_ns, bumps):
        Owner.objects.create(name="Other")
        assert (NS, None) not in pending_keys()

    def test_scope_function_decides_the_scope(self, owner_row, bumps):
        def scope(brand):
            return f"client:{brand.owner_id}"

        with temporary_namespace("test.inv.scoped", watch=[Item], scope=scope):
            Item.objects.create(owner=owner_row, name="A")
            assert ("test.inv.scoped", f"client:{owner_row.pk}") in pending_keys()
            flush_pending()
            assert bumps.count("test.inv.scoped", f"client:{owner_row.pk}") == 1
            # On PostgreSQL the table's trigger also records the write, whole (it cannot know scopes).
            assert bumps.count("test.inv.scoped") == (1 if connection.vendor == "postgresql" else 0)

    def test_scope_function_may_return_several_scopes(self, owner_row):
        with temporary_namespace("test.inv.multi", watch=[Item], scope=lambda b: ["a", "b", "a"]):
            Item.objects.create(owner=owner_row, name="A")
            assert {("test.inv.multi", "a"), ("test.inv.multi", "b")} <= pending_keys()

    def test_failing_scope_function_falls_back_to_the_whole_namespace(self, owner_row):
        def broken(brand):
            raise ValueError("no scope")

        with temporary_namespace("test.inv.broken", watch=[Item], scope=broken):
            Item.objects.create(owner=owner_row, name="A")  # the write itself succeeds
            assert ("test.inv.broken", None) in pending_keys()

    @pytest.mark.parametrize("result", [7, [1, "b"]])
    def test_scope_function_returning_a_non_string_falls_back_to_the_whole_namespace(self, owner_row, result):
        with temporary_namespace("test.inv.badscope", watch=[Item], scope=lambda brand: result):
            Item.objects.create(owner=owner_row, name="A")  # the write itself succeeds
            assert pending_keys() >= {("test.inv.badscope", None)}

    def test_m2m_changes_schedule_both_sides(self, bumps):
        user = get_user_model().objects.create(username="u")
        group = Group.objects.create(name="g")
        with (
            temporary_namespace("test.inv.users", watch=[get_user_model()]),
            temporary_namespace("test.inv.groups", watch=[Group]),
        ):
            flush_pending()
            user.groups.add(group)
            assert {("test.inv.users", None), ("test.inv.groups", None)} <= pending_keys()
            flush_pending()
            group.user_set.remove(user)  # the reverse side
            assert {("test.inv.users", None), ("test.inv.groups", None)} <= pending_keys()
            flush_pending()
            user.groups.clear()
            assert ("test.inv.users", None) in pending_keys()

    def test_watch_model_is_idempotent_and_accepts_a_label(self, brand_ns):
        watch_model("cachecore_testapp.Item", NS)
        watch_model(Item, NS)
        assert invalidation.namespaces_for_model(Item).count(NS) == 1
        assert NS in invalidation.watched_tables()["cachecore_testapp_item"]


class TestTransactions:
    def test_thousand_saves_in_one_transaction_make_one_bump(self, brand_ns, owner_row, bumps, count_queries):
        with transaction.atomic():
            for i in range(1000):
                Item.objects.create(owner=owner_row, name=f"b{i}")
            queued = [f for _, f, *_ in transaction.get_connection().run_on_commit]
            assert len([f for f in queued if getattr(f, "namespace", None) == NS]) == 1
            assert InvalidationOutbox.objects.filter(namespace=NS).count() == 1  # one row, not 1,000
        assert (NS, None) in pending_keys()
        flush_pending()
        assert bumps.count(NS) == 1
        assert invalidations(NS) == 1

    def test_rollback_invalidates_nothing(self, brand_ns, owner_row, bumps):
        with pytest.raises(RuntimeError), transaction.atomic():
            Item.objects.create(owner=owner_row, name="A")
            raise RuntimeError("abort")
        assert (NS, None) not in pending_keys()
        flush_pending()
        assert bumps.count(NS) == 0
        assert brand_names() == []

    def test_rolled_back_savepoint_does_not_hide_a_later_write(self, brand_ns, owner_row, bumps):
        # The first write (and its queued callback) is rolled back with its savepoint; the write
        # after it must still queue its own invalidation.
        with transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                Item.objects.create(owner=owner_row, name="gone")
                raise RuntimeError("abort inner")
            Item.objects.create(owner=owner_row, name="kept")
        flush_pending()
        assert bumps.count(NS) == 1
        assert brand_names() == ["kept"]

    def test_write_only_in_rolled_back_savepoint_invalidates_nothing(self, brand_ns, owner_row, bumps):
        with transaction.atomic(), pytest.raises(RuntimeError), transaction.atomic():
            Item.objects.create(owner=owner_row, name="gone")
            raise RuntimeError("abort inner")
        flush_pending()
        assert bumps.count(NS) == 0

    def test_released_savepoint_write_is_invalidated_once(self, brand_ns, owner_row, bumps):
        with transaction.atomic():
            with transaction.atomic():
                Item.objects.create(owner=owner_row, name="inner")
            Item.objects.create(owner=owner_row, name="outer")
        flush_pending()
        assert bumps.count(NS) == 1

    def test_zero_debounce_fires_at_commit(self, owner_row, bumps):
        with temporary_namespace("test.inv.now", watch=[Item], debounce=0):
            with transaction.atomic():
                Item.objects.create(owner=owner_row, name="A")
                assert bumps.count("test.inv.now") == 0
            assert bumps.count("test.inv.now") == 1  # no flush needed

    @override_settings(CACHECORE_DEBOUNCE_SECONDS=0)
    def test_setting_zero_makes_every_namespace_synchronous(self, brand_ns, owner_row, bumps):
        Item.objects.create(owner=owner_row, name="A")
        assert bumps.count(NS) == 1


class TestCachedValues:
    def test_a_cached_value_is_recomputed_after_the_write_is_invalidated(self, brand_ns, owner_row):
        def compute():
            return brand_names()

        brand = Item.objects.create(owner=owner_row, name="old")
        flush_pending()
        assert get_or_compute(NS, {}, compute)[0] == ["old"]
        assert get_or_compute(NS, {}, compute)[1].tier == "l1"
        brand.name = "new"
        brand.save()
        flush_pending()
        value, info = get_or_compute(NS, {}, compute)
        assert (value, info.tier) == (["new"], "miss")

    def test_firing_deletes_l3_rows_and_evicts_l1(self, brand_ns):
        from cachecore.models import CacheEntry

        get_or_compute(NS, {}, lambda: "v")
        assert CacheEntry.objects.filter(namespace=NS).count() == 1
        assert tiers.l1.entries_by_namespace().get(NS) == 1
        invalidate_now(NS)
        assert CacheEntry.objects.filter(namespace=NS).count() == 0
        assert tiers.l1.entries_by_namespace().get(NS) is None


class TestExplicitApi:
    def test_invalidate_unknown_namespace_is_a_programming_error(self):
        with pytest.raises(LookupError):
            invalidate("test.inv.nope")

    @pytest.mark.parametrize("scope", ["", 7])
    def test_an_empty_or_non_string_scope_is_refused(self, brand_ns, scope):
        # "" used to be a silent no-op: readers and the bump used different keys.
        with pytest.raises(ValueError, match="scope"):
            invalidate(NS, scope)
        with pytest.raises(ValueError, match="scope"):
            invalidate_now(NS, scope)
        assert pending_keys() == set()

    def test_a_scope_for_a_namespace_declared_without_scope_is_refused(self, brand_ns):
        with temporary_namespace("test.inv.unscoped") as unscoped:
            assert unscoped.scope is None
            with pytest.raises(ValueError, match="declared without scope="):
                invalidate(unscoped.name, "user:1")
            with (
                pytest.raises(ValueError, match="declared without scope="),
                bulk_invalidation(unscoped.name, scope="user:1"),
            ):
                pass

    def test_invalidate_waits_for_commit(self, brand_ns, bumps):
        with transaction.atomic():
            invalidate(NS, "user:1", source="api")
            invalidate(NS, "user:1", source="api")
            assert bumps.count(NS, "user:1") == 0
        assert pending_keys() == {(NS, "user:1")}
        assert InvalidationOutbox.objects.filter(namespace=NS).count() == 1
        flush_pending()
        assert bumps.count(NS, "user:1") == 1
        assert invalidations(NS, "api") == 1

    def test_invalidate_now_applies_and_removes_the_pending_row(self, brand_ns, bumps):
        invalidate(NS)
        assert (NS, None) in pending_keys()
        assert invalidate_now(NS, source="command") is True
        assert bumps.count(NS) == 1
        assert (NS, None) not in pending_keys()
        assert flush_pending() == 0

    def test_invalidate_now_that_cannot_reach_redis_is_kept_for_the_relay(self, brand_ns, monkeypatch):
        def refused(namespace, scope=None):
            raise generations.BumpFailed("redis refuses writes")

        monkeypatch.setattr(generations, "bump_l2", refused)
        assert invalidate_now(NS, source="command") is False
        assert (NS, None) in pending_keys()
        monkeypatch.undo()
        assert flush_pending() == 1
        assert pending_keys() == set()

    def test_invalidate_all_covers_every_registered_namespace(self, brand_ns, bumps):
        with temporary_namespace("test.inv.other"):
            names = invalidate_all(source="seed")
        assert {NS, "test.inv.other"} <= set(names)
        assert bumps.count(NS) == 1 and bumps.count("test.inv.other") == 1
        assert invalidations(NS, "seed") == 1

    def test_invalidate_now_inside_a_transaction_holds_after_the_commit(self):
        # The transaction's own write is invisible to other readers until the commit: a reader
        # between invalidate_now() and the commit computes from the old data under the new
        # generation. The invalidation must still hold once the write is visible.
        with temporary_namespace("test.inv.atomic", l1_ttl=60, l2_ttl=60) as ns:
            committed = {"version": "old"}
            with transaction.atomic():
                invalidate_now(ns.name, source="api")
                reader = threading.Thread(target=get_or_compute, args=(ns.name, {}, lambda: dict(committed)))
                reader.start()  # another request reads the committed (old) data meanwhile
                reader.join(10)
                committed["version"] = "new"  # stands for the transaction's write becoming visible
            assert get_or_compute(ns.name, {}, lambda: dict(committed))[0] == {"version": "new"}


def test_info_reports_pending_invalidations(brand_ns):
    invalidate(NS, "user:1")
    info = invalidation.info()
    assert info["pending"] == 1 and info["oldest_age_seconds"] >= 0
    assert info["watched_models"] >= 1


class TestFailures:
    def test_a_failed_application_keeps_the_row_and_is_retried(self, brand_ns, owner_row, monkeypatch, caplog):
        def broken(namespace, scope=None):
            raise generations.BumpFailed("redis down")

        get_or_compute(NS, {}, lambda: "v")
        monkeypatch.setattr(generations, "bump_l2", broken)
        with transaction.atomic():
            Item.objects.create(owner=owner_row, name="A")
        flush_pending()  # must not raise
        assert failures(NS) == 1
        assert (NS, None) in pending_keys()  # the row waits for a relay that can reach Redis
        assert "not applied yet" in caplog.text
        monkeypatch.undo()
        flush_pending()
        assert pending_keys() == set()

    def test_apply_key_reports_failure_and_success(self, brand_ns, monkeypatch):
        assert relay.apply_key(NS, None) is True
        assert failures(NS) == 0
        monkeypatch.setattr(
            generations,
            "bump_durable",
            lambda namespace, scope=None: (_ for _ in ()).throw(generations.BumpFailed("db down")),
        )
        assert relay.apply_key(NS, None) is False
        assert failures(NS) == 1


class TestBulk:
    def test_update_inside_bulk_invalidation_makes_one_invalidation(self, brand_ns, owner_row, bumps):
        plain = models.QuerySet(Item)  # a plain queryset: no signals, no outbox row
        plain.bulk_create([Item(owner=owner_row, name=f"b{i}") for i in range(50)])
        assert (NS, None) not in pending_keys()  # why the helper exists
        with transaction.atomic(), bulk_invalidation(NS):
            plain.update(logo="https://example.com/x.png")
        flush_pending()
        assert bumps.count(NS) == 1

    def test_models_name_their_watched_namespaces(self, brand_ns):
        with bulk_invalidation(Item) as names:
            pass
        assert NS in names
        assert (NS, None) in pending_keys()

    def test_rolled_back_bulk_block_invalidates_nothing(self, brand_ns, owner_row, bumps):
        with pytest.raises(RuntimeError), transaction.atomic(), bulk_invalidation(NS):
            Item.objects.bulk_create([Item(owner=owner_row, name="x")])
            raise RuntimeError("abort")
        flush_pending()
        assert bumps.count(NS) == 0

    def test_failure_outside_a_transaction_still_invalidates_committed_statements(self, brand_ns, owner_row):
        with pytest.raises(RuntimeError), bulk_invalidation(NS):
            Item.objects.bulk_create([Item(owner=owner_row, name="x")])  # autocommitted
            raise RuntimeError("later failure")
        assert (NS, None) in pending_keys()

    @pytest.mark.django_db(transaction=True)
    def test_a_failed_bulk_write_raises_its_own_error_and_records_nothing(self, owner_row):
        # The write's error (here a unique violation; on SQLite under concurrent writers "database
        # is locked") must reach the caller as it is, not be replaced by a TransactionManagementError
        # from recording an invalidation in the broken transaction (the ingest answered 500 so).
        with temporary_namespace("test.inv.owners", watch=[Owner]) as ns:
            flush_pending()
            with pytest.raises(IntegrityError), transaction.atomic():
                Owner.objects.bulk_create([Owner(name=owner_row.name)])
            assert (ns.name, None) not in pending_keys()
            with pytest.raises(IntegrityError):
                Owner.objects.bulk_create([Owner(name="fresh"), Owner(name=owner_row.name)])  # all or nothing
            assert not Owner.objects.filter(name="fresh").exists()
            assert (ns.name, None) not in pending_keys()

    def test_unknown_namespace_is_rejected_before_the_block_runs(self):
        ran = []
        with pytest.raises(LookupError), bulk_invalidation("test.inv.nope"):
            ran.append(1)
        assert ran == []

    def test_invalidating_queryset_schedules_every_bulk_write(self, brand_ns, owner_row, bumps):
        brands = InvalidatingQuerySet(Item)
        operations = [
            lambda: brands.bulk_create([Item(owner=owner_row, name="a"), Item(owner=owner_row, name="b")]),
            lambda: brands.filter(name="a").update(logo="https://example.com/a.png"),
            lambda: brands.bulk_update([Item(pk=b.pk, name=b.name + "!") for b in Item.objects.all()], ["name"]),
            lambda: brands.filter(name="b!").delete(),
        ]
        for operation in operations:
            flush_pending()
            before = bumps.count(NS)
            operation()
            assert (NS, None) in pending_keys()
            flush_pending()
            assert bumps.count(NS) == before + 1
        assert brand_names() == ["a!"]

    def test_invalidating_queryset_in_a_transaction_queues_once(self, brand_ns, owner_row, bumps):
        brands = InvalidatingQuerySet(Item)
        with transaction.atomic():
            brands.bulk_create([Item(owner=owner_row, name=f"b{i}") for i in range(10)])
            for i in range(10):
                brands.filter(name=f"b{i}").update(logo="https://example.com/l.png")
        flush_pending()
        assert bumps.count(NS) == 1

    def test_bulk_create_of_ten_thousand_rows_records_one_row_per_key(self, brand_ns, owner_row, count_queries):
        InvalidationOutbox.objects.all().delete()
        with transaction.atomic():
            Item.objects.bulk_create([Item(owner=owner_row, name=f"b{i}") for i in range(10_000)])
        rows = InvalidationOutbox.objects.values_list("namespace", "scope")
        assert len(rows) == len(set(rows))  # one row per (namespace, scope), none per written row
        assert (NS, "") in set(rows)

    def test_project_models_record_queryset_writes_without_any_helper(self, brand_ns, owner_row, bumps):
        # Finding 1: a queryset update() of a watched model, in a process where no listener runs.
        brand = Item.objects.create(owner=owner_row, name="A")
        flush_pending()
        cached = get_or_compute(NS, {}, brand_names)[0]
        Item.objects.filter(pk=brand.pk).update(name="B")
        Item.objects.filter(pk=brand.pk).delete()
        flush_pending()
        assert (cached, get_or_compute(NS, {}, brand_names)[0]) == (["A"], [])

    def test_invalidating_manager_hands_out_invalidating_querysets(self, brand_ns, owner_row, bumps):
        manager = InvalidatingManager()
        manager.model = Item  # what contribute_to_class does for `objects = InvalidatingManager()`
        manager.bulk_create([Item(owner=owner_row, name="a")])
        manager.filter(name="a").update(name="b")
        assert isinstance(manager.all(), InvalidatingQuerySet)
        assert not hasattr(manager, "delete")  # as with Django's managers: delete() is queryset-only
        assert pending_keys() == {(NS, None)}
        assert InvalidationOutbox.objects.filter(namespace=NS).count() == 2  # two autocommitted writes
        flush_pending()
        assert bumps.count(NS) == 1  # both rows coalesced by the relay

    def test_cascade_delete_of_a_watched_model_schedules(self, owner_row, bumps):
        # Deleting a client cascades to its brands' runs through the collector (with signals).
        brand = Item.objects.create(owner=owner_row, name="A")
        Part.objects.create(item=brand, name="r", start_date=date(2024, 1, 1))
        with temporary_namespace("test.inv.runs", watch=[Part]):
            owner_row.delete()
            assert ("test.inv.runs", None) in pending_keys()


FLUSH_AT_EXIT = textwrap.dedent(
    """
    import os, sys
    os.environ.pop("DATABASE_URL", None)  # a private SQLite file: the parent reads it afterwards
    import django
    from django.conf import settings
    settings.DATABASES["default"]["NAME"] = sys.argv[1]
    django.setup()
    from django.db import connection
    from cachecore.invalidation import invalidate
    from cachecore.models import CacheEntry, CacheGeneration, InvalidationOutbox
    from cachecore.namespaces import Namespace, register_namespace
    from cachecore.service import get_or_compute

    with connection.schema_editor() as editor:
        for model in (CacheEntry, CacheGeneration, InvalidationOutbox):
            editor.create_model(model)
    register_namespace(Namespace(
        name="test.exit", params=("user",), scope=lambda p: f"user:{p['user']}",
        persistent=True, l3_ttl=600, debounce=600, max_wait=600,
    ))
    writes = int(sys.argv[2])
    for user in range(writes):
        get_or_compute("test.exit", {"user": user}, lambda: "cached")
    for user in range(writes):  # committed scope invalidations, each in its own autocommit
        invalidate("test.exit", f"user:{user}")
    print("pending", InvalidationOutbox.objects.count(), "rows", CacheEntry.objects.count(), flush=True)
    # Exit without flushing: the atexit hook must apply the pending rows.
    """
)


@pytest.mark.parametrize("writes", [1, 400])
def test_pending_invalidations_are_applied_when_the_process_exits(tmp_path, writes):
    db = tmp_path / "exit.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", "CACHECORE_DEBOUNCE_SECONDS": "600"}
    done = subprocess.run(
        [sys.executable, "-c", FLUSH_AT_EXIT, str(db), str(writes)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.getcwd(),
    )
    assert done.returncode == 0, done.stderr
    assert f"pending {writes} rows {writes}" in done.stdout
    with sqlite3.connect(db) as conn:
        entries = conn.execute("SELECT count(*) FROM cachecore_cacheentry WHERE namespace = 'test.exit'").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM cachecore_invalidationoutbox").fetchone()[0]
    assert entries == 0, "the pending invalidation was not applied at exit (its L3 row survived)"
    assert left == 0, f"{left} of {writes} outbox rows were left at exit"


def test_events_are_json_with_namespace_scope_and_origin():
    from cachecore import coherence

    event = json.loads(coherence.encode_event("ns", "user:1", "abc"))
    assert event["namespace"] == "ns" and event["scope"] == "user:1" and event["generation"] == "abc"
    assert event["origin"] == coherence.origin()
