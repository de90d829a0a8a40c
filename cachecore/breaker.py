"""A circuit breaker per cache tier: stop paying a connection timeout on every request.

closed -> (THRESHOLD consecutive errors) -> open -> (COOLDOWN elapsed) -> half-open: one caller
probes -> success closes it (and runs the recovery listeners), an error opens it again.
An outage is logged once when it starts and once when it ends.
"""

import logging
import threading
import time

from cachecore import conf, stats

logger = logging.getLogger("cachecore")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Track errors of one tier and decide whether the next call may try it."""

    clock = staticmethod(time.monotonic)

    def __init__(self, tier: str):
        self.tier = tier
        self._lock = threading.Lock()
        self._recovery_listeners: list = []
        self.reset()

    def reset(self) -> None:
        """Forget every error and close the breaker (tests)."""
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.outages = 0
        self.in_outage = False
        self.probe_attempts = 0
        self.recoveries = 0
        self._repairer: int | None = None  # the thread running the recovery listeners

    def allow(self) -> bool:
        """Return True when the tier may be tried now (closed, or this caller is the probe)."""
        if self.state == CLOSED:
            return True
        if self._repairer == threading.get_ident():
            return True  # the recovery listeners use the tier before anyone else does
        with self._lock:
            # A probe that never reported back (e.g. its thread died) is replaced after another
            # cooldown, so the breaker cannot stay half-open forever.
            now = self.clock()
            if now - self.opened_at >= conf.settings.CACHECORE_BREAKER_COOLDOWN:
                self.state = HALF_OPEN
                self.opened_at = now
                self.probe_attempts += 1
                return True
            return False

    def success(self) -> None:
        """Record a successful call; close the breaker if it was probing."""
        if self.state == CLOSED and not self.failures and not self.in_outage:
            return
        with self._lock:
            if self._repairer is not None:
                # The repair's own calls, or a call that started earlier: the repairing thread
                # closes the breaker when its repair is done.
                if self._repairer == threading.get_ident():
                    self.failures = 0
                return
            # Listeners (e.g. the epoch bump) run only after a real outage (the breaker was open);
            # an isolated error below the threshold lost nothing that needs repairing.
            repair = self.state != CLOSED
            logged = self.in_outage
            if repair:
                # Half-open while repairing: other threads keep skipping the tier (they would
                # read what the repair retires), and a failed repair reopens it, to be retried.
                self.state = HALF_OPEN
                self.opened_at = self.clock()
                self._repairer = threading.get_ident()
            else:
                self.failures = 0
                self.in_outage = False
        if repair:
            logged = self._repair() and logged
        if logged:
            logger.warning("cachecore: %s is reachable again; breaker closed", self.tier)

    def _repair(self) -> bool:
        """Run the recovery listeners, then close the breaker unless the tier failed meanwhile."""
        self.recoveries += 1
        try:
            for listener in list(self._recovery_listeners):
                try:
                    listener()
                except Exception:  # noqa: BLE001 - a failing listener must not fail the request
                    logger.exception("cachecore: %s recovery listener %r failed", self.tier, listener)
        finally:
            with self._lock:
                self._repairer = None
                closed = self.state == HALF_OPEN
                if closed:
                    self.state = CLOSED
                    self.failures = 0
                    self.in_outage = False
        return closed

    def failure(self, exc: BaseException | None = None) -> None:
        """Record an error of the tier; open the breaker at the threshold or when a probe fails."""
        stats.record_error(self.tier)
        with self._lock:
            self.failures += 1
            first = not self.in_outage
            self.in_outage = True
            if self.state == HALF_OPEN or self.failures >= conf.settings.CACHECORE_BREAKER_THRESHOLD:
                if self.state != OPEN:
                    self.outages += first
                self.state = OPEN
                self.opened_at = self.clock()
        if first:
            logger.warning("cachecore: %s unavailable (%s); skipping it until it recovers", self.tier, exc)

    def force_open(self, reason: str) -> None:
        """Open the breaker now (e.g. an invalidation was lost): the next success runs recovery."""
        with self._lock:
            first = not self.in_outage
            self.in_outage = True
            self.state = OPEN
            self.opened_at = self.clock()
        if first:
            logger.warning("cachecore: %s breaker opened: %s", self.tier, reason)

    def add_recovery_listener(self, fn) -> None:
        """Call ``fn()`` each time the tier recovers after an outage."""
        if fn not in self._recovery_listeners:
            self._recovery_listeners.append(fn)

    def info(self) -> dict:
        """Return the breaker's state for stats()."""
        return {
            "state": self.state,
            "failures": self.failures,
            "in_outage": self.in_outage,
            "recoveries": self.recoveries,
        }
