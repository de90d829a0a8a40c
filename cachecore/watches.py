"""The watch registry (model -> namespaces to invalidate, and how to scope them) and per-namespace timing.

Pure bookkeeping, no I/O: ``cachecore.invalidation`` records what a write invalidates from it,
``cachecore.relay`` maps trigger rows (tables) to namespaces and coalesces with ``timing``.
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import models

from cachecore.conf import settings
from cachecore.namespaces import get_namespace

ScopeFn = Callable[[models.Model], "str | Iterable[str] | None"]


@dataclass(frozen=True)
class Watch:
    """Namespaces to invalidate when a row of one model changes, and how to scope them."""

    namespaces: tuple[str, ...]
    scope: ScopeFn | None = None


_watches: dict[type[models.Model], list[Watch]] = {}
_registry_lock = threading.Lock()


# -- registry ----------------------------------------------------------------------------------


def watch_model(model, namespaces: str | Iterable[str], scope: ScopeFn | None = None) -> Watch:
    """Invalidate ``namespaces`` when a row of ``model`` is saved, deleted or its m2m changes.

    ``scope(instance)`` may return a scope string, several, or None (the whole namespace). Call it
    from an AppConfig.ready(); registering the same watch twice is a no-op. The receivers are
    connected for this model (and its proxies) only, so other models keep Django's fast delete.
    """
    if isinstance(model, str):
        from django.apps import apps

        model = apps.get_model(model)
    if isinstance(namespaces, str):
        namespaces = (namespaces,)
    watch = Watch(tuple(namespaces), scope)
    if not watch.namespaces:
        raise ValueError(f"watch_model({model.__name__}) needs at least one namespace")
    with _registry_lock:
        watches = _watches.setdefault(model, [])
        if watch not in watches:
            watches.append(watch)
    _sync_receivers(model)
    return watch


def unwatch_model(model, namespaces: str | Iterable[str] | None = None) -> None:
    """Forget the watches of ``model`` (all, or those naming ``namespaces``); for tests."""
    names = {namespaces} if isinstance(namespaces, str) else set(namespaces or ())
    with _registry_lock:
        kept = [w for w in _watches.get(model, []) if names and not names.intersection(w.namespaces)]
        if kept:
            _watches[model] = kept
        else:
            _watches.pop(model, None)
    _sync_receivers(model)


_change_listeners: list[Callable[[type[models.Model]], None]] = []


def on_change(listener: Callable[[type[models.Model]], None]) -> None:
    """Call ``listener(model)`` whenever the watches of a model change (cachecore.signals connects
    its receivers per watched model this way; its ready() catches up with earlier watches)."""
    if listener not in _change_listeners:
        _change_listeners.append(listener)


def _sync_receivers(model) -> None:
    for listener in list(_change_listeners):
        listener(model)


def watches_for(model) -> tuple[Watch, ...]:
    """Return the watches of ``model`` (a proxy model shares its concrete model's watches)."""
    found = _watches.get(model, ())
    concrete = getattr(getattr(model, "_meta", None), "concrete_model", model)
    if concrete is not model:
        found = (*found, *_watches.get(concrete, ()))
    return tuple(found)


def watched_models() -> dict[type[models.Model], tuple[Watch, ...]]:
    """Return every watched model with its watches."""
    with _registry_lock:
        return {model: tuple(watches) for model, watches in _watches.items()}


def namespaces_for_model(model) -> tuple[str, ...]:
    """Return the namespaces invalidated by writes to ``model``, in registration order."""
    return tuple(dict.fromkeys(ns for w in watches_for(model) for ns in w.namespaces))


def watched_tables() -> dict[str, tuple[str, ...]]:
    """Return database table -> namespaces for every watched model (the listener's map)."""
    tables: dict[str, dict[str, None]] = {}
    for model, watches in watched_models().items():
        target = tables.setdefault(model._meta.db_table, {})
        for watch in watches:
            target.update(dict.fromkeys(watch.namespaces))
    return {table: tuple(names) for table, names in tables.items()}


# -- timing ---------------------------------------------------------------------------------------


def timing(namespace: str) -> tuple[float, float]:
    """Return (trailing delay, max wait) for ``namespace``: its own values or the settings."""
    try:
        ns = get_namespace(namespace)
    except LookupError:
        ns = None
    delay = ns.debounce if ns is not None and ns.debounce is not None else settings.CACHECORE_DEBOUNCE_SECONDS
    max_wait = ns.max_wait if ns is not None and ns.max_wait is not None else settings.CACHECORE_MAX_WAIT_SECONDS
    return float(delay), float(max_wait)
