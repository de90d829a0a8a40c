"""The sampling verifier: sampling, the bounded queue, verdicts, counts, logging, the worker."""

import logging
import random
import threading
import time

import pytest
from django.test import override_settings

from cachecore import stats, tiers
from cachecore.namespaces import Namespace, get_namespace
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, FakeClock
from cachecore.verifier import allowed_staleness, consistency_report, sample_rate, verifier


@pytest.fixture(autouse=True)
def quiet_verifier():
    """Start each test with empty counts and no background thread (tests call drain())."""
    verifier.reset()
    verifier.start_worker = False
    verifier.rng = random.Random(7)
    verifier.clock = clock = FakeClock()
    yield clock
    verifier.reset()
    del verifier.start_worker, verifier.rng, verifier.clock


class Source:
    """A compute() over a mutable 'database': change ``value`` to simulate a committed write."""

    def __init__(self, value=1):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"v": self.value}


class Recorder:
    """An observer recording the verifier's hooks."""

    def __init__(self):
        self.events = []

    def on_verified(self, namespace, inconsistent):
        self.events.append(("verified", namespace, inconsistent))

    def on_verify_dropped(self, namespace):
        self.events.append(("dropped", namespace))


@pytest.fixture
def verify_all(settings):
    """Sample every hit (CACHECORE_VERIFY_RATE=1)."""
    settings.CACHECORE_VERIFY_RATE = 1.0


@pytest.fixture
def recorder():
    rec = Recorder()
    stats.add_observer(rec)
    yield rec
    stats.remove_observer(rec)


def row(ns):
    return consistency_report()["namespaces"].get(ns.name)


class TestSampling:
    def test_off_by_default_nothing_is_sampled(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        source = Source()
        for _ in range(5):
            get_or_compute(ns.name, {}, source)
        verifier.drain()
        assert source.calls == 1
        assert row(ns) is None  # a namespace that is not sampled is not listed

    @override_settings(CACHECORE_VERIFY_RATE=1.0)
    def test_the_request_thread_only_enqueues(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        source = Source()
        get_or_compute(ns.name, {}, source)
        get_or_compute(ns.name, {}, source)
        assert source.calls == 1  # the hit computed nothing on this thread
        assert consistency_report()["queue"]["length"] == 1
        verifier.drain()
        assert source.calls == 2
        assert row(ns)["verified"] == 1

    @override_settings(CACHECORE_VERIFY_RATE=1.0)
    def test_misses_are_not_sampled(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        get_or_compute(ns.name, {"user_id": 1}, Source())
        get_or_compute(ns.name, {"user_id": 2}, Source())
        assert consistency_report()["queue"]["length"] == 0

    @override_settings(CACHECORE_VERIFY_RATE=0.25, CACHECORE_VERIFY_QUEUE_SIZE=10_000)
    def test_a_fraction_of_hits_is_sampled(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        source = Source()
        for _ in range(2001):
            get_or_compute(ns.name, {}, source)
        sampled = consistency_report()["queue"]["length"]
        assert 400 < sampled < 600

    @override_settings(CACHECORE_VERIFY_RATE=1.0)
    def test_namespace_rate_overrides_the_setting(self, make_ns):
        off = make_ns(l1_ttl=60, verify_rate=0)
        source = Source()
        get_or_compute(off.name, {}, source)
        get_or_compute(off.name, {}, source)
        assert consistency_report()["queue"]["length"] == 0

    def test_namespace_rate_on_while_the_setting_is_off(self, make_ns):
        on = make_ns(l1_ttl=60, verify_rate=1)
        source = Source()
        get_or_compute(on.name, {}, source)
        get_or_compute(on.name, {}, source)
        verifier.drain()
        assert row(on)["verified"] == 1 and row(on)["sample_rate"] == 1

    @pytest.mark.parametrize("rate", [-0.1, 1.5])
    def test_rate_outside_0_1_is_refused(self, rate):
        with pytest.raises(ValueError, match="verify_rate"):
            Namespace(name="test.badrate", verify_rate=rate)

    @override_settings(CACHECORE_VERIFY_RATE=1.0)
    def test_the_ai_backed_user_data_opts_out(self):
        ns = get_namespace("contentplanning.user_data")
        assert ns.verify_rate == 0 and sample_rate(ns) == 0


class TestBoundedQueue:
    @override_settings(CACHECORE_VERIFY_RATE=1.0, CACHECORE_VERIFY_QUEUE_SIZE=2)
    def test_a_full_queue_drops_and_counts(self, make_ns, recorder):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        source = Source()
        get_or_compute(ns.name, {}, source)
        for _ in range(5):
            get_or_compute(ns.name, {}, source)
        assert row(ns)["dropped"] == 3
        assert recorder.events.count(("dropped", ns.name)) == 3
        verifier.drain()
        assert row(ns)["verified"] == 2


@pytest.mark.usefixtures("verify_all")
class TestVerdicts:
    def test_matching_hit_is_verified_and_consistent(self, make_ns, recorder):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        source = Source()
        get_or_compute(ns.name, {}, source)
        get_or_compute(ns.name, {}, source)
        verifier.drain()
        assert (row(ns)["verified"], row(ns)["inconsistent"], row(ns)["rate"]) == (1, 0, 0.0)
        assert recorder.events == [("verified", ns.name, False)]

    def test_hash_ignores_dict_order_and_tier(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=300)
        flip = Counter(lambda n: {"a": 1, "b": 2} if n % 2 else {"b": 2, "a": 1})
        get_or_compute(ns.name, {}, flip)
        tiers.l1_clear()
        get_or_compute(ns.name, {}, flip)  # an L2 hit
        verifier.drain()
        assert row(ns)["verified"] == 1 and row(ns)["suspects"] == 0

    def test_stale_beyond_the_bound_is_inconsistent_and_logged_once(self, make_ns, recorder, caplog, quiet_verifier):
        ns = make_ns(l1_ttl=600, l2_ttl=600, debounce=0, max_wait=1)
        source = Source()
        get_or_compute(ns.name, {}, source)
        source.value = 2  # a write nobody invalidates: the cache keeps serving {"v": 1}
        get_or_compute(ns.name, {}, source)
        verifier.drain()
        assert (row(ns)["verified"], row(ns)["inconsistent"], row(ns)["suspects"]) == (1, 0, 1)
        quiet_verifier.advance(allowed_staleness(ns) - 0.1)
        verifier.drain()
        assert row(ns)["inconsistent"] == 0  # not yet past the bound
        quiet_verifier.advance(0.2)
        with caplog.at_level(logging.WARNING, logger="cachecore.verifier"):
            verifier.drain()
            get_or_compute(ns.name, {}, source)
            verifier.drain()
            quiet_verifier.advance(allowed_staleness(ns) + 1)
            verifier.drain()
        assert row(ns)["inconsistent"] == 2
        assert row(ns)["rate"] == 1.0
        assert ("verified", ns.name, True) in recorder.events
        logged = [r for r in caplog.records if "inconsistent read" in r.getMessage()]
        assert len(logged) == 1
        message = logged[0].getMessage()
        assert ns.name in message
        from cachecore.consistency import value_hash

        assert value_hash({"v": 1}) in message and value_hash({"v": 2}) in message

    @pytest.mark.django_db  # invalidate_now() reads the outbox
    def test_invalidated_within_the_bound_is_consistent(self, make_ns, quiet_verifier):
        ns = make_ns(l1_ttl=600, l2_ttl=600, debounce=0, max_wait=1)
        source = Source()
        get_or_compute(ns.name, {}, source)
        source.value = 2
        get_or_compute(ns.name, {}, source)
        verifier.drain()
        assert row(ns)["suspects"] == 1
        from cachecore.api import invalidate_now

        invalidate_now(ns.name)  # the invalidation arrives in time
        quiet_verifier.advance(allowed_staleness(ns) + 1)
        verifier.drain()
        assert (row(ns)["inconsistent"], row(ns)["suspects"]) == (0, 0)

    def test_a_failing_compute_counts_an_error_and_the_worker_goes_on(self, make_ns):
        ns = make_ns(l1_ttl=600)
        get_or_compute(ns.name, {}, Source())

        def broken():
            raise RuntimeError("source unavailable")

        get_or_compute(ns.name, {}, broken)
        get_or_compute(ns.name, {}, Source())
        verifier.drain()
        assert (row(ns)["errors"], row(ns)["verified"]) == (1, 1)

    def test_allowed_staleness_is_the_engines_staleness_bound(self, make_ns):
        timing = {
            "CACHECORE_RELAY_POLL_SECONDS": 1.0,
            "CACHECORE_RELAY_LEASE_SECONDS": 2.0,
            "CACHECORE_COHERENCE_CHECK_SECONDS": 0.5,
        }
        with override_settings(CACHECORE_DEBOUNCE_SECONDS=2.0, CACHECORE_MAX_WAIT_SECONDS=10.0, **timing):
            assert allowed_staleness(make_ns()) == 15.5
            assert allowed_staleness(make_ns(debounce=0, max_wait=1)) == 4.5


@pytest.mark.usefixtures("verify_all")
def test_the_background_worker_verifies_without_drain(make_ns):
    verifier.start_worker = True
    ns = make_ns(l1_ttl=60, l2_ttl=300)
    source = Source()
    get_or_compute(ns.name, {}, source)
    request_thread = threading.current_thread()
    seen = []

    def compute():
        seen.append(threading.current_thread())
        return source()

    get_or_compute(ns.name, {}, compute)
    deadline = time.monotonic() + 10
    while (row(ns) or {}).get("verified", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert row(ns)["verified"] == 1
    assert seen and seen[0] is not request_thread and seen[0].name == "cachecore-verifier"
