"""The Debouncer: coalescing, trailing delay, max wait, flush, thread, all on an injected clock."""

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachecore.debounce import Debouncer


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    def __init__(self):
        self.fired = []
        self.event = threading.Event()

    def __call__(self, namespace, scope, sources):
        self.fired.append((namespace, scope, sources))
        self.event.set()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fired():
    return Recorder()


def make(fired, clock, delay=2.0, max_wait=10.0, **kwargs):
    return Debouncer(fired, lambda ns: (delay, max_wait), clock=clock, background=False, **kwargs)


class TestCoalescing:
    def test_many_adds_of_one_key_fire_once_after_the_trailing_delay(self, fired, clock):
        debouncer = make(fired, clock)
        for _ in range(1000):
            debouncer.add("ns")
        clock.advance(1.9)
        assert debouncer.run_due() == 0
        clock.advance(0.2)
        assert debouncer.run_due() == 1
        assert fired.fired == [("ns", None, ("signal",))]
        assert debouncer.pending() == {}

    def test_each_add_pushes_the_trailing_delay(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("ns")
        clock.advance(1.5)
        debouncer.add("ns")
        clock.advance(1.5)
        assert debouncer.run_due() == 0  # 3 s after the first, 1.5 s after the last
        clock.advance(0.6)
        assert debouncer.run_due() == 1

    def test_keys_are_namespace_and_scope(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("a")
        debouncer.add("a", "user:1")
        debouncer.add("a", "user:1")
        debouncer.add("b")
        clock.advance(2)
        assert debouncer.run_due() == 3
        assert sorted(fired.fired, key=str) == sorted(
            [("a", None, ("signal",)), ("a", "user:1", ("signal",)), ("b", None, ("signal",))], key=str
        )

    def test_sources_are_kept_in_arrival_order(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("ns", source="bulk")
        debouncer.add("ns", source="signal")
        debouncer.add("ns", source="bulk")
        debouncer.flush()
        assert fired.fired == [("ns", None, ("bulk", "signal"))]


class TestMaxWait:
    def test_continuous_writes_fire_within_max_wait(self, fired, clock):
        debouncer = make(fired, clock, delay=2.0, max_wait=10.0)
        started = clock()
        fired_at = None
        # A write every half second for 30 s: the trailing delay alone would never expire.
        for _ in range(60):
            debouncer.add("ns")
            if debouncer.run_due():
                fired_at = fired_at or clock()
            clock.advance(0.5)
        assert fired_at is not None
        assert fired_at - started <= 10.0
        assert len(fired.fired) >= 2  # and again within max wait of the next burst start

    def test_deadline_is_first_write_plus_max_wait(self, fired, clock):
        debouncer = make(fired, clock, delay=2.0, max_wait=10.0)
        debouncer.add("ns")
        for _ in range(9):
            clock.advance(1.0)
            debouncer.add("ns")
            assert debouncer.run_due() == 0
        clock.advance(1.0)  # 10 s after the first write, 1 s after the last
        assert debouncer.run_due() == 1

    def test_max_wait_shorter_than_delay_wins(self, fired, clock):
        debouncer = make(fired, clock, delay=5.0, max_wait=1.0)
        debouncer.add("ns")
        clock.advance(1.0)
        assert debouncer.run_due() == 1


class TestZeroDelay:
    def test_zero_delay_fires_synchronously(self, fired, clock):
        debouncer = make(fired, clock, delay=0)
        debouncer.add("ns", "s", source="api")
        assert fired.fired == [("ns", "s", ("api",))]
        assert debouncer.pending() == {}

    def test_per_namespace_timing(self, fired, clock):
        timings = {"fast": (0.0, 10.0), "slow": (3.0, 10.0)}
        debouncer = Debouncer(fired, timings.__getitem__, clock=clock, background=False)
        debouncer.add("fast")
        debouncer.add("slow")
        assert [f[0] for f in fired.fired] == ["fast"]
        clock.advance(3)
        debouncer.run_due()
        assert [f[0] for f in fired.fired] == ["fast", "slow"]


class TestFlushCancelDiscard:
    def test_flush_fires_everything_pending(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("a")
        debouncer.add("b", "x")
        assert debouncer.flush() == 2
        assert {f[:2] for f in fired.fired} == {("a", None), ("b", "x")}
        assert debouncer.flush() == 0

    def test_cancel_drops_one_key(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("a")
        assert debouncer.cancel("a") is True
        assert debouncer.cancel("a") is False
        assert debouncer.flush() == 0

    def test_discard_forgets_without_firing(self, fired, clock):
        debouncer = make(fired, clock)
        debouncer.add("a")
        assert debouncer.discard() == 1
        assert debouncer.flush() == 0
        assert fired.fired == []

    def test_a_failing_fire_does_not_stop_the_others(self, clock):
        seen = []

        def fire(ns, scope, sources):
            seen.append(ns)
            if ns == "a":
                raise RuntimeError("boom")

        debouncer = Debouncer(fire, lambda ns: (1.0, 5.0), clock=clock, background=False)
        debouncer.add("a")
        debouncer.add("b")
        assert debouncer.flush() == 2
        assert seen == ["a", "b"]


class TestBackgroundThread:
    def test_thread_fires_due_invalidation(self, fired):
        # A real clock with a tiny delay: the thread waits on a condition, not in a sleep loop.
        batches = []
        debouncer = Debouncer(fired, lambda ns: (0.01, 1.0), after_batch=lambda: batches.append(1))
        try:
            debouncer.add("ns")
            assert fired.event.wait(5), "the background thread did not fire"
            assert fired.fired == [("ns", None, ("signal",))]
            assert debouncer._thread.daemon
            for _ in range(100):  # after_batch runs right after the fire, on the same thread
                if batches:
                    break
                threading.Event().wait(0.01)
            assert batches
        finally:
            debouncer.stop()

    def test_thread_is_started_lazily(self, fired):
        debouncer = Debouncer(fired, lambda ns: (60.0, 60.0))
        assert debouncer._thread is None
        debouncer.add("ns")
        try:
            assert debouncer._thread is not None and debouncer._thread.is_alive()
        finally:
            debouncer.stop()
        assert debouncer.pending()  # stopping keeps pending work for flush()


class TestProperties:
    """For any stream of writes: nothing is lost, and nothing is scheduled past its max wait."""

    @settings(max_examples=200, deadline=None)
    @given(
        events=st.lists(
            st.tuples(st.floats(min_value=0, max_value=4, allow_nan=False), st.sampled_from(["a", "b", "c"])),
            max_size=60,
        ),
        delay=st.floats(min_value=0.1, max_value=3),
        max_wait=st.floats(min_value=0.1, max_value=12),
    )
    def test_every_write_is_followed_by_a_fire_within_max_wait(self, events, delay, max_wait):
        clock = FakeClock()
        fires: list[tuple[str, float]] = []
        debouncer = Debouncer(
            lambda ns, scope, sources: fires.append((ns, clock())),
            lambda ns: (delay, max_wait),
            clock=clock,
            background=False,
        )
        writes: list[tuple[str, float]] = []
        for gap, key in events:
            # Run the timer exactly at every due time that falls inside the gap, as the thread does.
            target = clock() + gap
            while (due := debouncer.next_due()) is not None and due <= target:
                clock.now = max(clock.now, due)
                debouncer.run_due()
            clock.now = target
            debouncer.add(key)
            writes.append((key, clock()))
            for pending in debouncer.pending().values():
                assert pending.due <= pending.first_seen + max_wait + 1e-9
        while (due := debouncer.next_due()) is not None:
            clock.now = max(clock.now, due)
            debouncer.run_due()
        for key, written in writes:
            later = [t for k, t in fires if k == key and t >= written]
            assert later, f"write of {key} at {written} was never invalidated"
            assert later[0] - written <= max_wait + 1e-9


def test_a_forked_child_starts_with_nothing_pending(fired, clock):
    import os

    debouncer = make(fired, clock)
    debouncer.add("ns")
    pid = os.fork()
    if pid == 0:  # the child: the parent keeps (and fires) what was pending before the fork
        os._exit(0 if debouncer.pending() == {} and debouncer._thread is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert list(debouncer.pending()) == [("ns", None)]
