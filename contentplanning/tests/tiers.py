"""Drop cache tiers and move the engine's clocks in tests, as evictions, restarts and time would."""

import time

from django.core.cache import caches

from cachecore import generations, keys, tiers
from cachecore.api import get_namespace
from cachecore.service import cache
from contentplanning.conf import NAMESPACE


def drop_l1() -> None:
    """Forget this process's L1 (a restart of the worker)."""
    tiers.l1_clear()


def drop_l2_value(user_id: int, strategy_id: int | None = None, period: str = "month") -> None:
    """Delete one value from L2, as Redis does when its TTL runs out or it is evicted."""
    ns = get_namespace(NAMESPACE)
    canon = keys.canonical_params(ns, {"user_id": user_id, "strategy_id": strategy_id, "period": period})
    gens = generations.current_generations(NAMESPACE, ns.scope(canon))
    tiers.l2_delete(keys.value_key(NAMESPACE, gens, keys.param_hash(canon)))


def drop_l1_and_l2_value(user_id: int, **params) -> None:
    """Leave only L3: restart the worker and lose the L2 copy of the value."""
    drop_l1()
    drop_l2_value(user_id, **params)


def flush_l1_and_l2() -> None:
    """Restart the worker and flush Redis entirely (values *and* generations are gone)."""
    drop_l1()
    caches["default"].clear()


def pass_time(seconds: float, *user_ids: int) -> None:
    """Move the engine's clocks ``seconds`` ahead; those users' L2 values expire as Redis would."""
    cache.wall_clock = lambda: time.time() + seconds
    tiers.l1.clock = lambda: time.monotonic() + seconds
    for user_id in user_ids:
        drop_l2_value(user_id)
