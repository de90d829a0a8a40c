"""The cachecore namespace of comprehensive user data and what invalidates it.

One persistent namespace scoped per user: every entry of a user (any strategy, any options)
lives in the scope ``user:<id>``, so any change to that user's content data drops exactly
that user's entries, and nobody else's.
"""

from cachecore.api import Namespace, register_namespace, watch_model
from contentplanning.conf import L1_TTL, L2_TTL, L3_TTL, NAMESPACE, app_settings
from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile

PARAMS = ("user_id", "strategy_id", "period")


def user_scope(user_id: int) -> str:
    """Return the cache scope of one user's content data."""
    return f"user:{user_id}"


def degraded_ttl(value: dict) -> int | None:
    """Return the short TTL cap of a result without AI analysis (None for a full result)."""
    if value.get("ai_analysis", {}).get("status") == "available":
        return None
    return app_settings().degraded_ttl


USER_DATA = register_namespace(
    Namespace(
        name=NAMESPACE,
        params=PARAMS,
        scope=lambda params: user_scope(params["user_id"]),
        l1_ttl=L1_TTL,
        l2_ttl=L2_TTL,
        l3_ttl=L3_TTL,
        persistent=True,
        # A user must see their own edit at once: no debounce and no stale answers.
        stale_while_revalidate=False,
        debounce=0,
        ttl_for=degraded_ttl,
    )
)


def _owner_scope(instance) -> str:
    return user_scope(instance.user_id)


def _entry_scope(instance) -> str | None:
    # strategy is usually cached on the instance; a cascade delete loads it (one query per row).
    try:
        return user_scope(instance.strategy.user_id)
    except ContentStrategy.DoesNotExist:
        return None  # owner unknown: the whole namespace, rather than risk a stale entry


def register_signal_handlers() -> None:
    """Invalidate a user's entries when their onboarding, strategies, calendar or performance change."""
    for model in (OnboardingProfile, ContentStrategy, ContentPerformance):
        watch_model(model, [NAMESPACE], scope=_owner_scope)
    watch_model(CalendarEntry, [NAMESPACE], scope=_entry_scope)
