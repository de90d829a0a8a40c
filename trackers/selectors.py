"""Reads of the trackers API: reference lists, tracker pages, statistics and scope summaries.

Each public selector reads through a cachecore namespace; the ``_compute_*`` functions are what
runs on a miss, always with django-cachalot disabled (DESIGN.md: cachalot never supplies a value
we cache). ``client_ids`` is a user's scope from ``trackers.scope``: None means every client.
"""

import math
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache, partial

import psycopg
from cachalot.api import cachalot_disabled
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections, router
from django.db.models import Count, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from rest_framework.fields import DateTimeField

from cachecore.api import CacheInfo, get_or_compute
from trackers import serializers as out
from trackers import stored
from trackers.conf import conf
from trackers.filters import TrackerFilters
from trackers.models import (
    Brand,
    Client,
    DeliveryLocation,
    Image,
    LocationHistory,
    ProductionRun,
    StorageLocation,
    Tracker,
    TrackerStatus,
)
from trackers.namespaces import (
    COUNTED_TABLES,
    COUNTS,
    REFERENCE,
    REFERENCE_BODY,
    SCOPE_SUMMARY,
    TRACKER_DETAIL,
    TRACKER_LIST,
    TRACKER_STATS,
)
from trackers.scope import scope_key

ClientIds = frozenset[int] | None

# table -> (queryset factory, serializer). Querysets are built lazily: no SQL at import.
REFERENCE_SOURCES = {
    "clients": (lambda: Client.objects.order_by("name", "id"), out.ClientOutputSerializer),
    "brands": (lambda: Brand.objects.order_by("name", "id"), out.BrandOutputSerializer),
    "production_runs": (
        lambda: ProductionRun.objects.select_related("brand").order_by("-start_date", "id"),
        out.ProductionRunOutputSerializer,
    ),
    "storage_locations": (lambda: StorageLocation.objects.order_by("name", "id"), out.StorageLocationOutputSerializer),
    "delivery_locations": (
        lambda: DeliveryLocation.objects.order_by("name", "id"),
        out.DeliveryLocationOutputSerializer,
    ),
    "images": (lambda: Image.objects.order_by("title", "id"), out.ImageOutputSerializer),
}
# table -> (the child rows it counts, their foreign key to the table's row).
COUNT_SOURCES = {
    "brands": (lambda: ProductionRun.objects.all(), "brand_id"),
    "production_runs": (lambda: Tracker.objects.all(), "production_run_id"),
}
# The field of a reference row that names its client; tables not listed are shared by all.
SCOPE_FIELD = {"clients": "id", "brands": "client_id", "production_runs": "client_id"}

TRACKER_COLUMNS = (
    "id",
    "serial",
    "name",
    "production_run_id",
    "current_status",
    "last_report_received",
    "latest_latitude",
    "latest_longitude",
    "latest_timestamp",
    "latest_nearest_city",
    "latest_confidence",
    "latest_history_id",
)
TRACKER_ORDERING = (F("last_report_received").desc(nulls_last=True), "id")
LOCATION_COLUMNS = ("latitude", "longitude", "timestamp", "nearest_city", "confidence")

_datetime_field = DateTimeField()


def _iso(value):
    """Return a datetime as the API renders it (ISO 8601, UTC as Z), keeping None."""
    return None if value is None else _datetime_field.to_representation(value)


def _utc_iso(value):
    # DRF's text for a UTC value while the current zone is UTC, without its per-value zone
    # lookup (the bulk of a cold page's Python time); equality asserted in test_tracker_list.
    if value is None:
        return None
    if value.utcoffset() != _ZERO:
        return _datetime_field.to_representation(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_ZERO = timedelta(0)


def iso_formatter():
    """Return the datetime formatter for one page: the fast one when the current zone is UTC."""
    return _utc_iso if timezone.get_current_timezone_name() == "UTC" else _iso


def empty_page(filters: TrackerFilters) -> dict:
    """Return the body of a page with no items."""
    return {"items": [], "total": 0, "page": filters.page, "size": filters.size, "pages": 0}


# --- Reference data ---------------------------------------------------------------------------


def _compute_reference(table: str) -> dict:
    queryset, serializer = REFERENCE_SOURCES[table]
    with cachalot_disabled():
        rows = [dict(row) for row in serializer(queryset(), many=True).data]
    # The version names this exact content: stored bodies derived from it are keyed by it.
    return {"rows": rows, "version": stored.store(rows)["etag"]}


def reference_rows(table: str) -> tuple[dict, CacheInfo]:
    """Return the cached reference table: ``{"rows": [...every row, unscoped], "version": ...}``."""
    return get_or_compute(REFERENCE[table], {}, partial(_compute_reference, table))


def refresh_reference(table: str) -> list[dict]:
    """Recompute a reference list and store it (the prewarmer)."""
    value, _ = get_or_compute(REFERENCE[table], {}, partial(_compute_reference, table), force_refresh=True)
    return value["rows"]


def visible_reference(table: str, client_ids: ClientIds, *, brand_id: int | None = None) -> tuple[list, CacheInfo]:
    """Return the rows of a reference table the scope may see (with their derived counts)."""
    value, info = reference_rows(table)
    rows = _visible_rows(value["rows"], table, client_ids, brand_id)
    if table in COUNTED_TABLES:
        rows, counts_info = with_counts(table, rows)
        info = colder(info, counts_info)
    return rows, info


def reference_body(table: str, client_ids: ClientIds, *, brand_id: int | None = None) -> tuple[dict, CacheInfo]:
    """Return the stored response body of the rows a scope may see (no encoding on a hit).

    The body is keyed by the table's version, so it can never outlive the list it came from:
    a write retires the list, and the next list's version names new bodies.
    """
    value, info = reference_rows(table)
    counts, counts_version = None, ""
    if table in COUNTED_TABLES:
        # The counts change without the list (a tracker written): their computation time names
        # them in the body's key, so new counts never meet an old body.
        counts, counts_info = reference_counts(table)
        info = colder(info, counts_info)
        counts_version = counts_info.timestamp.isoformat()
    scope = scope_key(client_ids) if table in SCOPE_FIELD else "shared"
    params = {
        "table": table,
        "version": value["version"],
        "counts": counts_version,
        "scope": scope,
        "brand_id": brand_id,
    }
    compute = partial(_stored_visible_rows, value["rows"], table, client_ids, brand_id, counts)
    body, body_info = get_or_compute(REFERENCE_BODY, params, compute)
    # A body computed from a cached list ran no SQL: report the list's tier then.
    return body, (body_info if body_info.is_cached else info)


def _stored_visible_rows(
    rows: list[dict], table: str, client_ids: ClientIds, brand_id: int | None, counts: dict | None
) -> dict:
    visible = _visible_rows(rows, table, client_ids, brand_id)
    if counts is not None:
        field = COUNTED_TABLES[table]
        visible = [{**row, field: counts.get(row["id"], 0)} for row in visible]
    return stored.store(visible)


def _visible_rows(rows: list[dict], table: str, client_ids: ClientIds, brand_id: int | None) -> list[dict]:
    field = SCOPE_FIELD.get(table)
    if field is not None and client_ids is not None:
        rows = [row for row in rows if row[field] in client_ids]
    if brand_id is not None:
        rows = [row for row in rows if row["brand_id"] == brand_id]
    return rows


# --- Derived counts ---------------------------------------------------------------------------

TIER_ORDER = ("disabled", "l1", "l2", "l3", "miss")


def _compute_counts(table: str) -> dict[int, int]:
    children, foreign_key = COUNT_SOURCES[table]
    with cachalot_disabled():
        grouped = children().order_by().values_list(foreign_key).annotate(n=Count("pk"))
        return dict(grouped)


def reference_counts(table: str) -> tuple[dict[int, int], CacheInfo]:
    """Return the cached child counts of a counted reference table (row id -> count)."""
    return get_or_compute(COUNTS[table], {}, partial(_compute_counts, table))


def refresh_counts(table: str) -> dict[int, int]:
    """Recompute the child counts of a counted reference table and store them (the prewarmer)."""
    counts, _ = get_or_compute(COUNTS[table], {}, partial(_compute_counts, table), force_refresh=True)
    return counts


def with_counts(table: str, rows: list[dict]) -> tuple[list[dict], CacheInfo]:
    """Return copies of ``rows`` carrying their derived count (the cached rows stay untouched)."""
    counts, info = reference_counts(table)
    field = COUNTED_TABLES[table]
    return [{**row, field: counts.get(row["id"], 0)} for row in rows], info


def colder(a: CacheInfo, b: CacheInfo) -> CacheInfo:
    """Return whichever of two answers came from the slower tier (what the response reports)."""
    rank = {tier: i for i, tier in enumerate(TIER_ORDER)}
    return b if rank.get(b.tier, len(rank)) > rank.get(a.tier, len(rank)) else a


# --- Tracker list -----------------------------------------------------------------------------


def scoped_trackers(client_ids: ClientIds) -> QuerySet:
    """Return the trackers a scope may see."""
    trackers = Tracker.objects.all()
    if client_ids is not None:
        trackers = trackers.filter(production_run__brand__client_id__in=sorted(client_ids))
    return trackers


def filtered_trackers(filters: TrackerFilters, client_ids: ClientIds) -> QuerySet:
    """Return the scoped trackers matching a filter set (unordered)."""
    trackers = scoped_trackers(client_ids)
    if filters.brand_ids:
        trackers = trackers.filter(production_run__brand_id__in=filters.brand_ids)
    if filters.production_run_ids:
        trackers = trackers.filter(production_run_id__in=filters.production_run_ids)
    if filters.status:
        trackers = trackers.filter(current_status__in=filters.status)
    if filters.search:
        trackers = trackers.filter(Q(serial__icontains=filters.search) | Q(name__icontains=filters.search))
    return trackers


def tracker_page(filters: TrackerFilters, client_ids: ClientIds) -> tuple[dict, CacheInfo]:
    """Return one cached page of the tracker list, stored as its response body (trackers.stored)."""
    params = {"scope": scope_key(client_ids), **filters.cache_params()}
    return get_or_compute(TRACKER_LIST, params, partial(_stored_tracker_page, filters, client_ids))


def _stored_tracker_page(filters: TrackerFilters, client_ids: ClientIds) -> dict:
    return stored.store(_compute_tracker_page(filters, client_ids))


def _compute_tracker_page(filters: TrackerFilters, client_ids: ClientIds) -> dict:
    if client_ids is not None and not client_ids:
        return empty_page(filters)  # no membership: nothing to see, nothing to ask the database
    with cachalot_disabled():
        rows = _tracker_page_rows(filters, client_ids)
        total = rows[0]["full_count"] if rows else 0
        if not rows and filters.page > 1:
            total = filtered_trackers(filters, client_ids).count()
        fallback = {}
        if filters.include_latest_location:
            unsynced = [row["id"] for row in rows if row["latest_history_id"] is None]
            fallback = latest_locations(unsynced) if unsynced else {}
    iso = iso_formatter()
    items = [_tracker_item(row, filters.include_latest_location, fallback, iso) for row in rows]
    return {
        "items": items,
        "total": total,
        "page": filters.page,
        "size": filters.size,
        "pages": math.ceil(total / filters.size),
    }


def _tracker_page_values(filters: TrackerFilters, client_ids: ClientIds) -> QuerySet:
    trackers = filtered_trackers(filters, client_ids)
    offset = (filters.page - 1) * filters.size
    # The count rides along with the page as an uncorrelated scalar subquery (evaluated once,
    # same snapshot): one statement. Not COUNT(*) OVER (): a window needs every matching row
    # joined to run and brand before LIMIT (2.5 ms vs 0.4 ms for 1,500 trackers); this way
    # the page stops after its rows and the count reads the tracker table alone when the
    # filters allow. Only a page beyond the last, which has no row to carry it, counts apart.
    return trackers.order_by(*TRACKER_ORDERING).values(
        *TRACKER_COLUMNS,
        brand_id=F("production_run__brand_id"),
        client_id=F("production_run__brand__client_id"),
        full_count=Subquery(trackers.order_by().values(n=Func(F("id"), function="COUNT", output_field=IntegerField()))),
    )[offset : offset + filters.size]


def _tracker_page_rows(filters: TrackerFilters, client_ids: ClientIds) -> list[dict]:
    alias = router.db_for_read(Tracker)  # what the queryset would use (a replica inside a computation)
    if not _reads_rows_itself(alias):
        return list(_tracker_page_values(filters, client_ids))
    statement = _tracker_page_statement(alias, filters, None if client_ids is None else frozenset(client_ids))
    return [] if statement is None else _fetch_rows(alias, *statement)


PAGE_STATEMENT_MEMO_SIZE = 256


@lru_cache(maxsize=PAGE_STATEMENT_MEMO_SIZE)
def _tracker_page_statement(alias: str, filters: TrackerFilters, client_ids: ClientIds) -> tuple | None:
    # The page's SQL and parameters are a pure function of the database, the filter set (a frozen
    # dataclass, page and size included) and the scope: building and compiling the queryset
    # (~0.7 ms) is done once per distinct page, not on every miss. Never the rows themselves.
    return _compiled(_tracker_page_values(filters, client_ids), alias)


def _compiled(queryset: QuerySet, alias: str) -> tuple | None:
    try:
        return queryset.query.get_compiler(alias).as_sql()
    except EmptyResultSet:  # e.g. an IN () the ORM answers without asking the database
        return None


def _reads_rows_itself(alias: str) -> bool:
    # With USE_TZ on PostgreSQL the ORM's values() rows need no converters: the statement it
    # compiled can be read directly, with a faster datetime loader (_fetch_rows).
    return settings.USE_TZ and connections[alias].vendor == "postgresql"


def page_rows(queryset: QuerySet) -> list[dict]:
    """Return the rows of a ``values()`` queryset as dicts, as ``list(queryset)`` would."""
    if not _reads_rows_itself(queryset.db):
        return list(queryset)
    statement = _compiled(queryset, queryset.db)
    return [] if statement is None else _fetch_rows(queryset.db, *statement)


def _fetch_rows(alias: str, sql: str, params) -> list[dict]:
    # psycopg's own timestamptz loader for this one cursor instead of Django's per-value Python
    # subclass (which only re-attaches the connection's zone): the same instants, ~5 us less per
    # value, about 1 ms of a cold 100-tracker page.
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ)
        with _compiled_read(connection):
            cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def _compiled_read(connection):
    # The statement is the ORM's own read, compiled once: django-cachalot, which scans raw SQL
    # for writes to invalidate (a regex over the whole statement after each execute, ~0.1 ms
    # here), skips the statements the ORM runs by this flag of the connection. (Best effort: if
    # cachalot stops reading it, the scan runs again and finds no write.)
    previous = getattr(connection, "raw", True)
    connection.raw = False
    try:
        yield
    finally:
        connection.raw = previous


# psycopg's default text loader of timestamptz: its C class when psycopg's binary build is in.
_C_TIMESTAMPTZ = psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT)


def _tracker_item(row: dict, include_location: bool, fallback: dict, iso=_iso) -> dict:
    item = {
        "id": row["id"],
        "serial": row["serial"],
        "name": row["name"],
        "client_id": row["client_id"],
        "brand_id": row["brand_id"],
        "production_run_id": row["production_run_id"],
        "current_status": row["current_status"],
        "last_report_received": iso(row["last_report_received"]),
    }
    if include_location:
        if row["latest_history_id"] is not None:
            item["latest_location"] = {
                "latitude": row["latest_latitude"],
                "longitude": row["latest_longitude"],
                "timestamp": iso(row["latest_timestamp"]),
                "nearest_city": row["latest_nearest_city"],
                "confidence": row["latest_confidence"],
            }
        else:
            item["latest_location"] = fallback.get(row["id"])
    return item


def latest_locations(tracker_ids: list[int]) -> dict[int, dict]:
    """Return each tracker's latest location from its history, in ONE query for all of them."""
    if connection.vendor == "postgresql":
        rows = _latest_rows_lateral(tracker_ids)
    else:
        rows = _latest_rows_subquery(tracker_ids)
    return {
        row["tracker_id"]: {
            "latitude": row["latitude"],
            "longitude": row["longitude"],
            "timestamp": _iso(row["timestamp"]),
            "nearest_city": row["nearest_city"],
            "confidence": row["confidence"],
        }
        for row in rows
    }


def _latest_rows_lateral(tracker_ids: list[int]) -> list[dict]:
    # One index probe per tracker: a backward scan of uniq_history_tracker_timestamp (tracker_id, timestamp).
    # (tracker, timestamp) is unique, so ORDER BY timestamp alone is deterministic.
    history = connection.ops.quote_name(LocationHistory._meta.db_table)
    sql = f"""
        SELECT t.id AS tracker_id, h.latitude, h.longitude, h.timestamp, h.nearest_city, h.confidence
        FROM unnest(%s::bigint[]) AS t(id)
        CROSS JOIN LATERAL (
            SELECT latitude, longitude, timestamp, nearest_city, confidence
            FROM {history}
            WHERE tracker_id = t.id
            ORDER BY timestamp DESC
            LIMIT 1
        ) AS h
    """
    # The router's choice, like the ORM reads around it: a replica inside a cache computation
    # that may use one (docs/read-replicas.md), the primary otherwise.
    with connections[router.db_for_read(LocationHistory)].cursor() as cursor:
        cursor.execute(sql, [list(tracker_ids)])
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _latest_rows_subquery(tracker_ids: list[int]) -> list[dict]:
    # Equivalent single query elsewhere: the id of each tracker's latest row by a correlated
    # subquery (an index probe each), then those rows.
    latest_id = LocationHistory.objects.filter(tracker_id=OuterRef("pk")).order_by("-timestamp").values("pk")[:1]
    latest_ids = Tracker.objects.filter(pk__in=tracker_ids).values(latest=Subquery(latest_id))
    return list(LocationHistory.objects.filter(pk__in=latest_ids).values("tracker_id", *LOCATION_COLUMNS))


# --- Statistics -------------------------------------------------------------------------------


def tracker_stats(client_ids: ClientIds, *, now, filters: TrackerFilters | None = None) -> tuple[dict, CacheInfo]:
    """Return the cached statistics of a scope, narrowed by brand/run/search ``filters`` when given."""
    filters = filters or TrackerFilters()
    params = {
        "scope": scope_key(client_ids),
        "brand_ids": list(filters.brand_ids),
        "production_run_ids": list(filters.production_run_ids),
        "search": filters.search,
    }
    return get_or_compute(TRACKER_STATS, params, partial(_compute_stats, client_ids, now, filters))


def _compute_stats(client_ids: ClientIds, now, filters: TrackerFilters | None = None) -> dict:
    hours = conf.STALE_AFTER_HOURS
    stats = {
        "total": 0,
        "by_status": dict.fromkeys(TrackerStatus.values, 0),
        "by_brand": [],
        "by_production_run": [],
        "no_report_24h": 0,
        "stale_after_hours": hours,
        "computed_at": _iso(now),
    }
    if client_ids is not None and not client_ids:
        return stats
    cutoff = now - timedelta(hours=hours)
    stale = Q(last_report_received__isnull=True) | Q(last_report_received__lt=cutoff)
    # One GROUP BY query; its row count is bounded by runs x statuses, never by trackers.
    with cachalot_disabled():
        groups = list(
            filtered_trackers(filters or TrackerFilters(), client_ids)
            .values(
                "production_run_id",
                "current_status",
                run_name=F("production_run__name"),
                brand_id=F("production_run__brand_id"),
                brand_name=F("production_run__brand__name"),
                client_id=F("production_run__brand__client_id"),
            )
            .annotate(n=Count("id"), stale=Count("id", filter=stale))
            .order_by()
        )
    brands: dict[int, dict] = {}
    runs: dict[int, dict] = {}
    for group in groups:
        stats["total"] += group["n"]
        stats["no_report_24h"] += group["stale"]
        stats["by_status"][group["current_status"]] = stats["by_status"].get(group["current_status"], 0) + group["n"]
        brand = brands.setdefault(
            group["brand_id"],
            {
                "brand_id": group["brand_id"],
                "brand_name": group["brand_name"],
                "client_id": group["client_id"],
                "count": 0,
            },
        )
        brand["count"] += group["n"]
        run = runs.setdefault(
            group["production_run_id"],
            {
                "production_run_id": group["production_run_id"],
                "production_run_name": group["run_name"],
                "brand_id": group["brand_id"],
                "count": 0,
            },
        )
        run["count"] += group["n"]
    stats["by_brand"] = sorted(brands.values(), key=lambda b: (-b["count"], b["brand_id"]))
    stats["by_production_run"] = sorted(runs.values(), key=lambda r: (-r["count"], r["production_run_id"]))
    return stats


# --- One tracker -----------------------------------------------------------------------------

TRAIL_LENGTH = 20  # history points of a tracker's trail on the map


def tracker_detail(tracker_id: int, client_ids: ClientIds) -> tuple[dict | None, CacheInfo]:
    """Return one tracker with its latest location and recent trail, or None outside the scope.

    Cached once per tracker (scope ``tracker:<id>``) and checked against the caller's scope on the
    cached value, so every user who may see a tracker shares one entry.
    """
    detail, info = get_or_compute(TRACKER_DETAIL, {"tracker_id": tracker_id}, partial(_compute_detail, tracker_id))
    if detail is None or (client_ids is not None and detail["client_id"] not in client_ids):
        return None, info
    return detail, info


def _compute_detail(tracker_id: int) -> dict | None:
    with cachalot_disabled():  # two queries, whatever the history's length
        row = (
            Tracker.objects.filter(pk=tracker_id)
            .values(
                *TRACKER_COLUMNS,
                brand_id=F("production_run__brand_id"),
                brand_name=F("production_run__brand__name"),
                production_run_name=F("production_run__name"),
                client_id=F("production_run__brand__client_id"),
            )
            .first()
        )
        if row is None:
            return None
        trail = list(
            LocationHistory.objects.filter(tracker_id=tracker_id)
            .order_by("-timestamp")
            .values(*LOCATION_COLUMNS)[:TRAIL_LENGTH]
        )
    item = _tracker_item(row, True, {row["id"]: _location(trail[0])} if trail else {})
    return {
        **item,
        "brand_name": row["brand_name"],
        "production_run_name": row["production_run_name"],
        "trail": [_location(point) for point in trail],
    }


def _location(point: dict) -> dict:
    return {
        "latitude": point["latitude"],
        "longitude": point["longitude"],
        "timestamp": _iso(point["timestamp"]),
        "nearest_city": point["nearest_city"],
        "confidence": point["confidence"],
    }


# --- Scope summary ----------------------------------------------------------------------------


def scope_summary(client_ids: ClientIds) -> tuple[dict, CacheInfo]:
    """Return the cached size of a scope: its clients, brand, run and tracker counts."""
    return get_or_compute(SCOPE_SUMMARY, {"scope": scope_key(client_ids)}, partial(_compute_summary, client_ids))


def _compute_summary(client_ids: ClientIds) -> dict:
    # Counted in SQL, not from the cached reference lists: a summary recomputed from a list
    # that is about to be invalidated would keep an old count for its whole TTL.
    if client_ids is not None and not client_ids:
        return {"client_ids": [], "all_clients": False, "brand_count": 0, "production_run_count": 0, "tracker_count": 0}
    brands, runs = Brand.objects.all(), ProductionRun.objects.all()
    if client_ids is not None:
        brands = brands.filter(client_id__in=sorted(client_ids))
        runs = runs.filter(brand__client_id__in=sorted(client_ids))
    with cachalot_disabled():
        ids = (
            sorted(client_ids)
            if client_ids is not None
            else list(Client.objects.order_by("id").values_list("id", flat=True))
        )
        return {
            "client_ids": ids,
            "all_clients": client_ids is None,
            "brand_count": brands.count(),
            "production_run_count": runs.count(),
            "tracker_count": scoped_trackers(client_ids).count(),
        }
