"""Pure logic of the sampling verifier: value hashes, the allowed staleness, the verdict.

No I/O here (the worker, its queue and the counters live in ``verifier.py``).

A sampled hit served hash S at time t1; the worker recomputes the value and gets F. S == F: the
hit was consistent. S != F: the source changed after S was computed, but *when* is unknown (it
may have been a moment ago, inside the allowed staleness). So the key becomes a *suspect* and is
read again through the cache once the allowed staleness has passed: if the cache still serves S
and a fresh compute still differs from S, the source has differed from the served value for
longer than the allowed staleness: one inconsistent read (the method of Meta's Polaris).
"""

import json
from dataclasses import dataclass

from cachecore.keys import data_hash

CONSISTENT, SUSPECT, INCONSISTENT = "consistent", "suspect", "inconsistent"


def value_hash(value) -> str:
    """Return the data hash of a value, independent of dict order and of the tier it came from."""
    return data_hash(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))


@dataclass(frozen=True)
class Suspect:
    """A key whose served value differed from a fresh compute; read again at ``due``."""

    namespace: str
    params: dict
    served_hash: str
    fresh_hash: str
    first_seen: float
    due: float


def first_verdict(served_hash: str, fresh_hash: str) -> str:
    """Return CONSISTENT when a sampled hit matches its recompute, else SUSPECT."""
    return CONSISTENT if served_hash == fresh_hash else SUSPECT


def recheck_verdict(suspect: Suspect, served_hash: str, fresh_hash: str) -> str:
    """Judge a suspect read again after the allowed staleness.

    CONSISTENT: the cache now serves what the source says (the invalidation arrived in time, or
    the source changed back). INCONSISTENT: the cache still serves the suspected value and the
    source still differs from it. SUSPECT: the cache serves another value that differs too (a
    newer write): the clock starts again from this read.
    """
    if served_hash == fresh_hash:
        return CONSISTENT
    if served_hash == suspect.served_hash:
        return INCONSISTENT
    return SUSPECT
