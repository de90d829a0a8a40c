"""Cache keys and generations: the only place keys are built.

A key is ``cc1:<namespace>:<epoch>.<namespace generation>.<scope generation>:<sha256>`` where the
hash covers the canonical JSON of the whitelisted parameters. Generations are random tokens kept
in L2 (never reused, so an evicted or lost generation key can never resurrect old entries):
bumping one retires every key built under the old token. The epoch is a cluster-wide generation
bumped after an L2 outage, because invalidations may have been lost while L2 was unreachable.

L3 rows do not use these L2 tokens: persistent namespaces also keep a durable token per namespace
and scope in the database (``CacheGeneration``, see ``tiers.l3_get``), bumped by the same
``bump_generation`` before L2. So the cache table survives a Redis flush, a restart, the epoch
bump of an outage and the per-process local-memory L2 of the embedded default.
"""

import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import re
import secrets
import threading
import uuid
from typing import NamedTuple

import orjson

from cachecore import tiers
from cachecore.namespaces import Namespace, get_namespace

VERSION = "cc1"
EPOCH_KEY = f"{VERSION}:epoch"
_INT_RE = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_BOOLS = {"true": True, "false": False}


# --- canonical parameters -------------------------------------------------------------------


def _normalise(value, name: str):
    kind = type(value)
    if kind is int or value is None or kind is bool:  # the common cases first: this is the hot path
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        if _INT_RE.fullmatch(value):
            return int(value)
        return _BOOLS.get(value.lower(), value) if len(value) <= 5 else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)  # "nan", "inf", "-inf": JSON has no such numbers (orjson writes null)
        return int(value) if value.is_integer() else value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _normalise(value.value, name)
    if isinstance(value, list | tuple):
        return [_normalise(v, name) for v in value]
    if isinstance(value, set | frozenset):
        return _sorted_unique([_normalise(v, name) for v in value])
    if isinstance(value, dict):
        return {str(k): _normalise(v, name) for k, v in value.items()}
    raise TypeError(f"Cache parameter {name!r} has unsupported type {type(value).__name__}")


def _sorted_unique(values: list) -> list:
    kinds = {type(v) for v in values}
    if kinds == {int} or kinds == {str}:
        return sorted(set(values))
    unique = {json.dumps(v, sort_keys=True, default=str): v for v in values}
    return [unique[k] for k in sorted(unique)]


def canonical_params(ns: Namespace, params: dict) -> dict:
    """Return the whitelisted, type-normalised parameters (absent ones as None); reject unknown names."""
    if not ns.param_set.issuperset(params):
        unknown = set(params) - ns.param_set
        raise TypeError(f"Unknown cache parameter(s) {sorted(unknown)} for namespace {ns.name!r}; allowed: {ns.params}")
    canon = {}
    for name in ns.params:
        value = _normalise(params.get(name), name)
        if name in ns.unordered and value is not None:
            if not isinstance(value, list):
                raise TypeError(f"Cache parameter {name!r} of {ns.name!r} must be a list, tuple or set")
            value = _sorted_unique(value)
        canon[name] = value
    return canon


def canonical_json(canon: dict) -> str:
    """Return the canonical JSON text of normalised parameters."""
    return _canonical_bytes(canon).decode()


def _canonical_bytes(canon: dict) -> bytes:
    # orjson (sorted keys, compact, UTF-8) is ~10x faster than json.dumps on the hot path; the
    # stdlib encoder is the fallback for what orjson refuses (integers beyond 64 bits).
    try:
        return orjson.dumps(canon, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def param_hash(canon: dict) -> str:
    """Return the sha256 hex digest of the canonical parameters (the L3 key_hash)."""
    return hashlib.sha256(_canonical_bytes(canon)).hexdigest()


def data_hash(payload: str) -> str:
    """Return the sha256 hex digest of a serialised value."""
    return hashlib.sha256(payload.encode()).hexdigest()


# --- key builders ---------------------------------------------------------------------------


class Generations(NamedTuple):
    """The generation tokens a value is computed under."""

    epoch: str
    namespace: str
    scope: str

    @property
    def token(self) -> str:
        """Return the combined token used in L2 keys (L3 rows use the durable token instead)."""
        return f"{self.epoch}.{self.namespace}.{self.scope}"


def generation_key(namespace: str, scope: str | None = None) -> str:
    """Return the L2 key holding the generation of a namespace or of one scope of it."""
    return f"{VERSION}:gen:{namespace}" if scope is None else f"{VERSION}:gen:{namespace}:{scope}"


def value_key(namespace: str, gens: Generations, key_hash: str) -> str:
    """Return the L2 key of a value computed under ``gens``."""
    return f"{VERSION}:{namespace}:{gens.token}:{key_hash}"


def stale_key(namespace: str, key_hash: str) -> str:
    """Return the L2 key of the last value of any generation (stale-while-revalidate)."""
    return f"{VERSION}:stale:{namespace}:{key_hash}"


def l1_key(namespace: str, key_hash: str) -> str:
    """Return the L1 key (L1 is fenced by eviction sequence numbers, not generations)."""
    return f"{namespace}:{key_hash}"


def lock_key(namespace: str, key_hash: str) -> str:
    """Return the L2 key of the single-flight lock of one value."""
    return f"{VERSION}:lock:{namespace}:{key_hash}"


# --- generations ----------------------------------------------------------------------------


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
