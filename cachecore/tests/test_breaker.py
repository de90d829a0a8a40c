"""The circuit breaker's state machine with an injected clock."""

import logging

import pytest

from cachecore.breaker import CircuitBreaker
from cachecore.tests.engine_helpers import FakeClock


@pytest.fixture
def breaker():
    b = CircuitBreaker("l2")
    b.clock = FakeClock()
    return b


def test_opens_at_threshold_and_probes_once_per_cooldown(breaker):
    for _ in range(3):
        assert breaker.allow()
        breaker.failure(ConnectionError())
    assert breaker.state == "open" and not breaker.allow()
    breaker.clock.advance(5)
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # only one probe at a time


def test_failed_probe_reopens_and_success_closes_running_listeners(breaker):
    recovered = []
    breaker.add_recovery_listener(lambda: recovered.append(True))
    for _ in range(3):
        breaker.failure(ConnectionError())
    breaker.clock.advance(5)
    assert breaker.allow()
    breaker.failure(ConnectionError())
    assert breaker.state == "open" and not breaker.allow()
    breaker.clock.advance(5)
    assert breaker.allow()
    breaker.success()
    assert (breaker.state, recovered, breaker.recoveries) == ("closed", [True], 1)


def test_a_lost_probe_is_replaced_after_another_cooldown(breaker):
    breaker.force_open("test")
    breaker.clock.advance(5)
    assert breaker.allow()  # this probe never reports back
    breaker.clock.advance(4)
    assert not breaker.allow()
    breaker.clock.advance(1)
    assert breaker.allow()


def test_isolated_error_below_threshold_runs_no_recovery(breaker):
    recovered = []
    breaker.add_recovery_listener(lambda: recovered.append(True))
    breaker.failure(ConnectionError())
    breaker.success()
    assert breaker.state == "closed" and recovered == [] and breaker.failures == 0


def test_outage_logged_once_at_start_and_once_at_end(breaker, caplog):
    with caplog.at_level(logging.WARNING, logger="cachecore"):
        for _ in range(10):
            breaker.failure(ConnectionError("refused"))
        breaker.clock.advance(5)
        breaker.allow()
        breaker.success()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "unavailable" in messages[0] and "reachable again" in messages[1]


def test_failing_listener_does_not_break_recovery(breaker):
    def broken():
        raise RuntimeError("listener bug")

    breaker.add_recovery_listener(broken)
    breaker.force_open("test")
    breaker.clock.advance(5)
    breaker.allow()
    breaker.success()
    assert breaker.state == "closed"


def open_then_probe(breaker):
    for _ in range(3):
        breaker.failure(ConnectionError())
    breaker.clock.advance(5)
    assert breaker.allow()


def test_a_repair_that_fails_keeps_the_breaker_open_and_is_retried(breaker):
    # Redis flaps: the probe succeeds, then the repair (the epoch bump) fails. Closing anyway
    # would lose the repair for good: the next success would see a closed breaker.
    repairs = []

    def repair():
        repairs.append(breaker.allow())  # the repairing thread may use the tier
        if len(repairs) == 1:
            breaker.failure(ConnectionError("gone again"))

    breaker.add_recovery_listener(repair)
    open_then_probe(breaker)
    breaker.success()
    assert breaker.state == "open" and not breaker.allow()
    breaker.clock.advance(5)
    assert breaker.allow()
    breaker.success()
    assert (breaker.state, repairs) == ("closed", [True, True])


def test_other_threads_skip_the_tier_until_the_repair_is_done(breaker):
    import threading

    seen = []

    def repair():
        other = threading.Thread(target=lambda: seen.append(breaker.allow()))
        other.start()
        other.join(5)
        breaker.success()  # the repair's own successful calls do not end it early
        seen.append(breaker.state)

    breaker.add_recovery_listener(repair)
    open_then_probe(breaker)
    breaker.success()
    assert seen == [False, "half_open"]
    assert breaker.state == "closed" and breaker.recoveries == 1
