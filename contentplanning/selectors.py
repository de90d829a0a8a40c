"""Reads of content-planning data: each a fixed number of set-based queries."""

from datetime import UTC, date, datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, DateTimeField, Exists, Max, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, TruncMonth, TruncWeek

from cachecore.api import stats
from cachecore.models import CacheEntry
from contentplanning.conf import NAMESPACE
from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile

PERIODS = {"month": TruncMonth, "week": TruncWeek}
STRATEGY_FIELDS = ("id", "name", "pillars", "target_keywords", "competitors", "updated_at")
ENTRY_FIELDS = ("id", "date", "channel", "title", "status")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def user_get(user_id: int):
    """Return the user with ``user_id`` or None."""
    return get_user_model().objects.filter(pk=user_id).first()


def strategy_of_user(*, user_id: int, strategy_id: int) -> ContentStrategy | None:
    """Return the strategy ``strategy_id`` when it belongs to ``user_id``, else None."""
    return ContentStrategy.objects.filter(pk=strategy_id, user_id=user_id).first()


def onboarding_data(user_id: int) -> dict | None:
    """Return the user's onboarding profile as a dict, or None when they have none."""
    return (
        OnboardingProfile.objects.filter(user_id=user_id)
        .values("website", "industry", "audience", "goals", "updated_at")
        .first()
    )


def strategies_of_user(user_id: int) -> list[dict]:
    """Return the user's strategies, most recently updated first."""
    return list(ContentStrategy.objects.filter(user_id=user_id).order_by("-updated_at", "id").values(*STRATEGY_FIELDS))


def calendar_entries(strategy_id: int) -> list[dict]:
    """Return the calendar entries of a strategy in date order."""
    return list(CalendarEntry.objects.filter(strategy_id=strategy_id).order_by("date", "id").values(*ENTRY_FIELDS))


def _performance(user_id: int, strategy_id: int | None):
    rows = ContentPerformance.objects.filter(user_id=user_id)
    return rows if strategy_id is None else rows.filter(strategy_id=strategy_id)


_TOTALS = {
    "rows": Count("id"),
    "impressions": Sum("impressions"),
    "clicks": Sum("clicks"),
    "conversions": Sum("conversions"),
}


def performance_by_channel(*, user_id: int, strategy_id: int | None = None) -> list[dict]:
    """Return impressions, clicks and conversions summed per channel."""
    qs = _performance(user_id, strategy_id).order_by().values("channel").annotate(**_TOTALS)
    return list(qs.order_by("channel"))


def performance_by_period(*, user_id: int, strategy_id: int | None = None, period: str = "month") -> list[dict]:
    """Return impressions, clicks and conversions summed per period (month or week)."""
    trunc = PERIODS[period]
    qs = (
        _performance(user_id, strategy_id)
        .order_by()
        .annotate(period_start=trunc("date"))
        .values("period_start")
        .annotate(**_TOTALS)
    )
    return list(qs.order_by("period_start"))


def recently_active_users(limit: int) -> list:
    """Return up to ``limit`` users with content data, most recently active first.

    Activity is the latest of: last login, onboarding update, strategy update.
    """
    epoch = Value(_EPOCH, output_field=DateTimeField())
    qs = (
        get_user_model()
        .objects.filter(
            Q(Exists(OnboardingProfile.objects.filter(user_id=OuterRef("pk"))))
            | Q(Exists(ContentStrategy.objects.filter(user_id=OuterRef("pk"))))
        )
        .annotate(
            last_active=Greatest(
                Coalesce("last_login", epoch),
                Coalesce("onboarding__updated_at", epoch),
                Coalesce(Max("content_strategies__updated_at"), epoch),
            )
        )
        .order_by("-last_active", "id")
    )
    return list(qs[:limit])


def as_iso(value) -> str | None:
    """Return a date or datetime as an ISO string (None stays None)."""
    return value.isoformat() if isinstance(value, date | datetime) else value


def cache_entry_counts(*, now: datetime) -> dict:
    """Return total, expired and valid L3 rows of the user-data namespace."""
    counts = _cache_entries().aggregate(
        total_entries=Count("id"), expired_entries=Count("id", filter=Q(expires_at__lte=now))
    )
    return {**counts, "valid_entries": counts["total_entries"] - counts["expired_entries"]}


def most_accessed_entries(*, limit: int = 10) -> list[dict]:
    """Return the most accessed L3 rows of the user-data namespace."""
    fields = ("user_id", "strategy_id", "access_count", "last_accessed", "expires_at")
    return list(_cache_entries().order_by("-access_count", "-last_accessed", "id").values(*fields)[:limit])


def cache_entry_count_of_user(*, user_id: int, strategy_id: int | None = None) -> int:
    """Return how many L3 rows the user (and strategy) holds in the user-data namespace."""
    rows = _cache_entries().filter(user_id=user_id)
    return (rows if strategy_id is None else rows.filter(strategy_id=strategy_id)).count()


def expired_cache_entry_ids(*, now: datetime, limit: int) -> list[int]:
    """Return up to ``limit`` ids of expired L3 rows of the user-data namespace."""
    return list(_cache_entries().filter(expires_at__lte=now).order_by("id").values_list("id", flat=True)[:limit])


def _cache_entries():
    # The cache table is the engine's documented L3 (DESIGN.md); we read only our namespace's rows.
    return CacheEntry.objects.filter(namespace=NAMESPACE)


def user_data_cache_stats(*, now: datetime, limit: int = 10) -> dict:
    """Return the L3 row counts, the most accessed rows and this process's hit rates per tier."""
    counters = stats()["namespaces"].get(NAMESPACE, {})
    tiers = counters.get("tiers", {})
    return {
        "namespace": NAMESPACE,
        **cache_entry_counts(now=now),
        "most_accessed": [
            {**row, "last_accessed": as_iso(row["last_accessed"]), "expires_at": as_iso(row["expires_at"])}
            for row in most_accessed_entries(limit=limit)
        ],
        "hit_rates": {
            "overall": counters.get("hit_rate"),
            **{tier: tiers.get(tier, {}).get("hit_rate") for tier in ("l1", "l2", "l3")},
        },
        "requests": {
            "hits": counters.get("hits", 0),
            "misses": counters.get("misses", 0),
            "computes": counters.get("computes", 0),
            "tiers": {t: {k: tiers.get(t, {}).get(k, 0) for k in ("hits", "misses")} for t in ("l1", "l2", "l3")},
        },
    }
