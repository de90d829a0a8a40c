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


def _owner_scopes(instance) -> list[str]:
    # The new owner, and the old one when the row moved to another user.
    owners = dict.fromkeys([instance.user_id, getattr(instance, "loaded_owner", None)])
    return [user_scope(owner) for owner in owners if owner is not None]


def _entry_scopes(instance) -> list[str]:
    # The strategy is usually cached on the instance; a cascade delete loads it (a query per row).
    # An entry moved to another strategy also changes the old strategy's owner's data.
    owners = [instance.strategy.user_id]
    old_strategy = getattr(instance, "loaded_owner", None)
    if old_strategy is not None and old_strategy != instance.strategy_id:
        owners += ContentStrategy.objects.filter(pk=old_strategy).values_list("user_id", flat=True)
    return [user_scope(owner) for owner in dict.fromkeys(owners)]


def register_signal_handlers() -> None:
    """Invalidate a user's entries when their onboarding, strategies, calendar or performance change."""
    for model in (OnboardingProfile, ContentStrategy, ContentPerformance):
        watch_model(model, [NAMESPACE], scope=_owner_scopes)
    # If the strategy cannot be loaded the engine invalidates the whole namespace (safe).
    watch_model(CalendarEntry, [NAMESPACE], scope=_entry_scopes)
