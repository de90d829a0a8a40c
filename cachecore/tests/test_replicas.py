"""Read replicas in-process: the router's rules, the no-replica fast path, the recorded WAL positions.

Against a real streaming replica with a known lag: test_replica_lag.py.
"""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import override_settings

from cachecore import replicas, report, routing, stats, wal
from cachecore.invalidation import invalidate_now
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import user_scope
from cachecore.tests.testapp.models import Owner
from tests.helpers import QueryCounter

WITH_REPLICA = override_settings(CACHECORE_REPLICA_DATABASES=("replica_1",))


@pytest.fixture
def router():
    return routing.ReplicaRouter()


# -- without replicas ----------------------------------------------------------------------------


def test_without_replicas_there_is_no_router_and_a_miss_does_no_replica_work(make_ns):
    assert settings.DATABASE_ROUTERS == []  # the suite runs without DATABASE_REPLICA_URLS
    ns = make_ns()
    # No django_db mark: a query would raise here.
    assert replicas.choose(ns.name, None) is None
    get_or_compute(ns.name, {"user_id": 1}, lambda: 1)
    assert not [key for key in stats.totals() if key[0] == "replica"]
    assert "replicas" not in report.stats()


@pytest.mark.django_db(transaction=True)
def test_without_replicas_an_invalidation_records_no_position(make_ns):
    ns = make_ns()  # not persistent: nothing of it is in the database
    assert invalidate_now(ns.name)
    assert not CacheGeneration.objects.filter(namespace=ns.name).exists()


@WITH_REPLICA
def test_a_namespace_kept_off_replicas_asks_no_replica(make_ns):
    ns = make_ns(replicas=False)
    # No django_db mark: asking for a position or a replica's replay would raise here.
    assert get_or_compute(ns.name, {"user_id": 1}, lambda: 1)[0] == 1
    assert not [key for key in stats.totals() if key[0] == "replica"]


@override_settings(CACHECORE_REPLICA_DATABASES=("replica_9",), CACHECORE_REPLICA_MAX_WAIT=-1)
def test_system_checks_name_unknown_replica_aliases_and_a_negative_wait():
    from cachecore.engine_checks import check_engine_settings

    ids = sorted(error.id for error in check_engine_settings())
    assert ids == ["cachecore.E102", "cachecore.E104"]


# -- the router ----------------------------------------------------------------------------------


@WITH_REPLICA
def test_plain_reads_and_writes_go_to_the_primary(router):
    assert router.db_for_read(Owner) == "default"
    assert router.db_for_write(Owner) == "default"
    assert router.db_for_write(Owner, instance=Owner(name="x")) == "default"


@WITH_REPLICA
@pytest.mark.django_db(transaction=True)  # no test transaction around it: reads outside one
def test_inside_a_replica_context_only_other_apps_reads_go_to_the_replica(router):
    with routing.reading_from("replica_1"):
        assert router.db_for_read(Owner) == "replica_1"
        assert router.db_for_read(CacheEntry) == "default"  # the engine's own tables
        assert router.db_for_read(User) == "default"  # logins and sessions
        assert router.db_for_write(Owner) == "default"
        with transaction.atomic():
            assert router.db_for_read(Owner) == "default"  # the transaction's own writes are here
        with routing.reading_from(None):
            assert router.db_for_read(Owner) == "default"
        assert router.db_for_read(Owner) == "replica_1"
    assert router.db_for_read(Owner) == "default"


@WITH_REPLICA
def test_replicas_are_never_migrated_and_share_relations_with_the_primary(router):
    assert router.allow_migrate("replica_1", "testapp") is False
    assert router.allow_migrate("default", "testapp") is None
    on_replica, on_primary = Owner(name="a"), Owner(name="b")
    on_replica._state.db, on_primary._state.db = "replica_1", "default"
    assert router.allow_relation(on_replica, on_primary) is True


@WITH_REPLICA
@pytest.mark.django_db
def test_a_computation_inside_a_transaction_stays_on_the_primary_without_asking_a_replica(make_ns):
    ns = make_ns()
    with transaction.atomic(), QueryCounter() as queries:
        assert replicas.choose(ns.name, None) is None
        with replicas.replica_reads():
            assert routing.read_target() is None
    assert len(queries) == 0, queries.sql
    assert stats.totals()[("replica", ns.name, "transaction")] == 1


def test_replica_reads_without_replicas_read_the_primary():
    with replicas.replica_reads():
        assert routing.read_target() is None


# -- the report ----------------------------------------------------------------------------------


@WITH_REPLICA
def test_the_report_counts_replica_computations_and_fallbacks_by_reason(make_ns):
    ns = make_ns()
    stats.record_replica(ns.name, "replica")
    stats.record_replica(ns.name, "lag")
    stats.record_replica(ns.name, "lag")
    found = report.stats()
    assert found["namespaces"][ns.name]["replica"] == {"reads": 1, "fallbacks": {"lag": 2}}
    assert found["replicas"]["reads"] == 1
    assert found["replicas"]["fallbacks"] == {"lag": 2}
    assert found["replicas"]["databases"]["replica_1"]["state"] == "closed"


# -- recorded WAL positions (PostgreSQL) ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@WITH_REPLICA
def test_every_invalidation_records_the_primarys_position_and_it_only_grows(make_ns):
    plain = make_ns(scope=user_scope)
    persistent = make_ns(scope=user_scope, persistent=True, l3_ttl=60)
    start = wal.current_lsn()
    assert invalidate_now(plain.name, "user:1")
    row = CacheGeneration.objects.get(namespace=plain.name, scope="user:1")
    assert row.token == "0"  # a namespace without L3 keeps the initial token
    assert start <= row.lsn <= wal.current_lsn()
    assert wal.invalidation_lsn(plain.name, "user:1") == row.lsn
    assert wal.invalidation_lsn(plain.name, "user:2") is None
    assert invalidate_now(plain.name)  # the whole namespace: newer than the scope's
    assert wal.invalidation_lsn(plain.name, "user:2") > row.lsn
    assert wal.invalidation_lsn(plain.name, "user:1") > row.lsn

    assert invalidate_now(persistent.name, "user:1")
    first = CacheGeneration.objects.get(namespace=persistent.name, scope="user:1")
    assert first.token != "0" and first.lsn is not None
    wal.record_bump(persistent.name, "user:1", None, first.updated_at, initial="0")  # an older relay, late
    CacheGeneration.objects.filter(pk=first.pk).update(lsn=first.lsn + 10**9)
    wal.record_bump(persistent.name, "user:1", "t2", first.updated_at, initial="0")
    again = CacheGeneration.objects.get(pk=first.pk)
    assert again.token == "t2"
    assert again.lsn == first.lsn + 10**9  # GREATEST: a relay finishing late never lowers it
