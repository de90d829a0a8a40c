"""Shared fixtures of the invalidation tests: throwaway namespaces watching real project models."""

import contextlib

from cachecore import invalidation, stats
from cachecore.namespaces import Namespace, register_namespace, unregister_namespace


@contextlib.contextmanager
def temporary_namespace(name: str, *, watch=(), scope=None, key_scope=None, **fields):
    """Register a namespace (watching ``watch`` models) for the duration of the block.

    ``scope`` is the watch's scope function (instance -> scope); ``key_scope`` the namespace's own
    (params -> scope). A watch scope needs a scoped namespace, so a plain one is made up for it.
    """
    if scope is not None and key_scope is None:
        key_scope = _param_scope
        fields.setdefault("params", ("scope",))
    ns = register_namespace(Namespace(name=name, scope=key_scope, **fields))
    for model in watch:
        invalidation.watch_model(model, name, scope=scope)
    try:
        yield ns
    finally:
        for model in watch:
            invalidation.unwatch_model(model, name)
        unregister_namespace(name)


def _param_scope(params: dict) -> str | None:
    return params.get("scope")


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


def pending_keys(prefix: str = "test.") -> set[tuple[str, str | None]]:
    """Return the (namespace, scope) of committed, unapplied outbox rows (scope None: whole).

    Only namespaces starting with ``prefix`` (the tests' own): the project's watches record rows
    for the same models too.
    """
    from cachecore.models import InvalidationOutbox

    rows = InvalidationOutbox.objects.filter(namespace__startswith=prefix).values_list("namespace", "scope")
    return {(namespace, scope or None) for namespace, scope in rows}


def pending_tables() -> set[str]:
    """Return the tables of committed, unapplied trigger rows."""
    from cachecore.models import InvalidationOutbox

    return set(InvalidationOutbox.objects.exclude(table="").values_list("table", flat=True))


class BumpSpy:
    """Count L2 generation bumps per (namespace, scope) (each applied invalidation makes one)."""

    def __init__(self, monkeypatch):
        from cachecore import generations

        self.calls: list[tuple[str, str | None]] = []
        real = generations.bump_l2

        def spy(namespace, scope=None):
            self.calls.append((namespace, scope))
            return real(namespace, scope)

        monkeypatch.setattr(generations, "bump_l2", spy)

    def count(self, namespace: str, scope: str | None = None) -> int:
        return self.calls.count((namespace, scope))
