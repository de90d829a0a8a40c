"""The prewarm registry, runs (timing, failures, cachalot off) and prewarming at server start."""

import threading

import pytest
from cachalot.api import LOCAL_STORAGE
from django.apps import apps
from django.core.signals import request_started
from django.test import override_settings

from cachecore import prewarm, signals
from cachecore.prewarm import UnknownPrewarmer, prewarmer, run_prewarmers
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import temporary_namespace
from cachecore.tests.testapp.models import Item, Owner


@pytest.fixture
def registry(monkeypatch):
    """Start each test with an empty prewarm registry (the apps' prewarmers come back after)."""
    monkeypatch.setattr(prewarm, "_registry", {})
    return prewarm._registry


class Tick:
    """A clock that advances one second per read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


class TestRegistry:
    def test_decorator_registers_and_returns_the_function(self, registry):
        @prewarmer("test.pw.a")
        def warm(progress=None):
            return 3

        assert prewarm.registered() == {"test.pw.a": warm}
        assert warm() == 3

    def test_a_second_function_for_one_namespace_is_an_error(self, registry):
        prewarmer("test.pw.a")(lambda progress=None: 1)
        with pytest.raises(ValueError, match="already has a prewarmer"):

            @prewarmer("test.pw.a")
            def other(progress=None):
                return 2

    def test_reregistering_the_same_function_is_harmless(self, registry):
        def warm(progress=None):
            return 1

        prewarmer("test.pw.a")(warm)
        prewarmer("test.pw.a")(warm)
        assert list(prewarm.registered()) == ["test.pw.a"]

    def test_select_names_unknown_namespaces(self, registry):
        prewarmer("test.pw.a")(lambda progress=None: 1)
        with pytest.raises(UnknownPrewarmer, match="test.pw.nope.*Known: test.pw.a"):
            prewarm.select(["test.pw.a", "test.pw.nope"])
        assert list(prewarm.select(None)) == ["test.pw.a"]


class TestRuns:
    def test_results_carry_entries_and_timing(self, registry):
        prewarmer("test.pw.a")(lambda progress=None: 5)
        prewarmer("test.pw.b")(lambda progress=None: None)  # None counts as 0 entries
        results = run_prewarmers(clock=Tick())
        assert [(r.namespace, r.entries, r.seconds, r.ok) for r in results] == [
            ("test.pw.a", 5, 1.0, True),
            ("test.pw.b", 0, 1.0, True),
        ]

    def test_a_failure_is_reported_and_the_others_still_run(self, registry):
        def broken(progress=None):
            raise RuntimeError("database on fire")

        prewarmer("test.pw.a")(broken)
        prewarmer("test.pw.b")(lambda progress=None: 2)
        results = run_prewarmers()
        assert [r.ok for r in results] == [False, True]
        assert "database on fire" in str(results[0].error)
        assert results[1].entries == 2

    def test_progress_is_forwarded_with_the_namespace(self, registry):
        seen = []

        @prewarmer("test.pw.a")
        def warm(progress):
            for i in range(1, 4):
                progress(i, 3)
            return 3

        run_prewarmers(progress=lambda *args: seen.append(args))
        assert seen == [("test.pw.a", 1, 3), ("test.pw.a", 2, 3), ("test.pw.a", 3, 3)]

    def test_prewarmers_read_with_cachalot_disabled(self, registry):
        states = []
        prewarmer("test.pw.a")(lambda progress=None: states.append(LOCAL_STORAGE.cachalot_enabled) or 0)
        run_prewarmers()
        assert states == [False]

    def test_cachalot_is_restored_after_a_failing_prewarmer(self, registry):
        before = getattr(LOCAL_STORAGE, "cachalot_enabled", True)

        def broken(progress=None):
            raise RuntimeError("x")

        prewarmer("test.pw.a")(broken)
        run_prewarmers()
        assert getattr(LOCAL_STORAGE, "cachalot_enabled", True) == before

    @pytest.mark.django_db
    def test_a_prewarmed_namespace_is_served_from_cache(self, registry, count_queries):
        Owner.objects.create(name="Acme")
        with temporary_namespace("test.pw.clients", l1_ttl=300, l2_ttl=300):

            def compute():
                return list(Owner.objects.values_list("name", flat=True))

            @prewarmer("test.pw.clients")
            def warm(progress=None):
                get_or_compute("test.pw.clients", {}, compute)
                return 1

            assert run_prewarmers()[0].entries == 1
            with count_queries() as queries:
                value, info = get_or_compute("test.pw.clients", {}, compute)
            assert (value, info.tier, len(queries)) == (["Acme"], "l1", 0)


class TestPrewarmOnStart:
    def test_ready_touches_no_database(self):
        # No django_db mark: pytest-django fails any database access in this test.
        with override_settings(CACHECORE_PREWARM_ON_START=True):
            apps.get_app_config("cachecore").ready()

    @staticmethod
    def connected() -> bool:
        return any(key[0] == "cachecore.prewarm_on_start" for key, *_ in request_started.receivers)

    def test_first_request_starts_one_background_run(self, monkeypatch):
        started = []
        monkeypatch.setattr(prewarm, "start_background", lambda: started.append(1))
        monkeypatch.setattr(signals, "_prewarm_started", threading.Event())
        with override_settings(CACHECORE_PREWARM_ON_START=True):
            signals.register_signal_handlers()
        assert self.connected()
        signals._prewarm_once()
        signals._prewarm_once()
        assert started == [1]
        assert not self.connected()  # one-shot: later requests pay nothing

    def test_off_by_default(self):
        request_started.disconnect(dispatch_uid="cachecore.prewarm_on_start")
        with override_settings(CACHECORE_PREWARM_ON_START=False):
            signals.register_signal_handlers()
        assert not self.connected()

    @pytest.mark.django_db(transaction=True)
    def test_background_run_warms_in_a_thread(self, registry):
        ran = threading.Event()

        @prewarmer("test.pw.bg")
        def warm(progress=None):
            ran.set()
            return Item.objects.count()

        thread = prewarm.start_background()
        thread.join(10)
        assert ran.is_set() and not thread.is_alive()
