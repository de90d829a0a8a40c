"""Checked L1: an entry of an ``l1_checked`` namespace is served only while its generations are current.

Such an entry keeps the generations it was read or computed under; a lookup compares them with
the current ones in L2, so an invalidation holds on the very next lookup in every process (as
for an L2 hit) while the value itself never leaves process memory and is never decoded.

The current generations come from one MGET per lookup, or from the request's prefetch:
``prefetched(lookups)`` reads those of several lookups in one MGET when a request starts (the
accounts middleware names the session, its user and the user's client set), and each lookup then
takes its own, once. A prefetched generation is used only while this process has not evicted that
namespace/scope since it was read (a local invalidation evicts before and after its bump, another
process's reaches L1 over pub/sub), so a request that writes and then reads sees its own write.
"""

import contextvars
from contextlib import contextmanager

from cachecore import generations, keys, tiers
from cachecore.keys import Generations
from cachecore.namespaces import Namespace, get_namespace

# (namespace, scope) -> (generations, L1 eviction marker when they were read); one per request.
_prefetched: contextvars.ContextVar[dict | None] = contextvars.ContextVar("cachecore_prefetched", default=None)


def is_current(ns: Namespace, scope: str | None, stored: Generations | None) -> bool:
    """Return whether an entry stored under ``stored`` may be served (False when L2 cannot tell)."""
    if stored is None:
        return False
    return _current(ns.name, scope) == stored


def _current(namespace: str, scope: str | None) -> Generations | None:
    snapshot = _prefetched.get()
    if snapshot:
        found = snapshot.pop((namespace, scope), None)
        if found is not None and found[1] == tiers.l1.marker(namespace, scope):
            return found[0]
    return generations.read_generations(namespace, scope)[0]


def peek(namespace: str, params: dict):
    """Return the value L1 holds for ``params`` without checking it (a hint: whom to prefetch), or None."""
    ns = get_namespace(namespace)
    try:
        canon = keys.canonical_params(ns, params)
    except (TypeError, ValueError):
        return None
    entry = tiers.l1.get(keys.l1_key(ns.name, keys.param_hash(canon)))
    return None if entry is None else entry[1]


@contextmanager
def prefetched(lookups):
    """Within the block, lookups of ``(namespace, params)`` of l1_checked namespaces cost no round trip.

    The generations of every such lookup are read in one MGET now; lookups of other namespaces,
    or params the caller did not name, read their own as usual.
    """
    pairs = []
    for namespace, params in lookups:
        ns = get_namespace(namespace)
        if not ns.l1_checked:
            continue
        try:
            canon = keys.canonical_params(ns, params)
        except (TypeError, ValueError):
            continue
        pairs.append((ns.name, ns.scope(canon) if ns.scope else None))
    snapshot = None
    if pairs:
        markers = {pair: tiers.l1.marker(*pair) for pair in pairs}  # before the read: an eviction after it wins
        snapshot = {pair: (gens, markers[pair]) for pair, gens in generations.read_many(pairs).items()}
    token = _prefetched.set(snapshot)
    try:
        yield
    finally:
        _prefetched.reset(token)
