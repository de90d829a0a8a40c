"""Commit-aware invalidation: the registry of model -> namespaces, and recording into the outbox.

A write records ``(namespace, scope)`` in the outbox table inside its own transaction (one row per
key and transaction; nothing for a rollback), by the signal receivers, by the queryset-level writes
of ``InvalidatingQuerySet`` (installed on every watched model's default manager), by
``bulk_invalidation`` and by ``invalidate()``; the PostgreSQL triggers record raw SQL writes the
same way. At commit the local relay is woken (or, for a namespace without debounce, the row is
applied at once by the committing thread); any relay in any process applies rows that are left.
See ``cachecore.relay`` for how rows are applied and ``docs/cachecore-invalidation.md`` for the
guarantee.
"""

import atexit
import logging
from contextlib import contextmanager

from django.db import models, transaction
from django.db.models.signals import post_delete

from cachecore import coherence, debounce, outbox, relay, stats, testing
from cachecore.namespaces import all_namespaces, get_namespace
from cachecore.watches import (  # noqa: F401 - re-exported: the registry is part of this API
    Watch,
    namespaces_for_model,
    timing,
    unwatch_model,
    watch_model,
    watched_models,
    watched_tables,
    watches_for,
)

logger = logging.getLogger(__name__)

# -- recording ---------------------------------------------------------------------------------


def _check_scope(namespace: str, scope: str | None) -> None:
    ns = get_namespace(namespace)  # an unknown namespace is a programming error: fail loudly here
    if scope is None:
        return
    if not isinstance(scope, str) or not scope:
        raise ValueError(f"scope must be None (the whole namespace) or a non-empty string, got {scope!r}")
    if ns.scope is None:
        raise ValueError(
            f"scope={scope!r}: cache namespace {namespace!r} is declared without scope=, so its values are "
            "not kept per scope; invalidate the whole namespace (scope=None) or declare a scope function"
        )


def invalidate(namespace: str, scope: str | None = None, *, source: str = "api", using: str | None = None) -> None:
    """Invalidate ``namespace`` (or one scope of it) once the current transaction commits.

    The invalidation is recorded in the outbox in the current transaction: a rollback drops it, a
    commit makes it durable whatever happens to this process afterwards.
    """
    _check_scope(namespace, scope)
    _record(namespace, scope, source, using)


def invalidate_now(namespace: str, scope: str | None = None, *, source: str = "api") -> bool:
    """Invalidate ``namespace`` (or one scope of it) now, without debounce; return True when applied.

    Inside a transaction the key is applied at once (its durable token in a savepoint of the
    transaction), and recorded to be applied again right after the commit: until the commit,
    other processes read the old data and may cache it under the new generations; the second
    application retires that. When a tier cannot be reached the invalidation is recorded in the
    outbox, a relay retries it, and False is returned.
    """
    _check_scope(namespace, scope)
    if transaction.get_connection().in_atomic_block:
        _record(namespace, scope, source, None, immediate=True)
        return relay.apply_key(namespace, scope, sources=(source,))
    # Rows of the same key committed before this point are covered by this application: delete
    # them after it (never rows committed later: they were not in this snapshot).
    covered = outbox.pending_ids(namespace, scope)
    if relay.apply_key(namespace, scope, sources=(source,)):
        outbox.delete(covered)
        return True
    _record(namespace, scope, source, None)  # kept for the relay to retry
    return False


def invalidate_all(*, source: str = "api") -> list[str]:
    """Invalidate every registered namespace now; return the names of those fully applied.

    A namespace that could not be applied at once is recorded for the relay to retry.
    """
    return [ns.name for ns in all_namespaces() if invalidate_now(ns.name, source=source)]


def info() -> dict:
    """Return the outbox's pending rows and oldest age, the relay's and the L1 coherence's state.

    ``pending`` and ``oldest_age_seconds`` are None when the database cannot be read.
    """
    try:
        pending = outbox.status()
    except Exception:  # noqa: BLE001 - the database may be down; health pages still answer
        logger.debug("cachecore: outbox status unavailable", exc_info=True)
        pending = {"pending": None, "oldest_age_seconds": None}
    return {
        **pending,
        "relay": relay.thread_info(),
        "coherence": coherence.info(),
        "watched_models": len(watched_models()),
    }


def flush_pending() -> int:
    """Apply every pending invalidation now (not waiting for debounce); return how many keys were applied."""
    return relay.get_relay().drain()


def _record(namespace: str, scope: str | None, source: str, using: str | None, *, immediate: bool = False) -> None:
    outbox.record(namespace, scope, source, using=using, immediate=immediate, on_commit=_committed)


def _committed(marker) -> None:
    # Runs after the writer's commit, in the writer's thread. A namespace without debounce (or an
    # invalidate_now) is applied here and now; the others are coalesced by the relay.
    if marker.immediate or timing(marker.namespace)[0] <= 0:
        item = debounce.Item(marker.row_id, 0.0, "commit", ((marker.namespace, marker.scope or None),))
        try:
            here = relay.get_relay()
            applied = here.apply_rows([item])
            # A relay that claimed the row first is applying it: wait for that (moments), so the
            # writer's caller finds the write in force everywhere, as when it applies it itself.
            # Not applied within a lease (that relay died): wake this process's relay below.
            if applied.done or (applied.elsewhere and here.wait_applied(applied.elsewhere)):
                return
        except Exception:  # noqa: BLE001 - the row is durable: the relay retries it
            logger.warning("cachecore: applying an invalidation at commit failed", exc_info=True)
    relay.wake()


# -- bulk writes -------------------------------------------------------------------------------


@contextmanager
def bulk_invalidation(*targets, scope: str | None = None, source: str = "bulk", using: str | None = None):
    """Invalidate the given namespaces (or models' watched namespaces) once, when the block exits.

    The outbox row is written when the block exits, in the block's transaction (or autocommitted).

    For ``QuerySet.update()``, ``bulk_create()``, raw SQL. The invalidation is scheduled even when
    the block raises: outside a transaction its earlier statements are already committed, inside
    one the rollback drops the outbox row with the writes. An extra invalidation is harmless; a missing one
    serves stale data.
    """
    names = _resolve_targets(targets)
    for name in names:
        _check_scope(name, scope)
    try:
        yield names
    finally:
        for name in names:
            _record(name, scope, source, using)


def _resolve_targets(targets) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for target in targets:
        if isinstance(target, type) and issubclass(target, models.Model):
            names.update(dict.fromkeys(namespaces_for_model(target)))
        else:
            get_namespace(target)
            names[target] = None
    return tuple(names)


# Above this many rows a scoped queryset update() invalidates whole namespaces instead of
# loading every row to find its scopes.
SCOPED_UPDATE_LIMIT = 1000


class InvalidatingQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes record the model's watched namespaces (no signals needed).

    Watches with a scope function get the scopes of the written rows (the objects passed to
    ``bulk_create``/``bulk_update``; for ``update()`` the matching rows, read before and after),
    so a bulk write to one user's rows does not invalidate every user's values.
    """

    def update(self, **kwargs):
        if not _scoped_watches(self.model):
            with bulk_invalidation(self.model, using=self.db):
                return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            before = list(self.all()[: SCOPED_UPDATE_LIMIT + 1])
            try:
                count = super().update(**kwargs)
            finally:
                # Recorded even when the update fails: a rollback drops the rows with it.
                if len(before) > SCOPED_UPDATE_LIMIT:
                    _record_models(self.model, self.db)
                else:
                    after = list(self.model._base_manager.using(self.db).filter(pk__in=[o.pk for o in before]))
                    _record_instances(self.model, before + after, self.db)
            if count > len(before):  # rows inserted concurrently matched too: be safe
                _record_models(self.model, self.db)
            return count

    # Django runs both in one transaction (atomic, savepoint=False): a failure wrote nothing, and
    # inside a caller's transaction it left that transaction unusable. Record only after success,
    # so the write's own error (a unique violation, "database is locked") reaches the caller.
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        created = super().bulk_create(objs, *args, **kwargs)
        _record_instances(self.model, objs, self.db)
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        count = super().bulk_update(objs, fields, *args, **kwargs)
        _record_instances(self.model, objs, self.db)
        return count

    def delete(self):
        if post_delete.has_listeners(self.model):
            return super().delete()  # no fast delete: every row's post_delete records its scopes
        with bulk_invalidation(self.model, using=self.db):
            return super().delete()

    update.alters_data = bulk_create.alters_data = bulk_update.alters_data = delete.alters_data = True
    delete.queryset_only = True  # as in QuerySet: a manager has no delete()


def _scoped_watches(model) -> bool:
    return any(watch.scope is not None for watch in watches_for(model))


def _record_models(model, using) -> None:
    outbox.record_many(
        [(name, None) for name in namespaces_for_model(model)], "bulk", using=using, on_commit=_committed
    )


def _record_instances(model, instances, using) -> None:
    if not instances:
        return  # nothing was written
    keys: dict[tuple[str, str | None], None] = {}
    for watch in watches_for(model):
        scopes = {scope for instance in instances for scope in _scopes(watch, instance)}
        for name in watch.namespaces:
            keys.update(dict.fromkeys((name, scope) for scope in scopes))
    outbox.record_many(list(keys), "bulk", using=using, on_commit=_committed)


InvalidatingManager = models.Manager.from_queryset(InvalidatingQuerySet)


# -- signal receivers (connected in CachecoreConfig.ready) --------------------------------------


def on_save_or_delete(sender, instance, using=None, **kwargs) -> None:
    """Record the namespaces watching ``sender`` for a saved or deleted row (one INSERT for all)."""
    keys = {
        (name, scope): None
        for watch in watches_for(sender)
        for scope in _scopes(watch, instance)
        for name in watch.namespaces
    }
    if keys:
        _record_quietly(list(keys), using)


def on_m2m_changed(sender, instance, action, model=None, using=None, **kwargs) -> None:
    """Record the namespaces watching either side (or the through model) of a changed m2m."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    on_save_or_delete(type(instance), instance, using=using)
    # The other side's rows are only known by pk here: reading them would query the database, so
    # their namespaces are invalidated whole.
    names = {name: None for related in (model, sender) if related is not None for name in namespaces_for_model(related)}
    if names:
        _record_quietly([(name, None) for name in names], using)


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


def _record_quietly(keys: list[tuple[str, str | None]], using: str | None) -> None:
    try:
        outbox.record_many(keys, "signal", using=using, on_commit=_committed)
    except Exception:
        logger.exception("cachecore: could not record the invalidation of %s", sorted({n for n, _ in keys}))
        for name in {name for name, _ in keys}:
            stats.record_invalidation_failure(name)
        # Inside a transaction the failed INSERT has broken it: let the write fail with it rather
        # than commit a change whose invalidation is lost. An autocommitted write is already
        # committed: raising would only hide that it succeeded.
        if transaction.get_connection(using).in_atomic_block:
            raise


def staleness_bound(namespace: str) -> float:
    """Return the bound in seconds within which a committed write is visible in every process."""
    return relay.staleness_bound(namespace)


def _reset() -> None:
    relay.set_manual(True)


testing.register_reset(_reset)
atexit.register(relay.flush_at_exit)
