"""Checked L1: an entry of an ``l1_checked`` namespace is served only while its generations are current.

Such an entry keeps the generations it was read or computed under; a lookup compares them with
the current ones in L2, so an invalidation holds on the very next lookup in every process (as
for an L2 hit) while the value itself never leaves process memory and is never decoded.

The current generations come from one MGET per lookup, or from the request's prefetch: within
``prefetched(lookups)`` the first of the named lookups reads the generations of all of them in
one MGET (the accounts middleware names the session, its user and the user's client set; a view
that never looks at them pays nothing), and each lookup then takes its own, once. A prefetched
generation is used only while this process has not evicted that namespace/scope since it was
read (a local invalidation evicts before and after its bump, another process's reaches L1 over
pub/sub), so a request that writes and then reads sees its own write.
"""

import contextvars
from contextlib import contextmanager

from cachecore import generations, keys, tiers
from cachecore.keys import Generations
from cachecore.namespaces import Namespace, get_namespace


class _Prefetch:
    """The lookups a request named: their generations are read together by the first of them."""

    def __init__(self, lookups):
        self.lookups = lookups
        self.found: dict | None = None  # (namespace, scope) -> (generations, L1 eviction marker)

    def take(self, pair: tuple[str, str | None]) -> Generations | None:
        if self.found is None:
            # Resolved here, not when the request named them: a view that never looks pays nothing.
            pairs = _pairs(self.lookups)
            if pair not in pairs:
                return None
            markers = {p: tiers.l1.marker(*p) for p in pairs}  # before the read: an eviction after it wins
            self.found = {p: (gens, markers[p]) for p, gens in generations.read_many(pairs).items()}
        found = self.found.pop(pair, None)
        if found is not None and found[1] == tiers.l1.marker(*pair):
            return found[0]
        return None


def _pairs(lookups) -> list[tuple[str, str | None]]:
    # (namespace, scope) of each lookup of an l1_checked namespace with valid params.
    pairs = []
    for namespace, params in lookups:
        ns = get_namespace(namespace)
        canon = _canonical(ns, params) if ns.l1_checked else None
        if canon is not None:
            pairs.append((ns.name, ns.scope(canon) if ns.scope else None))
    return pairs


def _canonical(ns: Namespace, params: dict) -> dict | None:
    try:
        return keys.canonical_params(ns, params)
    except (TypeError, ValueError):
        return None


_prefetched: contextvars.ContextVar[_Prefetch | None] = contextvars.ContextVar("cachecore_prefetched", default=None)


def is_current(ns: Namespace, scope: str | None, stored: Generations | None) -> bool:
    """Return whether an entry stored under ``stored`` may be served (False when L2 cannot tell)."""
    if stored is None:
        return False
    return _current(ns.name, scope) == stored


def _current(namespace: str, scope: str | None) -> Generations | None:
    prefetch = _prefetched.get()
    found = prefetch.take((namespace, scope)) if prefetch is not None else None
    if found is not None:
        return found
    return generations.read_generations(namespace, scope)[0]


def peek(namespace: str, params: dict):
    """Return the value L1 holds for ``params`` without checking it (a hint: whom to prefetch), or None."""
    ns = get_namespace(namespace)
    canon = _canonical(ns, params)
    if canon is None:
        return None
    entry = tiers.l1.get(keys.l1_key(ns.name, keys.param_hash(canon)))
    return None if entry is None else entry[1]


@contextmanager
def prefetched(lookups):
    """Within the block, the first checked lookup of ``(namespace, params)`` in ``lookups`` reads them all.

    Their generations are read in one MGET by the first of them that runs (none when no lookup
    of them runs: naming them costs no I/O); each is then used once. Lookups of other namespaces
    or params read their own as usual.
    """
    token = _prefetched.set(_Prefetch(list(lookups)) if lookups else None)
    try:
        yield
    finally:
        _prefetched.reset(token)
