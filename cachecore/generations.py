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

from cachecore import conf, tiers
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
    names = [EPOCH_KEY, *_generation_keys(namespace, scope)]
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


def read_many(pairs) -> dict[tuple[str, str | None], Generations]:
    """Return the current generations of several ``(namespace, scope)`` in one MGET.

    Only pairs whose keys all exist are returned (a missing one is created by the lookup's own
    ``read_generations``); ``{}`` when L2 is unavailable or this call ended an outage (the epoch
    is being bumped: the lookups read it themselves).
    """
    pairs = list(dict.fromkeys(pairs))
    names = [EPOCH_KEY, *(key for pair in pairs for key in _generation_keys(*pair))]
    recoveries = tiers.l2_breaker.recoveries
    try:
        found = tiers.l2_get_many(list(dict.fromkeys(names)))
    except tiers.TierUnavailable:
        return {}
    epoch = found.get(EPOCH_KEY)
    if epoch is None or tiers.l2_breaker.recoveries != recoveries:
        return {}
    current = {}
    for namespace, scope in pairs:
        whole = found.get(generation_key(namespace))
        part = found.get(generation_key(namespace, scope)) if scope else ""
        if whole is not None and part is not None:
            current[(namespace, scope)] = Generations(epoch, whole, part)
    return current


def _generation_keys(namespace: str, scope: str | None) -> list[str]:
    # The namespace's generation key, and its scope's when there is one (the epoch is shared).
    return [generation_key(namespace)] + ([generation_key(namespace, scope)] if scope else [])


def current_generations(namespace: str, scope: str | None = None) -> Generations | None:
    """Return the current generations from L2 (creating missing ones), or None if L2 is unavailable."""
    return read_generations(namespace, scope)[0]


def reset() -> None:
    """Forget the generations this process saw last (tests)."""
    _last_seen.clear()


class BumpFailed(Exception):
    """A generation could not be replaced in one of its stores; the invalidation must be retried."""


def bump_durable(namespace: str, scope: str | None = None) -> None:
    """Replace the durable (L3) token of a persistent namespace or scope and delete its rows.

    Runs in its own autocommitted statements before the L2 bump: a process that sees the new L2
    generation must also see the new durable token, or it could serve an old L3 row and write it
    back into L2 under the new generation. Raises BumpFailed when the database is unreachable
    (the L3 breaker is forced open, so L3 is not read until it recovers).

    With read replicas configured the same statement stores the primary's WAL position, for
    every namespace (``cachecore.wal``): a computation that fills the cache runs on a replica
    only once the replica has replayed past it (``cachecore.replicas``). Its failure fails the
    invalidation too, which is then retried.
    """
    persistent = _is_persistent(namespace)
    record_lsn = bool(conf.settings.CACHECORE_REPLICA_DATABASES)
    if not persistent and not record_lsn:
        return
    try:
        tiers.l3_bump_generation(namespace, scope, new_token() if persistent else None, record_lsn=record_lsn)
    except tiers.TierUnavailable as exc:
        tiers.l3_breaker.force_open(f"durable generation bump of {namespace!r} failed")
        raise BumpFailed(f"durable generation of {namespace!r}: {exc}") from exc
    if persistent:
        tiers.l3_delete(namespace, scope)  # clean-up only: the token bump already retired the rows


def bump_l2(namespace: str, scope: str | None = None) -> str:
    """Replace the L2 generation of a namespace or scope; return the new token.

    When Redis refuses the write (full with ``noeviction``, a stall) the old generation is deleted
    instead: a reader then creates a fresh token, or finds L2 unusable and skips it. Raises
    BumpFailed when neither worked (the L2 breaker is forced open; its recovery bumps the epoch).
    """
    tiers.l1_evict(namespace, scope)
    token = new_token()
    key = generation_key(namespace, scope)
    try:
        tiers.l2_set(key, token, None if scope is None else tiers.storage_ttl(None))
    except tiers.TierUnavailable as exc:
        try:
            tiers.l2_delete(key)
        except tiers.TierUnavailable:
            tiers.l2_breaker.force_open(f"generation bump of {namespace!r} failed")
            raise BumpFailed(f"L2 generation of {namespace!r}: {exc}") from exc
        token = ""
    # Evict again: a computation that read the old generation while we were writing is fenced out.
    tiers.l1_evict(namespace, scope)
    return token


def bump_generation(namespace: str, scope: str | None = None) -> str:
    """Retire every cached value of a namespace (or one scope): durable token first, then L2.

    Returns the new L2 token ("" when the old one could only be deleted); raises BumpFailed.
    """
    tiers.l1_evict(namespace, scope)
    bump_durable(namespace, scope)
    return bump_l2(namespace, scope)


def _is_persistent(namespace: str) -> bool:
    try:
        return get_namespace(namespace).persistent
    except LookupError:
        return True  # declared by another process only: its rows may exist, so bump to be safe


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
