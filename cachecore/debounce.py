"""Coalesce invalidations per (namespace, scope): a trailing delay bounded by a max wait.

A burst of writes to one namespace becomes one invalidation ``delay`` seconds after the last
write, but never later than ``max_wait`` seconds after the first one, so a continuous stream of
writes cannot postpone an invalidation forever. Due invalidations are fired by one lazily
started daemon thread; ``flush()`` fires everything pending at once (process exit, commands,
tests). The clock is an attribute so tests drive time without sleeping.
"""

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

Key = tuple[str, str | None]
# fire(namespace, scope, sources) performs one invalidation; sources are in arrival order.
FireFn = Callable[[str, str | None, tuple[str, ...]], None]
# timing(namespace) -> (trailing delay, max wait), both in seconds.
TimingFn = Callable[[str], tuple[float, float]]

_instances: "weakref.WeakSet[Debouncer]" = weakref.WeakSet()


@dataclass
class Pending:
    """One coalesced invalidation waiting to fire."""

    first_seen: float
    due: float
    deadline: float
    sources: dict[str, None] = field(default_factory=dict)  # an ordered set
    count: int = 1


class Debouncer:
    """Coalesce ``add(namespace, scope)`` calls and fire each key once when it is due."""

    clock = staticmethod(time.monotonic)

    def __init__(self, fire: FireFn, timing: TimingFn, *, clock=None, background: bool = True, after_batch=None):
        self._fire = fire
        self._timing = timing
        if clock is not None:
            self.clock = clock
        self._background = background
        self._after_batch = after_batch
        self._init_state()
        _instances.add(self)

    def _init_state(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Key, Pending] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- scheduling ---------------------------------------------------------------------------

    def add(self, namespace: str, scope: str | None = None, source: str = "signal") -> None:
        """Schedule one invalidation; with a delay of 0 it fires before this returns."""
        delay, max_wait = self._timing(namespace)
        key = (namespace, scope)
        if delay <= 0:
            with self._cond:
                pending = self._pending.pop(key, None)
            sources = dict(pending.sources) if pending else {}
            sources[source] = None
            self._fire_one(key, tuple(sources))
            return
        now = self.clock()
        with self._cond:
            pending = self._pending.get(key)
            if pending is None:
                deadline = now + max(max_wait, 0.0)
                self._pending[key] = Pending(first_seen=now, due=min(now + delay, deadline), deadline=deadline)
                self._pending[key].sources[source] = None
            else:
                pending.due = min(now + delay, pending.deadline)
                pending.sources[source] = None
                pending.count += 1
            self._cond.notify()
        if self._background:
            self._ensure_thread()

    def cancel(self, namespace: str, scope: str | None = None) -> bool:
        """Drop a pending invalidation (it was just performed another way); return whether one was pending."""
        with self._cond:
            return self._pending.pop((namespace, scope), None) is not None

    def pending(self) -> dict[Key, Pending]:
        """Return a snapshot of the pending invalidations."""
        with self._cond:
            return dict(self._pending)

    def next_due(self) -> float | None:
        """Return the clock time at which the next pending invalidation is due, or None."""
        with self._cond:
            return min((p.due for p in self._pending.values()), default=None)

    # -- firing -------------------------------------------------------------------------------

    def run_due(self) -> int:
        """Fire every invalidation that is due by the clock now; return how many fired."""
        with self._cond:
            batch = self._pop_due(self.clock())
        return self._fire_batch(batch)

    def flush(self) -> int:
        """Fire every pending invalidation now, due or not; return how many fired."""
        with self._cond:
            batch, self._pending = list(self._pending.items()), {}
        return self._fire_batch(batch)

    def discard(self) -> int:
        """Forget every pending invalidation without firing it (test isolation only)."""
        with self._cond:
            count, self._pending = len(self._pending), {}
            return count

    def _pop_due(self, now: float) -> list[tuple[Key, Pending]]:
        due = [(key, p) for key, p in self._pending.items() if p.due <= now]
        for key, _ in due:
            del self._pending[key]
        return due

    def _fire_batch(self, batch: list[tuple[Key, Pending]]) -> int:
        for key, pending in batch:
            self._fire_one(key, tuple(pending.sources))
        return len(batch)

    def _fire_one(self, key: Key, sources: tuple[str, ...]) -> None:
        try:
            self._fire(key[0], key[1], sources)
        except Exception:  # the fire function reports its own failures; this keeps the thread alive
            logger.exception("cachecore: invalidation of %s (scope %s) failed", key[0], key[1])

    # -- background thread --------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._closed = False
            self._thread = threading.Thread(target=self._loop, name="cachecore-debouncer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._wait_for_due()
                if batch is None:
                    return
            self._fire_batch(batch)
            if self._after_batch is not None:
                try:
                    self._after_batch()
                except Exception:
                    logger.exception("cachecore: debouncer clean-up failed")

    def _wait_for_due(self) -> list[tuple[Key, Pending]] | None:
        """Block (holding the condition) until something is due or the debouncer is stopped."""
        while not self._closed:
            now = self.clock()
            batch = self._pop_due(now)
            if batch:
                return batch
            next_due = min((p.due for p in self._pending.values()), default=None)
            self._cond.wait(None if next_due is None else max(next_due - now, 0.001))
        return None

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the background thread (pending invalidations stay pending)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _after_fork_in_child(self) -> None:
        # The parent still owns its pending invalidations and fires them; the child starts empty
        # and without the parent's (non-existent here) thread.
        self._init_state()


def _reinit_after_fork() -> None:
    for debouncer in list(_instances):
        debouncer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)
