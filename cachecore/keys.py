"""Cache keys: the only place keys are built (pure functions, no I/O).

A key is ``cc1:<namespace>:<epoch>.<namespace generation>.<scope generation>:<sha256>`` where the
hash covers the canonical JSON of the whitelisted parameters. Generations are random tokens kept
in L2 (never reused, so an evicted or lost generation key can never resurrect old entries):
bumping one retires every key built under the old token. The epoch is a cluster-wide generation
bumped after an L2 outage, because invalidations may have been lost while L2 was unreachable.

Reading and bumping generations (I/O against L2 and the database) lives in
``cachecore.generations``; this module only names the keys.
"""

import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import re
import uuid
from typing import NamedTuple

import orjson

from cachecore.namespaces import Namespace

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
        if not value.is_finite():
            # Decimal("NaN") must not collide with None, nor Infinity raise: a distinct string.
            return f"decimal:{'-' if value.is_signed() else ''}{'inf' if value.is_infinite() else 'nan'}"
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
    if not isinstance(params, dict):
        raise TypeError(f"params of cache namespace {ns.name!r} must be a dict, got {type(params).__name__}")
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
