"""Where a computation that fills the cache runs: a replica that is recent enough, or the primary.

The rule (docs/read-replicas.md): a value is cached under the generations captured before its
computation; the relay stored the primary's WAL position with the invalidation that made those
generations (``cachecore.wal``). The computation may run on a replica only when the replica has
replayed past that position -- then it sees every write the invalidation stands for, and no value
older than the generation it is cached under is ever written. Otherwise the engine waits up to
``CACHECORE_REPLICA_MAX_WAIT`` seconds for a replica to catch up, then computes on the primary,
and counts the fallback with its reason (``stats.record_replica``).

The position is read *after* the generations (``service`` captures them first): the relay stores
it before it bumps the L2 generation, so a reader that saw the new generation reads its position.

Without replicas configured ``choose()`` returns at its first line: nothing is read, nothing counted.
"""

import itertools
import logging
import threading
import time
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

from cachecore import conf, routing, stats, tiers, wal
from cachecore.breaker import CircuitBreaker

logger = logging.getLogger("cachecore")

REPLICA = "replica"
LAG, UNAVAILABLE, ERROR, UNKNOWN, TRANSACTION = "lag", "unavailable", "error", "unknown", "transaction"
FALLBACK_REASONS = (LAG, UNAVAILABLE, ERROR, UNKNOWN, TRANSACTION)
_CAUGHT_UP = 2**63 - 1  # a server not in recovery (promoted) has replayed everything


class _Clock:
    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


clock = _Clock()
_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()
_turn = itertools.count()


def configured() -> tuple[str, ...]:
    """Return the replica aliases (empty: no replicas)."""
    return tuple(conf.settings.CACHECORE_REPLICA_DATABASES)


def breaker(alias: str) -> CircuitBreaker:
    """Return the circuit breaker of one replica (an unreachable replica is not asked on every miss)."""
    found = _breakers.get(alias)
    if found is None:
        with _breakers_lock:
            found = _breakers.setdefault(alias, CircuitBreaker(alias))
    return found


def choose(namespace: str, scope: str | None, *, allowed: bool = True) -> str | None:
    """Return the replica alias a computation of ``namespace``/``scope`` may read from, or None (primary).

    ``allowed=False`` (a namespace declared with ``replicas=False``) answers None at once.
    """
    aliases = conf.settings.CACHECORE_REPLICA_DATABASES
    if not aliases or not allowed:
        return None
    alias, outcome = _choose(namespace, tiers.scope_column(scope), aliases)
    stats.record_replica(namespace, outcome)
    return alias


def _choose(namespace: str, scope: str, aliases) -> tuple[str | None, str]:
    if routing.in_primary_transaction():
        return None, TRANSACTION  # the transaction's own writes are only on the primary
    try:
        needed = wal.invalidation_lsn(namespace, scope)
    except DatabaseError as exc:
        logger.warning("cachecore: last invalidation of %s unreadable (%s); computing on the primary", namespace, exc)
        return None, UNKNOWN
    deadline = None
    while True:
        reachable = False
        for alias in _rotation(aliases):
            replayed = _replayed(alias)
            if replayed is None:
                continue
            reachable = True
            if needed is None or replayed >= needed:
                return alias, REPLICA
        if not reachable:
            return None, UNAVAILABLE
        now = clock.monotonic()
        if deadline is None:
            deadline = now + float(conf.settings.CACHECORE_REPLICA_MAX_WAIT)
        if now >= deadline:
            return None, LAG
        clock.sleep(min(0.02, deadline - now))


def _rotation(aliases) -> list[str]:
    # Spread computations over the replicas; the first one recent enough is used.
    start = next(_turn) % len(aliases)
    return [*aliases[start:], *aliases[:start]]


def _replayed(alias: str) -> int | None:
    """Return the replica's replayed position, or None when it cannot be asked now."""
    guard = breaker(alias)
    if not guard.allow():
        return None
    try:
        replayed = wal.replayed_lsn(alias)
    except DatabaseError as exc:
        guard.failure(exc)
        _close(alias)
        return None
    guard.success()
    return _CAUGHT_UP if replayed is None else replayed


def run(alias: str | None, namespace: str, compute):
    """Run ``compute()`` with its reads on ``alias`` (None: the primary).

    A replica that fails during the computation (connection lost, a query cancelled by a
    recovery conflict) is counted against its breaker and the computation runs again on the
    primary: computations that fill the cache only read.
    """
    if alias is None:
        return compute()
    try:
        with routing.reading_from(alias):
            return compute()
    except (OperationalError, InterfaceError) as exc:
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            raise
        breaker(alias).failure(exc)
        _close(alias)
        stats.record_replica(namespace, ERROR)
        logger.warning("cachecore: computing %s failed on %s (%s); computing on the primary", namespace, alias, exc)
        return compute()


def _close(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # noqa: BLE001 - it is already broken
        logger.debug("cachecore: closing the broken connection of %s failed", alias, exc_info=True)


def info() -> dict:
    """Return the replicas and their breakers (stats and health pages)."""
    return {alias: breaker(alias).info() for alias in configured()}


def reset() -> None:
    """Close every replica breaker (tests)."""
    for guard in list(_breakers.values()):
        guard.reset()


@contextmanager
def replica_reads():
    """Send the ORM reads inside the block to a replica: for selectors that tolerate the replica's lag.

    No invalidation rule applies here (nothing is cached): the reads may be as old as the
    replica's lag. Inside a transaction of the primary, without replicas, or when no replica's
    breaker lets it be tried, the reads stay on the primary.
    """
    aliases = conf.settings.CACHECORE_REPLICA_DATABASES
    alias = None
    if aliases and not routing.in_primary_transaction():
        alias = next((a for a in _rotation(aliases) if breaker(a).allow()), None)
    with routing.reading_from(alias):
        yield


def summary(raw: dict) -> dict | None:
    """Return the replica section of the stats report from raw counters (None: no replicas, no counts)."""
    reads = 0
    fallbacks: dict[str, int] = {}
    for key, value in raw.items():
        if key[0] != "replica":
            continue
        if key[2] == REPLICA:
            reads += value
        else:
            fallbacks[key[2]] = fallbacks.get(key[2], 0) + value
    if not configured() and not reads and not fallbacks:
        return None
    return {"databases": info(), "reads": reads, "fallbacks": dict(sorted(fallbacks.items()))}
