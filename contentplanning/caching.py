"""The cachecore namespace of comprehensive user data and what invalidates it.

One persistent namespace scoped per user: every entry of a user (any strategy, any options)
lives in the scope ``user:<id>``, so any change to that user's content data drops exactly
that user's entries, and nobody else's.
"""

import threading

from django.db.models.signals import post_delete, post_save, pre_delete

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
        # The sampling verifier stays off here whatever CACHECORE_VERIFY_RATE says: a recompute
        # calls the AI provider (slow, external, billed) and the value carries its generation time.
        verify_rate=0,
    )
)


def _owner_scopes(instance) -> list[str]:
    # The new owner, and the old one when the row moved to another user.
    owners = dict.fromkeys([instance.user_id, getattr(instance, "loaded_owner", None)])
    return [user_scope(owner) for owner in owners if owner is not None]


# Strategies being deleted in this thread -> their owner. Django sends pre_delete for every
# collected row before deleting any, and deletes the entries before their strategy, so the
# entries' post_delete can find the owner here instead of loading the strategy once per entry.
_deleting = threading.local()


def _strategies_being_deleted() -> dict[int, int]:
    try:
        return _deleting.owners
    except AttributeError:
        _deleting.owners = {}
        return _deleting.owners


def _remember_owner(sender, instance, **kwargs) -> None:
    _strategies_being_deleted()[instance.pk] = instance.user_id


def _forget_owner(sender, instance, **kwargs) -> None:
    _strategies_being_deleted().pop(instance.pk, None)


def _strategy_owner(strategy_id: int, instance) -> int:
    owner = _strategies_being_deleted().get(strategy_id)
    return owner if owner is not None else instance.strategy.user_id


def _entry_scopes(instance) -> list[str]:
    # An entry moved to another strategy also changes the old strategy's owner's data.
    owners = [_strategy_owner(instance.strategy_id, instance)]
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
    pre_delete.connect(_remember_owner, sender=ContentStrategy, dispatch_uid="contentplanning.strategy_owner")
    post_delete.connect(_forget_owner, sender=ContentStrategy, dispatch_uid="contentplanning.strategy_owner")
    # A delete that rolled back leaves its entry behind; the next save of the strategy clears it.
    post_save.connect(_forget_owner, sender=ContentStrategy, dispatch_uid="contentplanning.strategy_owner")
