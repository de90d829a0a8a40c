"""Shared fixtures of the invalidation tests: throwaway namespaces watching real project models."""

import contextlib

from cachecore import invalidation, stats
from cachecore.namespaces import Namespace, register_namespace, unregister_namespace


@contextlib.contextmanager
def temporary_namespace(name: str, *, watch=(), scope=None, **fields):
    """Register a namespace (watching ``watch`` models) for the duration of the block."""
    ns = register_namespace(Namespace(name=name, **fields))
    for model in watch:
        invalidation.watch_model(model, name, scope=scope)
    try:
        yield ns
    finally:
        for model in watch:
            invalidation.unwatch_model(model, name)
        unregister_namespace(name)


def invalidations(name: str, source: str | None = None) -> int:
    """Return how many invalidations of ``name`` this process performed (from ``source`` or any)."""
    return sum(
        count
        for key, count in stats.totals().items()
        if key[0] == "inv" and key[1] == name and (source is None or key[2] == source)
    )


def failures(name: str) -> int:
    """Return how many invalidations of ``name`` failed."""
    return stats.totals().get(("invfail", name), 0)


class BumpSpy:
    """Count calls of generations.bump_generation per (namespace, scope) while delegating to it."""

    def __init__(self, monkeypatch):
        from cachecore import generations

        self.calls: list[tuple[str, str | None]] = []
        real = generations.bump_generation

        def spy(namespace, scope=None):
            self.calls.append((namespace, scope))
            return real(namespace, scope)

        monkeypatch.setattr(generations, "bump_generation", spy)

    def count(self, namespace: str, scope: str | None = None) -> int:
        return self.calls.count((namespace, scope))
