"""Namespaces: the declared shape (parameters, TTLs, tiers) of each cached data set."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_registry: dict[str, "Namespace"] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Namespace:
    """One cached data set: its whitelisted parameters, TTL per tier and behaviour.

    ``params`` are the only parameter names a caller may pass; ``unordered`` names the list
    parameters whose order does not matter (sorted and de-duplicated in the key). ``scope``
    derives a scope string (e.g. ``"user:7"``) from the normalised params: invalidating that scope
    retires only its entries. TTLs are seconds; ``None`` means no expiry (event-driven only).
    ``ttl_for(value)`` may cap the TTL of one value (e.g. a degraded result for 60 s).
    ``verify_rate`` (0..1) is the fraction of hits the sampling verifier recomputes and compares
    (``None``: ``CACHECORE_VERIFY_RATE``; 0 opts out, e.g. for an expensive or external compute).
    ``replicas=False`` keeps the namespace's computations on the primary without asking a read
    replica (for computations that read only tables the router keeps there, e.g. sessions).
    ``l1_checked=True`` serves an L1 entry only after confirming, in L2, that the generations it
    was stored under are still current (one MGET of small keys, or none when the request
    prefetched them: ``cachecore.checked``): every invalidation holds on the very next lookup in
    every process, as with L2, without moving or decoding the value (access rights: sessions,
    users, a user's client set). Requires L2 (``l2_ttl`` not 0); without it nothing is served.
    """

    name: str
    params: tuple[str, ...] = ()
    unordered: tuple[str, ...] = ()
    scope: Callable[[dict], str | None] | None = None
    l1_ttl: float | None = None
    l2_ttl: float | None = None
    l3_ttl: float | None = None
    persistent: bool = False
    stale_while_revalidate: bool = False
    debounce: float | None = None
    max_wait: float | None = None
    ttl_for: Callable[[Any], float | None] | None = None
    verify_rate: float | None = None
    replicas: bool = True
    l1_checked: bool = False

    @cached_property
    def param_set(self) -> frozenset[str]:
        """Return the whitelist as a set (computed once: checked on every lookup)."""
        return frozenset(self.params)

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str) or len(self.name) > 100:
            raise ValueError(f"Namespace name must be a non-empty string of at most 100 characters: {self.name!r}")
        if any(c.isspace() for c in self.name) or ":" in self.name:
            raise ValueError(f"Namespace name {self.name!r} must not contain spaces or ':'")
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "unordered", tuple(self.unordered))
        if len(set(self.params)) != len(self.params):
            raise ValueError(f"Namespace {self.name!r} lists a parameter twice: {self.params}")
        unknown = set(self.unordered) - set(self.params)
        if unknown:
            raise ValueError(f"Namespace {self.name!r}: unordered names unknown params {sorted(unknown)}")
        for field in ("l1_ttl", "l2_ttl", "l3_ttl", "debounce", "max_wait"):
            value = getattr(self, field)
            if value is not None and value < 0:
                raise ValueError(f"Namespace {self.name!r}: {field} must be >= 0 or None (got {value})")
        if self.l1_checked and self.l2_ttl == 0:
            raise ValueError(f"Namespace {self.name!r}: l1_checked needs L2 generations (l2_ttl must not be 0)")
        if self.verify_rate is not None and not 0 <= self.verify_rate <= 1:
            raise ValueError(f"Namespace {self.name!r}: verify_rate must be between 0 and 1 (got {self.verify_rate})")


def register_namespace(ns: Namespace) -> Namespace:
    """Register a namespace; registering an identical one again is a no-op, a different one an error."""
    if not isinstance(ns, Namespace):
        raise TypeError(f"register_namespace() expects a Namespace, got {type(ns).__name__}")
    with _lock:
        existing = _registry.get(ns.name)
        if existing is not None and not _same_definition(existing, ns):
            raise ValueError(f"Namespace {ns.name!r} is already registered with a different definition")
        _registry[ns.name] = ns
    return ns


def _same_definition(a: Namespace, b: Namespace) -> bool:
    # Functions compare by where they are defined, so re-importing a module (autoreload, tests)
    # that declares its namespaces with fresh lambdas is not mistaken for a conflicting definition.
    def norm(value):
        if callable(value):
            return (getattr(value, "__module__", None), getattr(value, "__qualname__", repr(value)))
        return value

    return all(norm(getattr(a, f)) == norm(getattr(b, f)) for f in a.__dataclass_fields__)


def get_namespace(name: str) -> Namespace:
    """Return the registered namespace called ``name`` or raise LookupError."""
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"Unknown cache namespace {name!r}; declare it with register_namespace()") from None


def all_namespaces() -> list[Namespace]:
    """Return every registered namespace, sorted by name."""
    return sorted(_registry.values(), key=lambda ns: ns.name)


def unregister_namespace(name: str) -> None:
    """Forget a namespace (for tests that declare throwaway namespaces)."""
    with _lock:
        _registry.pop(name, None)
