"""Generations: read, bump, the cluster epoch (I/O against L2 and the durable table).

Generations are random tokens kept in L2 (never reused, so an evicted or lost generation key can
never resurrect old entries): bumping one retires every key built under the old token. The epoch
is a cluster-wide generation bumped after an L2 outage, because values may have been written
while this process could not see invalidations.

L3 rows do not use these L2 tokens: persistent namespaces also keep a durable token per namespace
and scope in the database (``CacheGeneration``, see ``tiers.l3_get``), bumped by the same
``bump_generation`` before L2. So the cache table survives a Redis flush, a restart, the epoch
bump of an outage and the per-process local-memory L2 of the embedded default.
"""

import secrets
import threading

from cachecore import tiers
from cachecore.keys import EPOCH_KEY, Generations, generation_key, value_key
from cachecore.namespaces import get_namespace


def new_token() -> str:
    """Return a fresh random generation token."""
    return secrets.token_hex(6)


NOT_READ = object()  # read_generations() did not fetch the value (no guess, or the guess was stale)
_last_seen: dict[tuple[str, str | None], Generations] = {}
_LAST_SEEN_MAX = 10_000


def read_generations(namespace: str, scope: str | None = None, *, value_hash: str | None = None):
    """Return ``(generations or None, envelope)`` read from L2 in one round trip when possible.

    With ``value_hash``, the value key under the generations this process saw last is fetched in
    the same MGET; MGET is atomic, so when those generations are still current the envelope read
    with them is valid (None = an L2 miss). Otherwise the envelope is ``NOT_READ`` and the caller
    reads the value under the returned generations. Generations are None when L2 is unavailable.
    """
    names = [EPOCH_KEY, generation_key(namespace)] + ([generation_key(namespace, scope)] if scope else [])
    guess = _last_seen.get((namespace, scope)) if value_hash else None
    extra = value_key(namespace, guess, value_hash) if guess is not None else None
    fetch = names + [extra] if extra else names
    recoveries = tiers.l2_breaker.recoveries
    try:
        found = tiers.l2_get_many(fetch)
        if tiers.l2_breaker.recoveries != recoveries:
            found = tiers.l2_get_many(fetch)  # this call ended an outage: read the bumped epoch
        missing = [k for k in names if k not in found]
        if missing:
            for key in missing:
                # Per-scope generations (one per user) expire after the L2 bound; the epoch and
                # the namespace-wide generations are few and kept.
                tiers.l2_add(key, new_token(), tiers.storage_ttl(None) if key == names[-1] and scope else None)
            found = tiers.l2_get_many(names)
            if any(k not in found for k in names):
                return None, NOT_READ  # L2 refuses to keep them (e.g. full): caching is unsafe
    except tiers.TierUnavailable:
        return None, NOT_READ
    gens = Generations(found[names[0]], found[names[1]], found[names[2]] if scope else "")
    if len(_last_seen) >= _LAST_SEEN_MAX:
        _last_seen.clear()
    _last_seen[(namespace, scope)] = gens
    if extra is not None and gens == guess:
        return gens, found.get(extra)
    return gens, NOT_READ


def current_generations(namespace: str, scope: str | None = None) -> Generations | None:
    """Return the current generations from L2 (creating missing ones), or None if L2 is unavailable."""
    return read_generations(namespace, scope)[0]


def reset() -> None:
    """Forget the generations this process saw last and lost durable bumps (tests)."""
    _last_seen.clear()
    with _lost_lock:
        _lost_durable.clear()


def bump_generation(namespace: str, scope: str | None = None) -> str | None:
    """Retire every cached value of a namespace (or one scope) in this process, the database and L2.

    A persistent namespace's durable token (which L3 rows are checked against) is replaced first,
    then the L2 generation. Returns the new L2 token, or None when a step was lost: an L2 failure
    forces the L2 breaker open (its recovery bumps the epoch); a database failure forces the L3
    breaker open and the durable bump is replayed when L3 recovers (L3 is not read meanwhile).
    """
    tiers.l1_evict(namespace, scope)
    token = new_token()
    complete = _bump_durable(namespace, scope, token) if _is_persistent(namespace) else True
    try:
        tiers.l2_set(generation_key(namespace, scope), token, None if scope is None else tiers.storage_ttl(None))
    except tiers.TierUnavailable:
        tiers.l2_breaker.force_open(f"generation bump of {namespace!r} lost")
        complete = False
    # Evict again: a computation that read the old generation while we were writing is fenced out.
    tiers.l1_evict(namespace, scope)
    return token if complete else None


def _is_persistent(namespace: str) -> bool:
    try:
        return get_namespace(namespace).persistent
    except LookupError:
        return True  # declared by another process only: its rows may exist, so bump to be safe


_lost_durable: set[tuple[str, str | None]] = set()
_lost_lock = threading.Lock()


def _bump_durable(namespace: str, scope: str | None, token: str) -> bool:
    try:
        tiers.l3_bump_generation(namespace, scope, token)
    except tiers.TierUnavailable:
        with _lost_lock:
            _lost_durable.add((namespace, scope))
        tiers.l3_breaker.force_open(f"durable generation bump of {namespace!r} lost")
        return False
    return True


def _replay_lost_durable_bumps() -> None:
    # L3 is reachable again: redo the durable bumps (and row deletions) an outage swallowed, so a
    # row written before the lost invalidation is never served.
    with _lost_lock:
        lost = list(_lost_durable)
        _lost_durable.clear()
    for namespace, scope in lost:
        try:
            tiers.l3_bump_generation(namespace, scope, new_token())
        except tiers.TierUnavailable:
            with _lost_lock:
                _lost_durable.add((namespace, scope))
            continue
        tiers.l3_delete(namespace, scope)


def lost_durable_bumps() -> list[tuple[str, str | None]]:
    """Return the durable bumps waiting for L3 to recover (stats, tests)."""
    with _lost_lock:
        return sorted(_lost_durable, key=lambda pair: (pair[0], pair[1] or ""))


def bump_epoch() -> str | None:
    """Retire every cached value of every namespace in L2 (used after an L2 outage)."""
    token = new_token()
    try:
        tiers.l2_set(EPOCH_KEY, token, None)
    except tiers.TierUnavailable:
        return None
    return token


def _after_l2_outage() -> None:
    # Invalidations may have been lost while L2 was unreachable: retire everything cached before.
    bump_epoch()
    tiers.l1_clear()


tiers.l2_breaker.add_recovery_listener(_after_l2_outage)
tiers.l3_breaker.add_recovery_listener(_replay_lost_durable_bumps)
