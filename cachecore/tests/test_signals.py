"""Receivers are connected per watched model, so unwatched models keep Django's fast delete."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.deletion import Collector
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.test.utils import isolate_apps
from django.utils import timezone

from cachecore import invalidation
from cachecore.invalidation import flush_pending
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.tests.invalidation_helpers import pending_keys, temporary_namespace
from cachecore.tests.testapp.models import Item, Note, Owner
from tests.helpers import QueryCounter

pytestmark = pytest.mark.django_db(transaction=True)


def can_fast_delete(queryset) -> bool:
    return Collector(using="default").can_fast_delete(queryset)


def make_entries(n: int) -> None:
    now = timezone.now()
    CacheEntry.objects.bulk_create(
        CacheEntry(
            namespace="test.fast",
            key_hash=f"{i:064x}",
            data_hash="0" * 64,
            payload={"v": i},
            created_at=now,
            expires_at=now + timedelta(hours=1),
            last_accessed=now,
        )
        for i in range(n)
    )


class TestFastDelete:
    def test_unwatched_models_have_no_delete_receivers(self):
        for model in (CacheEntry, CacheGeneration, Note):
            assert model not in invalidation.watched_models()
            assert not post_delete.has_listeners(model) and not post_save.has_listeners(model)
            assert can_fast_delete(model.objects.all())

    def test_an_unwatched_queryset_delete_is_one_statement(self):
        make_entries(5)
        with QueryCounter() as q:
            deleted, _ = CacheEntry.objects.filter(namespace="test.fast").delete()
        assert deleted == 5
        sqls = [query["sql"] for query in q.captured_queries]
        statements = [sql for sql in sqls if sql.split()[0].upper() in {"SELECT", "DELETE", "UPDATE", "INSERT"}]
        assert len(statements) == 1 and statements[0].startswith("DELETE"), q.sql  # no row is loaded

    def test_watched_models_have_their_receivers(self):
        for model in invalidation.watched_models():
            assert post_delete.has_listeners(model) and post_save.has_listeners(model)
            assert not can_fast_delete(model.objects.all())

    def test_watching_connects_and_unwatching_disconnects(self):
        assert can_fast_delete(Note.objects.all())
        with temporary_namespace("test.sig.watermark", watch=[Note], debounce=600):
            assert not can_fast_delete(Note.objects.all())
            watermark = Note.objects.create(name="w")
            watermark.delete()
            assert ("test.sig.watermark", None) in pending_keys()
        assert can_fast_delete(Note.objects.all())
        assert not post_save.has_listeners(Note)


class TestWatchedDeletesInvalidate:
    def test_instance_and_queryset_deletes_of_a_watched_model_schedule_it(self):
        client = Owner.objects.create(name="Acme")
        brands = Item.objects.bulk_create([Item(owner=client, name=n) for n in "ABC"])
        with temporary_namespace("test.sig.brands", watch=[Item], debounce=600):
            flush_pending()
            brands[0].delete()
            assert ("test.sig.brands", None) in pending_keys()
            flush_pending()
            Item.objects.filter(name__in=["B", "C"]).delete()
            assert ("test.sig.brands", None) in pending_keys()
        assert not Item.objects.exists()

    def test_a_cascade_to_a_watched_model_schedules_it(self):
        client = Owner.objects.create(name="Acme")
        Item.objects.create(owner=client, name="A")
        with temporary_namespace("test.sig.cascade", watch=[Item], debounce=600):
            flush_pending()
            Owner.objects.filter(pk=client.pk).delete()
            assert ("test.sig.cascade", None) in pending_keys()


class TestRegistration:
    def test_m2m_receivers_follow_the_watched_sides(self):
        through = get_user_model().groups.through
        assert not m2m_changed.has_listeners(through)
        with temporary_namespace("test.sig.groups", watch=[Group], debounce=600):
            assert m2m_changed.has_listeners(through)
            user = get_user_model().objects.create(username="u")
            flush_pending()
            user.groups.add(Group.objects.create(name="g"))
            assert ("test.sig.groups", None) in pending_keys()
        assert not m2m_changed.has_listeners(through)

    @isolate_apps("cachecore")
    def test_a_proxy_shares_its_concrete_models_receivers(self):
        class Thing(models.Model):
            class Meta:
                app_label = "cachecore"

        class ProxyThing(Thing):
            class Meta:
                proxy = True
                app_label = "cachecore"

        with temporary_namespace("test.sig.things", watch=[Thing], debounce=600):
            # Django sends a proxy instance's signals with the proxy as sender.
            assert post_delete.has_listeners(ProxyThing) and post_save.has_listeners(ProxyThing)
            post_delete.send(sender=ProxyThing, instance=ProxyThing(pk=1), using="default", origin=None)
            assert ("test.sig.things", None) in pending_keys()
        assert not post_delete.has_listeners(ProxyThing) and not post_delete.has_listeners(Thing)

    def test_ready_connects_models_watched_before_it_ran(self):
        from cachecore import signals

        with temporary_namespace("test.sig.early", watch=[Note], debounce=600):
            post_save.disconnect(sender=Note, dispatch_uid="cachecore.post_save")
            post_delete.disconnect(sender=Note, dispatch_uid="cachecore.post_delete")
            signals.register_signal_handlers()  # what CachecoreConfig.ready() runs
            assert post_save.has_listeners(Note) and post_delete.has_listeners(Note)
