"""Operations on the L3 cache table used by the admin and the management commands."""

from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from cachecore import stats, tiers
from cachecore.models import CacheEntry, CacheGeneration

# The cache table and the durable generations its rows are checked against live and die together:
# dropping only the generations would reset their tokens and could revive retired rows.
_MODELS = (CacheEntry, CacheGeneration)


@dataclass(frozen=True)
class TableStatus:
    """Whether the cache table exists, and its row counts when it does."""

    table: str
    exists: bool
    rows: int = 0
    expired: int = 0


@dataclass(frozen=True)
class CleanupResult:
    """What cleanup_expired() found and deleted."""

    expired: int
    deleted: int
    batches: int
    dry_run: bool


def table_name() -> str:
    """Return the name of the cache table."""
    return CacheEntry._meta.db_table


def _existing(using: str) -> set[str]:
    with connections[using].cursor() as cursor:
        return set(connections[using].introspection.table_names(cursor))


def table_exists(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the cache table (and its generations table) exist in the database."""
    existing = _existing(using)
    return all(model._meta.db_table in existing for model in _MODELS)


def table_status(*, using: str = DEFAULT_DB_ALIAS, now: datetime | None = None) -> TableStatus:
    """Return whether the table exists and how many (expired) rows it holds."""
    if not table_exists(using):
        return TableStatus(table_name(), False)
    rows = CacheEntry.objects.using(using)
    expired = rows.filter(expires_at__lte=now or timezone.now()).count()
    return TableStatus(table_name(), True, rows.count(), expired)


def create_table(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Create the cache table and its generations table (with indexes and constraints) where missing."""
    existing = _existing(using)
    missing = [model for model in _MODELS if model._meta.db_table not in existing]
    if not missing:
        return False
    with connections[using].schema_editor() as editor:
        for model in missing:
            editor.create_model(model)
    tiers.l3_breaker.reset()  # a table that was missing is usable again
    return True


def drop_table(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Drop the cache table and its generations table where they exist; return whether any was dropped."""
    existing = _existing(using)
    present = [model for model in _MODELS if model._meta.db_table in existing]
    if not present:
        return False
    with connections[using].schema_editor() as editor:
        for model in present:
            editor.delete_model(model)
    return True


def expired_entries(namespace: str | None = None, now: datetime | None = None):
    """Return the queryset of expired rows (of one namespace)."""
    rows = CacheEntry.objects.filter(expires_at__lte=now or timezone.now())
    return rows.filter(namespace=namespace) if namespace else rows


def cleanup_expired(
    *, namespace: str | None = None, batch_size: int = 1000, dry_run: bool = False, now: datetime | None = None
) -> CleanupResult:
    """Delete expired rows in batches of ``batch_size`` (never a row that is still valid)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    expired = expired_entries(namespace, now)
    count = expired.count()
    if dry_run:
        return CleanupResult(count, 0, 0, True)
    deleted = batches = 0
    while True:
        ids = list(expired.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        # The expiry condition is repeated in the DELETE: a row refreshed meanwhile survives.
        deleted += CacheEntry.objects.filter(pk__in=ids, expires_at__lte=now).delete()[0]
        batches += 1
        if len(ids) < batch_size:
            break
    return CleanupResult(count, deleted, batches, False)


def invalidate_entries(queryset, *, source: str = "admin") -> list[tuple[str, str | None]]:
    """Invalidate the namespace/scope of each selected row on every tier; return the pairs."""
    pairs = sorted(set(queryset.values_list("namespace", "scope")), key=lambda p: (p[0], p[1]))
    targets = [(ns, scope or None) for ns, scope in pairs]
    try:
        from cachecore.invalidation import invalidate_now
    except ImportError:  # the invalidation side is optional for the engine
        invalidate_now = None
    for namespace, scope in targets:
        if invalidate_now is not None:
            invalidate_now(namespace, scope, source=source)
        else:
            from cachecore import generations

            generations.bump_generation(namespace, scope)
            stats.record_invalidation(namespace, source)
    # Rows of namespaces this process does not know (or non-persistent ones) go too.
    queryset.model.objects.filter(pk__in=list(queryset.values_list("pk", flat=True))).delete()
    return targets
