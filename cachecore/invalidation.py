"""Debounced, commit-aware invalidation and the registry of model -> namespaces.

A write schedules ``(namespace, scope)`` through ``transaction.on_commit`` (nothing for a rolled
back transaction); at commit it goes into the process-wide Debouncer, which fires one
invalidation per key after a trailing delay bounded by a max wait. Firing bumps the generation
in L2, deletes the namespace's L3 rows, evicts local L1 and publishes an event so every other
process evicts its L1 too. A failing step is counted and logged, never raised into the writer.
"""

import atexit
import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, models, transaction

from cachecore import coherence, generations, stats, testing, tiers
from cachecore.conf import settings
from cachecore.debounce import Debouncer
from cachecore.namespaces import all_namespaces, get_namespace

logger = logging.getLogger(__name__)

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


def _sync_receivers(model) -> None:
    # Receivers are connected per watched model (see cachecore.signals), at once: watch_model()
    # may run before or after cachecore's ready().
    from cachecore import signals

    signals.sync_model_receivers(model)


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


# -- scheduling --------------------------------------------------------------------------------


def invalidate(namespace: str, scope: str | None = None, *, source: str = "api", using: str | None = None) -> None:
    """Invalidate ``namespace`` (or one scope of it) once the current transaction commits."""
    get_namespace(namespace)  # an unknown namespace is a programming error: fail loudly here
    _schedule(namespace, scope, source, using)


def enqueue(namespace: str, scope: str | None = None, *, source: str = "listener") -> None:
    """Feed the debouncer directly: the change is already committed (NOTIFY, another process)."""
    get_debouncer().add(namespace, scope, source)


def invalidate_now(namespace: str, scope: str | None = None, *, source: str = "api") -> None:
    """Invalidate ``namespace`` (or one scope of it) now: no debounce, no waiting for a commit."""
    get_namespace(namespace)
    get_debouncer().cancel(namespace, scope)  # this invalidation covers a pending one
    fire(namespace, scope, (source,))
    if transaction.get_connection().in_atomic_block:
        # The transaction's writes (and a durable bump made in it) are invisible to others until
        # it commits: a reader in between computes from the old data under the new generation.
        # Fire once more at commit (nothing for a rollback: the first firing was enough).
        transaction.on_commit(_OnCommitNow(namespace, scope, source), robust=True)


def invalidate_all(*, source: str = "api") -> list[str]:
    """Invalidate every registered namespace now; return their names."""
    names = [ns.name for ns in all_namespaces()]
    for name in names:
        invalidate_now(name, source=source)
    return names


def info() -> dict:
    """Return the pending invalidations and the watch registry's size, for stats and health pages."""
    pending = get_debouncer().pending()
    return {
        "pending": len(pending),
        "pending_namespaces": sorted({namespace for namespace, _ in pending}),
        "watched_models": len(watched_models()),
    }


def flush_pending() -> int:
    """Fire every pending debounced invalidation now; return how many fired."""
    return get_debouncer().flush()


class _OnCommit:
    """The on_commit callback of one (namespace, scope); recognisable so a transaction queues it once."""

    __slots__ = ("namespace", "scope", "source")

    def __init__(self, namespace: str, scope: str | None, source: str):
        self.namespace, self.scope, self.source = namespace, scope, source

    def __call__(self) -> None:
        get_debouncer().add(self.namespace, self.scope, self.source)


class _OnCommitNow(_OnCommit):
    """The second firing of an ``invalidate_now`` made inside a transaction, at its commit."""

    __slots__ = ()

    def __call__(self) -> None:
        fire(self.namespace, self.scope, (self.source,))


def _schedule(namespace: str, scope: str | None, source: str, using: str | None) -> None:
    conn = transaction.get_connection(using)
    if conn.in_atomic_block and _already_queued(conn, namespace, scope):
        return
    transaction.on_commit(_OnCommit(namespace, scope, source), using=using, robust=True)


def _already_queued(conn, namespace: str, scope: str | None) -> bool:
    # A callback still in run_on_commit survives exactly when the current write survives: its
    # savepoints are either ancestors of the current one (a rollback drops both) or released.
    # So 1,000 saves in one transaction queue one callback, not 1,000.
    for _sids, func, *_ in conn.run_on_commit:
        if isinstance(func, _OnCommit) and func.namespace == namespace and func.scope == scope:
            return True
    return False


# -- bulk writes -------------------------------------------------------------------------------


@contextmanager
def bulk_invalidation(*targets, scope: str | None = None, source: str = "bulk", using: str | None = None):
    """Invalidate the given namespaces (or models' watched namespaces) once, when the block exits.

    For ``QuerySet.update()``, ``bulk_create()``, raw SQL. The invalidation is scheduled even when
    the block raises: outside a transaction its earlier statements are already committed, inside
    one ``on_commit`` drops it with the rollback. An extra invalidation is harmless; a missing one
    serves stale data.
    """
    names = _resolve_targets(targets)
    try:
        yield names
    finally:
        for name in names:
            _schedule(name, scope, source, using)


def _resolve_targets(targets) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for target in targets:
        if isinstance(target, type) and issubclass(target, models.Model):
            names.update(dict.fromkeys(namespaces_for_model(target)))
        else:
            get_namespace(target)
            names[target] = None
    return tuple(names)


class InvalidatingQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes invalidate the model's watched namespaces (no signals needed)."""

    def update(self, **kwargs):
        with bulk_invalidation(self.model, using=self.db):
            return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        with bulk_invalidation(self.model, using=self.db):
            return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        with bulk_invalidation(self.model, using=self.db):
            return super().bulk_update(objs, fields, *args, **kwargs)

    def delete(self):
        # A fast delete sends no post_delete signals, so the queryset schedules it itself.
        with bulk_invalidation(self.model, using=self.db):
            return super().delete()

    update.alters_data = bulk_create.alters_data = bulk_update.alters_data = delete.alters_data = True
    delete.queryset_only = True  # as in QuerySet: a manager has no delete()


InvalidatingManager = models.Manager.from_queryset(InvalidatingQuerySet)


# -- signal receivers (connected in CachecoreConfig.ready) --------------------------------------


def on_save_or_delete(sender, instance, using=None, **kwargs) -> None:
    """Schedule the namespaces watching ``sender`` for a saved or deleted row."""
    for watch in watches_for(sender):
        for scope in _scopes(watch, instance):
            for name in watch.namespaces:
                _schedule_quietly(name, scope, using)


def on_m2m_changed(sender, instance, action, model=None, using=None, **kwargs) -> None:
    """Schedule the namespaces watching either side (or the through model) of a changed m2m."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    on_save_or_delete(type(instance), instance, using=using)
    # The other side's rows are only known by pk here: reading them would query the database, so
    # their namespaces are invalidated whole.
    for related in (model, sender):
        for name in namespaces_for_model(related) if related is not None else ():
            _schedule_quietly(name, None, using)


def _scopes(watch: Watch, instance) -> tuple[str | None, ...]:
    if watch.scope is None:
        return (None,)
    try:
        result = watch.scope(instance)
        if result is None or isinstance(result, str):
            return (result,)
        scopes = tuple(dict.fromkeys(result))
        if not all(isinstance(scope, str) for scope in scopes):
            raise TypeError(f"scopes must be strings, got {scopes!r}")
    except Exception:  # a bug in the scope function must not break the write: over-invalidate
        logger.exception("cachecore: scope function of %s failed; invalidating whole namespaces", watch.namespaces)
        return (None,)
    return scopes


def _schedule_quietly(name: str, scope: str | None, using: str | None) -> None:
    try:
        _schedule(name, scope, "signal", using)
    except Exception:  # a receiver must never break the write that triggered it
        logger.exception("cachecore: could not schedule invalidation of %s", name)
        stats.record_invalidation_failure(name)


# -- firing ------------------------------------------------------------------------------------


def fire(namespace: str, scope: str | None, sources: tuple[str, ...]) -> bool:
    """Perform one invalidation on every tier and tell other processes; return True on success."""
    failed: list[str] = []
    # Each step runs even when an earlier one failed: with Redis down, L3 and L1 still go.
    generation = _step(failed, "generation", generations.bump_generation, namespace, scope)
    if generation is None and "generation" not in failed:
        failed.append("generation")  # L2 unreachable: keys forced its breaker open; recovery bumps the epoch
    if _is_persistent(namespace):
        _step(failed, "l3", tiers.l3_delete, namespace, scope)
    _step(failed, "l1", tiers.l1_evict, namespace, scope)
    _step(failed, "publish", coherence.publish, namespace, scope, generation)
    stats.record_invalidation(namespace, sources[0] if sources else "unknown")
    if failed:
        logger.warning("cachecore: invalidation of %s (scope %s) incomplete: %s failed", namespace, scope, failed)
        stats.record_invalidation_failure(namespace)
    return not failed


def _step(failed: list[str], name: str, fn, *args):
    try:
        return fn(*args)
    except tiers.TierUnavailable as exc:  # an outage the tier already counted and logged
        logger.debug("cachecore: invalidation step %s skipped: %s", name, exc)
    except Exception:
        logger.exception("cachecore: invalidation step %s failed", name)
    failed.append(name)
    return None


def _is_persistent(namespace: str) -> bool:
    try:
        return get_namespace(namespace).persistent
    except LookupError:
        return True  # unknown here (another process declared it): delete to be safe


def timing(namespace: str) -> tuple[float, float]:
    """Return (trailing delay, max wait) for ``namespace``: its own values or the settings."""
    try:
        ns = get_namespace(namespace)
    except LookupError:
        ns = None
    delay = ns.debounce if ns is not None and ns.debounce is not None else settings.CACHECORE_DEBOUNCE_SECONDS
    max_wait = ns.max_wait if ns is not None and ns.max_wait is not None else settings.CACHECORE_MAX_WAIT_SECONDS
    return float(delay), float(max_wait)


# -- the process-wide debouncer ----------------------------------------------------------------

_debouncer: Debouncer | None = None
_debouncer_lock = threading.Lock()


def get_debouncer() -> Debouncer:
    """Return the process-wide Debouncer, creating it (and its exit flush) on first use."""
    global _debouncer
    if _debouncer is None:
        with _debouncer_lock:
            if _debouncer is None:
                _debouncer = Debouncer(fire, timing, after_batch=_close_thread_connections)
                atexit.register(_flush_at_exit)
    return _debouncer


def _close_thread_connections() -> None:
    # The timer thread's database connections are its own; return them after each batch.
    connections.close_all()


def _flush_at_exit() -> None:
    if _debouncer is None:
        return
    try:
        fired = _debouncer.flush()
        if fired:
            logger.info("cachecore: flushed %d pending invalidation(s) at exit", fired)
    except Exception:
        logger.exception("cachecore: flushing pending invalidations at exit failed")


def _reset() -> None:
    if _debouncer is not None:
        _debouncer.discard()


testing.register_reset(_reset)
