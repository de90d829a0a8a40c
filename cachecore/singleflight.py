"""Single-flight: concurrent misses on one key compute once per process and once per cluster.

In a process, the first caller of a key leads and the others wait on its ``Flight``. Across
processes, the leader takes a cluster lock in L2 (Redis ``SET NX PX`` with a random token, released
only by its holder through a compare-and-delete script); the lock expires after
``CACHECORE_LOCK_TIMEOUT`` so a crashed holder cannot block the key forever.
"""

import os
import secrets
import threading
from collections.abc import Hashable

from cachecore import conf, tiers

_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class Flight:
    """One in-progress computation that followers in this process wait for."""

    __slots__ = ("_event", "result", "error")

    def __init__(self):
        self._event = threading.Event()
        self.result = None
        self.error: BaseException | None = None

    def resolve(self, result=None, error: BaseException | None = None) -> None:
        """Publish the leader's result (or error) to the followers."""
        self.result, self.error = result, error
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait for the leader; return False on timeout."""
        return self._event.wait(timeout)


_flights: dict[Hashable, Flight] = {}
_lock = threading.Lock()


def join(key: Hashable) -> tuple[Flight, bool]:
    """Return the flight of ``key`` and whether the caller leads it."""
    with _lock:
        flight = _flights.get(key)
        if flight is not None:
            return flight, False
        flight = _flights[key] = Flight()
        return flight, True


def land(key: Hashable, flight: Flight) -> None:
    """Remove a finished flight so the next miss starts a new one."""
    with _lock:
        if _flights.get(key) is flight:
            del _flights[key]


def in_flight() -> int:
    """Return the number of computations in progress in this process."""
    return len(_flights)


def reset() -> None:
    """Forget every flight (tests)."""
    with _lock:
        _flights.clear()


def _after_fork_in_child() -> None:
    # The leaders of inherited flights are threads of the parent, absent here: their flights
    # would never land, and every miss on their keys would wait CACHECORE_LOCK_WAIT forever.
    global _lock
    _lock = threading.Lock()
    _flights.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ClusterLock:
    """A lock in L2 with a timeout and a private token so only its holder releases it."""

    def __init__(self, key: str, timeout: float | None = None):
        self.key = key
        self.timeout = conf.settings.CACHECORE_LOCK_TIMEOUT if timeout is None else timeout
        self.token = secrets.token_hex(16)
        self.held = False
        self.found = None  # what acquire(read=...) read

    def acquire(self, *, read: str | None = None) -> bool | None:
        """Try once to take the lock: True taken, False held elsewhere, None when L2 is unavailable.

        With ``read`` (an L2 key), that key is read in the same round trip, right after the lock
        is tried: ``found`` is then its value or None. A holder writes its value before it
        releases the lock, so a lock taken here and an empty read mean nobody has the value.
        """
        self.found = None
        try:
            self.held, self.found = tiers.l2_call(self._acquire, read)
        except tiers.TierUnavailable:
            return None
        return self.held

    def release(self) -> None:
        """Release the lock if this instance still holds it (never someone else's)."""
        if not self.held:
            return
        self.held = False
        try:
            tiers.l2_call(self._release)
        except tiers.TierUnavailable:
            pass  # the lock expires on its own after its timeout

    def store_and_release(self, writes) -> None:
        """Write ``writes`` ((key, value, timeout) each) to L2 and release the lock, in one round trip.

        Raises TierUnavailable when a write failed. The release is sent after the writes either
        way (Redis runs every command of the pipeline: a full Redis refuses the SET and still
        deletes the lock); when the connection itself failed the lock expires on its own.
        """
        held, self.held = self.held, False
        tiers.l2_call(self._store_and_release, writes, held)

    def _redis(self):
        cache = tiers.l2_cache()
        if not hasattr(cache, "client") or not hasattr(cache.client, "get_client"):
            return None, cache
        return cache.client.get_client(write=True), cache

    def _acquire(self, read: str | None) -> tuple[bool, object]:
        client, cache = self._redis()
        if client is None:
            taken = cache.add(self.key, self.token, self.timeout)
            return bool(taken), None if read is None else cache.get(read)
        lock = cache.make_key(self.key)
        if read is None:
            return bool(client.set(lock, self.token, nx=True, px=tiers.redis_px(self.timeout))), None
        pipe = client.pipeline(transaction=False)
        pipe.set(lock, self.token, nx=True, px=tiers.redis_px(self.timeout))
        pipe.get(cache.make_key(read))
        taken, raw = pipe.execute()
        return bool(taken), None if raw is None else tiers.decode_l2(cache.client, raw)

    def _release(self) -> None:
        client, cache = self._redis()
        if client is None:
            if cache.get(self.key) == self.token:
                cache.delete(self.key)
            return
        client.eval(_RELEASE_SCRIPT, 1, cache.make_key(self.key), self.token)

    def _store_and_release(self, writes, held: bool) -> None:
        client, cache = self._redis()
        if client is None:
            for key, value, timeout in writes:
                cache.set(key, value, timeout)
            if held:
                self._release()
            return
        pipe = client.pipeline(transaction=False)
        for key, value, timeout in writes:
            pipe.set(cache.make_key(key), cache.client.encode(value), px=tiers.redis_px(timeout))
        if held:
            pipe.eval(_RELEASE_SCRIPT, 1, cache.make_key(self.key), self.token)
        pipe.execute()
