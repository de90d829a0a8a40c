"""The comprehensive user data service: one cached aggregation shared by five workflows."""

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from functools import partial

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from cachecore.api import CacheInfo, bulk_invalidation, get_or_compute, invalidate_now, uncached_reads
from cachecore.models import CacheEntry  # the L3 table: cleanup of our namespace's expired rows
from contentplanning import assembly, gaps, providers, selectors
from contentplanning.caching import user_scope
from contentplanning.conf import NAMESPACE
from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy
from contentplanning.providers import AnalysisUnavailable

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OPTION_DEFAULTS = {"period": "month"}
OPTION_CHOICES = {"period": tuple(selectors.PERIODS)}


def comprehensive_user_data(*, user, strategy=None, force_refresh: bool = False, **options) -> tuple[dict, CacheInfo]:
    """Return the user's comprehensive data and how the cache answered."""
    if strategy is not None and strategy.user_id != user.pk:
        raise ValueError(f"strategy {strategy.pk} does not belong to user {user.pk}")
    opts = normalise_options(options)
    strategy_id = strategy.pk if strategy is not None else None
    params = {"user_id": user.pk, "strategy_id": strategy_id, **opts}
    compute = partial(build_comprehensive_user_data, user=user, strategy_id=strategy_id, **opts)
    return get_or_compute(NAMESPACE, params, compute, force_refresh=force_refresh)


def normalise_options(options: dict) -> dict:
    """Return the options with defaults filled in; unknown options are a programming error."""
    unknown = set(options) - set(OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown comprehensive_user_data options: {', '.join(sorted(unknown))}")
    opts = {**OPTION_DEFAULTS, **options}
    for name, value in opts.items():
        if value not in OPTION_CHOICES[name]:
            raise ValueError(f"{name} must be one of {', '.join(OPTION_CHOICES[name])} (got {value!r})")
    return opts


def build_comprehensive_user_data(*, user, strategy_id: int | None = None, period: str = "month") -> dict:
    """Compute the comprehensive data of ``user`` from the database and the AI provider (uncached)."""
    # Values we cache must not come from cachalot's possibly-stale ORM cache (DESIGN.md).
    with uncached_reads():
        onboarding = selectors.onboarding_data(user.pk)
        strategies = selectors.strategies_of_user(user.pk)
        strategy = assembly.select_strategy(strategies, strategy_id)
        entries = selectors.calendar_entries(strategy["id"]) if strategy else []
        by_channel = selectors.performance_by_channel(user_id=user.pk, strategy_id=strategy_id)
        by_period = selectors.performance_by_period(user_id=user.pk, strategy_id=strategy_id, period=period)
    return {
        "schema_version": SCHEMA_VERSION,
        "user": {"id": user.pk, "username": user.get_username()},
        "onboarding": assembly.onboarding(onboarding),
        "ai_analysis": analyse(assembly.analysis_context(onboarding, strategy, by_channel)),
        "gap_analysis": gaps.gap_analysis(strategy=strategy, entries=entries, channel_totals=by_channel),
        "strategy_data": assembly.strategy_data(strategies, strategy, entries),
        "performance_data": assembly.performance_data(by_channel, by_period, period, strategy_id),
        "generated_at": timezone.now().isoformat(),
    }


def analyse(context: dict) -> dict:
    """Return the provider's analysis marked available, or an unavailable marker on any failure."""
    provider = providers.get_provider()
    try:
        result = provider.analyse(context)
    except AnalysisUnavailable as exc:
        logger.warning("AI analysis unavailable (%s provider): %s", provider.name, exc)
        return {"status": "unavailable", "provider": provider.name, "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a provider bug must not fail the user's request
        logger.exception("AI analysis provider %s failed", provider.name)
        return {"status": "unavailable", "provider": provider.name, "reason": f"provider error: {exc}"}
    return {**result, "status": "available", "provider": provider.name}  # the answer cannot fake its status


CLEANUP_BATCH = 1000


def user_data_invalidate(*, user_id: int, strategy_id: int | None = None) -> dict:
    """Invalidate every cached entry of a user now; return what was invalidated.

    The namespace is scoped per user, so a strategy_id narrows only the count reported for it:
    all of the user's entries are retired (a strategy's data also depends on the user's
    onboarding and performance, so nothing finer would be safe).
    """
    scope = user_scope(user_id)
    user_rows = selectors.cache_entry_count_of_user(user_id=user_id)
    strategy_rows = None
    if strategy_id is not None:
        strategy_rows = selectors.cache_entry_count_of_user(user_id=user_id, strategy_id=strategy_id)
    invalidate_now(NAMESPACE, scope=scope, source="api")
    return {
        "namespace": NAMESPACE,
        "scope": scope,
        "user_id": user_id,
        "strategy_id": strategy_id,
        "persistent_entries_removed": user_rows,
        "strategy_entries_removed": strategy_rows,
    }


def user_data_cleanup(*, now=None) -> int:
    """Delete the expired L3 rows of the user-data namespace in batches; return how many."""
    now = now or timezone.now()
    removed = 0
    while ids := selectors.expired_cache_entry_ids(now=now, limit=CLEANUP_BATCH):
        # only("id"): project-wide delete receivers stop Django's fast delete, so it loads the rows
        # first; without this it would load every payload just to delete it.
        removed += CacheEntry.objects.filter(id__in=ids, expires_at__lte=now).only("id").delete()[0]
        if len(ids) < CLEANUP_BATCH:
            break
    return removed


def user_data_prewarm(*, limit: int, progress=None, workers: int = 1) -> int:
    """Compute (or find cached) the data of the ``limit`` most recently active users; return how many.

    With ``workers`` > 1 users are warmed in threads: a computation mostly waits for the AI
    provider, so 20 users at 3 s each take about 3 s x 20 / workers instead of a minute.
    """
    users = selectors.recently_active_users(limit)
    if workers <= 1 or len(users) <= 1:
        for done, user in enumerate(users, 1):
            comprehensive_user_data(user=user)
            _report(progress, done, len(users))
        return len(users)
    with ThreadPoolExecutor(max_workers=min(workers, len(users)), thread_name_prefix="cp-prewarm") as pool:
        futures = [pool.submit(_warm_in_thread, user) for user in users]
        for done, future in enumerate(as_completed(futures), 1):
            future.result()  # a failure fails the prewarmer, as it would sequentially
            _report(progress, done, len(users))
    return len(users)


def _warm_in_thread(user) -> None:
    try:
        comprehensive_user_data(user=user)
    finally:
        connections.close_all()  # this worker thread's own connections


def _report(progress, done: int, total: int) -> None:
    # Called from the calling thread only: the command writes progress to its stdout.
    if progress is not None:
        progress(done, total)


# -- bulk writes: one invalidation of the owner's data instead of none (bulk writes send no signals)


@transaction.atomic
def performance_import(*, user, rows: Iterable[dict]) -> int:
    """Bulk-create performance rows of ``user``; invalidate their cached data once."""
    objs = [ContentPerformance(user=user, **row) for row in rows]
    strategy_ids = {obj.strategy_id for obj in objs if obj.strategy_id is not None}
    if strategy_ids and ContentStrategy.objects.filter(pk__in=strategy_ids, user=user).count() != len(strategy_ids):
        raise ValueError(f"performance rows name strategies that are not user {user.pk}'s")
    with bulk_invalidation(NAMESPACE, scope=user_scope(user.pk)):
        ContentPerformance.objects.bulk_create(objs, batch_size=1000)
    return len(objs)


@transaction.atomic
def calendar_entries_add(*, strategy, entries: Iterable[dict]) -> int:
    """Bulk-create calendar entries of ``strategy``; invalidate the owner's cached data once."""
    objs = [CalendarEntry(strategy=strategy, **entry) for entry in entries]
    with bulk_invalidation(NAMESPACE, scope=user_scope(strategy.user_id)):
        CalendarEntry.objects.bulk_create(objs, batch_size=1000)
    return len(objs)


@transaction.atomic
def calendar_entries_reschedule(*, strategy, days: int) -> int:
    """Move every calendar entry of ``strategy`` by ``days`` with one UPDATE; return how many."""
    with bulk_invalidation(NAMESPACE, scope=user_scope(strategy.user_id)):
        return CalendarEntry.objects.filter(strategy=strategy).update(date=F("date") + timedelta(days=days))
