"""The invalidation outbox: rows written in the writer's transaction, read and deleted by relays.

``record()`` inserts one row per (namespace, scope) and transaction: inside an atomic block a
marker kept in the connection's ``run_on_commit`` list (savepoint-aware, like the callbacks
themselves) says the row is already there, so 1,000 saves in one transaction insert one row. The
marker is also the commit hook that wakes the local relay. Outside a transaction the row is its
own autocommitted statement, right after the write it belongs to.

Everything here is database I/O on the ``InvalidationOutbox`` table; what to do with the rows
(coalescing, applying) is the relay's business.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

SOURCE_MAX = 30


@dataclass(frozen=True)
class Row:
    """One pending invalidation as the relay sees it."""

    id: int
    namespace: str
    scope: str  # "" = the whole namespace
    table: str  # set for trigger rows (raw SQL): the relay maps the table to namespaces
    source: str
    created_at: datetime


class _Marker:
    """The on_commit entry of one recorded (namespace, scope): a dedupe marker and a commit hook."""

    __slots__ = ("namespace", "scope", "row_id", "immediate", "hook")

    def __init__(self, namespace: str, scope: str, row_id: int, immediate: bool, hook):
        self.namespace, self.scope, self.row_id, self.immediate, self.hook = namespace, scope, row_id, immediate, hook

    def __call__(self) -> None:
        if self.hook is not None:
            self.hook(self)


def _model():
    from cachecore.models import InvalidationOutbox

    return InvalidationOutbox


def _alias(using: str | None) -> str:
    return using or router.db_for_write(_model())


def record(
    namespace: str,
    scope: str | None,
    source: str,
    *,
    using: str | None = None,
    immediate: bool = False,
    on_commit: Callable[[_Marker], None] | None = None,
) -> int | None:
    """Insert the row of (namespace, scope) in the current transaction; return its id (None: already there).

    ``on_commit(marker)`` runs after the transaction commits (at once outside a transaction).
    ``immediate`` asks that hook to apply the row without the namespace's debounce.
    """
    ids = record_many([(namespace, scope)], source, using=using, immediate=immediate, on_commit=on_commit)
    return ids[0] if ids else None


def record_many(
    keys: Iterable[tuple[str, str | None]],
    source: str,
    *,
    using: str | None = None,
    immediate: bool = False,
    on_commit: Callable[[_Marker], None] | None = None,
) -> list[int]:
    """Insert the rows of several (namespace, scope) keys in one statement; return the new ids.

    Keys already recorded in the current transaction are skipped (one row per key and
    transaction). Outside a transaction the one INSERT is one autocommit, whatever the number of
    keys (a save of a model watched by several namespaces pays one commit, not one per namespace).
    """
    alias = _alias(using)
    conn = transaction.get_connection(alias)
    wanted: dict[tuple[str, str], None] = {}
    for namespace, scope in keys:
        key = (namespace, scope or "")
        if conn.in_atomic_block:
            marker = _queued(conn, *key)
            if marker is not None:
                if immediate and not marker.immediate:
                    marker.immediate = True
                continue
        wanted[key] = None
    if not wanted:
        return []
    now = timezone.now()
    model = _model()
    rows = [model(namespace=ns, scope=scope, source=source[:SOURCE_MAX], created_at=now) for ns, scope in wanted]
    model.objects.using(alias).bulk_create(rows)
    for row in rows:
        marker = _Marker(row.namespace, row.scope, row.pk, immediate, on_commit)
        transaction.on_commit(marker, using=alias, robust=True)
    return [row.pk for row in rows]


def _queued(conn, namespace: str, scope: str) -> _Marker | None:
    # A marker still in run_on_commit survives exactly when the current write survives: its
    # savepoints are either ancestors of the current one (a rollback drops both the marker and
    # the row) or released.
    for _sids, func, *_ in conn.run_on_commit:
        if isinstance(func, _Marker) and func.namespace == namespace and func.scope == scope:
            return func
    return None


def fetch(limit: int, *, using: str | None = None, now: datetime | None = None) -> list[Row]:
    """Return up to ``limit`` pending rows, oldest first (without those another relay has leased)."""
    rows = _model().objects.using(_alias(using))
    if now is not None:
        rows = rows.filter(_free(now))
    rows = rows.order_by("id")[:limit]
    return [Row(*r) for r in rows.values_list("id", "namespace", "scope", "table", "source", "created_at")]


def claim(ids: Iterable[int], owner: str, lease: timedelta, *, using: str | None = None) -> set[int]:
    """Lease the rows of ``ids`` that no other relay holds; return the ids now held by ``owner``.

    A relay that dies holding a lease delays its rows by at most ``lease``. On PostgreSQL the
    free rows are locked in id order with ``SKIP LOCKED`` and leased by the same statement:
    a row another relay (or a committing writer) is claiming or deleting right now
    is skipped, never waited for, so concurrent relays cannot deadlock on overlapping rows.
    SQLite runs writes one at a time: there one conditional UPDATE does it.
    """
    alias = _alias(using)
    ids = list(ids)
    if not ids:
        return set()
    now = timezone.now()
    if not _skips_locked(alias):
        rows = _model().objects.using(alias).filter(id__in=ids)
        rows.filter(_free(now)).update(claimed_by=owner, claimed_until=now + lease)
        return set(rows.filter(claimed_by=owner).values_list("id", flat=True))
    table = _table(alias)
    sql = (
        f"UPDATE {table} SET claimed_by = %s, claimed_until = %s WHERE id IN ("
        f"SELECT id FROM {table} WHERE id = ANY(%s) AND (claimed_until IS NULL OR claimed_until < %s)"
        " ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [owner, now + lease, ids, now])
        return {row[0] for row in cursor.fetchall()}


def release(ids: Iterable[int], owner: str, *, using: str | None = None) -> None:
    """Give back the leases of rows that could not be applied, so any relay may retry them."""
    _model().objects.using(_alias(using)).filter(id__in=list(ids), claimed_by=owner).update(
        claimed_by="", claimed_until=None
    )


def pending_ids(namespace: str, scope: str | None, *, using: str | None = None) -> list[int]:
    """Return the ids of committed rows recording exactly (namespace, scope)."""
    rows = _model().objects.using(_alias(using)).filter(namespace=namespace, scope=scope or "")
    return list(rows.values_list("id", flat=True))


def existing(ids: Iterable[int], *, using: str | None = None) -> list[int]:
    """Return which of the rows ``ids`` are still in the outbox (not applied yet)."""
    return list(_model().objects.using(_alias(using)).filter(id__in=list(ids)).values_list("id", flat=True))


def delete(ids: Iterable[int], *, owner: str | None = None, using: str | None = None) -> int:
    """Delete applied rows (with ``owner``: only those it still holds); return how many were deleted.

    On PostgreSQL rows locked by another transaction (a relay claiming them) are skipped, not
    waited for: whoever holds them applies them again, which is harmless, while waiting on each
    other's locks in different orders is how two relays deadlock.
    """
    ids = list(ids)
    if not ids:
        return 0
    alias = _alias(using)
    if not _skips_locked(alias):
        rows = _model().objects.using(alias).filter(id__in=ids)
        return (rows if owner is None else rows.filter(claimed_by=owner))._raw_delete(alias)
    table = _table(alias)
    sql = f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE id = ANY(%s)"
    sql += " AND claimed_by = %s" if owner is not None else ""
    sql += " ORDER BY id FOR UPDATE SKIP LOCKED)"
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [ids, owner] if owner is not None else [ids])
        return cursor.rowcount


def _free(now: datetime) -> Q:
    # Rows no relay holds: never leased, or their lease has run out.
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _table(alias: str) -> str:
    return connections[alias].ops.quote_name(_model()._meta.db_table)


def _skips_locked(alias: str) -> bool:
    # The statements below are PostgreSQL's (``= ANY(array)``, ``SKIP LOCKED``).
    return connections[alias].vendor == "postgresql"


def status(*, using: str | None = None) -> dict:
    """Return the number of pending rows and the age in seconds of the oldest (one query)."""
    from django.db.models import Count, Min

    found = _model().objects.using(_alias(using)).aggregate(pending=Count("id"), oldest=Min("created_at"))
    oldest = found["oldest"]
    age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest is not None else 0.0
    return {"pending": found["pending"], "oldest_age_seconds": round(age, 3)}
