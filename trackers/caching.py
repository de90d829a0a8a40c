"""The cachecore namespaces of the trackers app, what invalidates them, and their prewarmers.

Imported by ``TrackersConfig.ready()``: declaring a namespace touches no database.

- Reference data: one entry per table (the serialized list), no TTL, event-driven only;
  scope filtering happens on the cached list, so a warm request runs no SQL. The filtered
  response body is stored too (``trackers.ref_body``), keyed by the list's content version.
- Tracker list pages are stored as their response body and ETag (``trackers.stored``).
- Tracker list pages, statistics and scope summaries: keyed by the caller's client set
  (``scope_key``), 5-minute TTL, invalidated by tracker, location, brand and run writes
  (and by the ingest and the state sync, which call ``invalidate`` after bulk writes).
- Derived counts (runs per brand, trackers per run): one entry per counted table, no TTL,
  invalidated by run and tracker writes and merged into the served list (``with_counts``).
- A user's client set: scoped per user, invalidated at once by membership writes.
"""

from cachecore.api import Namespace, prewarmer, register_namespace, watch_model
from trackers import selectors
from trackers.conf import conf
from trackers.models import (
    Brand,
    Client,
    ClientMembership,
    DeliveryLocation,
    Image,
    LocationHistory,
    ProductionRun,
    StorageLocation,
    Tracker,
)
from trackers.namespaces import (
    COUNTED_TABLES,
    COUNTS,
    REFERENCE,
    REFERENCE_BODY,
    REFERENCE_TABLES,
    SCOPE_SUMMARY,
    TRACKER_DETAIL,
    TRACKER_LIST,
    TRACKER_STATS,
    USER_SCOPE,
)

LIST_PARAMS = (
    "scope",
    "brand_ids",
    "production_run_ids",
    "status",
    "search",
    "include_latest_location",
    "page",
    "size",
)
# ClientMembership has no NOTIFY trigger: a membership edited with raw SQL (no signal) heals
# within this TTL; ORM writes (admin, API, shell) invalidate at once. No L1: another process's
# L1 hears of an invalidation a moment after the commit, and a removed member must lose access
# on the very next request in every process, so the scope is always checked against L2.
USER_SCOPE_L1_TTL = 300
USER_SCOPE_L2_TTL = 300


def user_scope(user_id: int) -> str:
    """Return the cache scope of one user's entries."""
    return f"user:{user_id}"


def tracker_scope(tracker_id: int) -> str:
    """Return the cache scope of one tracker's detail."""
    return f"tracker:{tracker_id}"


for _table in REFERENCE_TABLES:
    register_namespace(Namespace(name=REFERENCE[_table]))
for _table in COUNTED_TABLES:
    register_namespace(Namespace(name=COUNTS[_table]))
# Keyed by the list's version (a hash of its content) and, for counted tables, by when their
# counts were computed, so it needs no invalidation of its own: a new list or new counts name new
# bodies, and the old ones age out.
REFERENCE_BODY_TTL = 3600
register_namespace(
    Namespace(
        name=REFERENCE_BODY,
        params=("table", "version", "counts", "scope", "brand_id"),
        l1_ttl=REFERENCE_BODY_TTL,
        l2_ttl=REFERENCE_BODY_TTL,
    )
)

register_namespace(
    Namespace(
        name=TRACKER_LIST,
        params=LIST_PARAMS,
        unordered=("brand_ids", "production_run_ids", "status"),
        l1_ttl=conf.LIST_TTL,
        l2_ttl=conf.LIST_TTL,
    )
)
# The statistics depend on the clock too ("no report in 24 h", computed_at): a recompute differs
# without any write, so the sampling verifier would report noise. It stays off for them.
register_namespace(
    Namespace(
        name=TRACKER_STATS,
        params=("scope", "brand_ids", "production_run_ids", "search"),
        unordered=("brand_ids", "production_run_ids"),
        l1_ttl=conf.STATS_TTL,
        l2_ttl=conf.STATS_TTL,
        verify_rate=0,
    )
)
# One tracker's detail, scoped per tracker: its own writes and its history's refresh only it.
register_namespace(
    Namespace(
        name=TRACKER_DETAIL,
        params=("tracker_id",),
        scope=lambda params: tracker_scope(params["tracker_id"]),
        l1_ttl=conf.LIST_TTL,
        l2_ttl=conf.LIST_TTL,
    )
)
register_namespace(Namespace(name=SCOPE_SUMMARY, params=("scope",), l1_ttl=conf.STATS_TTL, l2_ttl=conf.STATS_TTL))
register_namespace(
    Namespace(
        name=USER_SCOPE,
        params=("user_id",),
        scope=lambda params: user_scope(params["user_id"]),
        l1_ttl=USER_SCOPE_L1_TTL,
        l2_ttl=USER_SCOPE_L2_TTL,
        # Access rights: a removed member must lose access on the next request in every process,
        # so L1 is checked against L2's generations (prefetched with the session: accounts).
        l1_checked=True,
        debounce=0,
    )
)

# Which writes make which cached data wrong. Brands and runs appear in tracker items (brand_id,
# client_id) and decide scope membership, so they invalidate the scoped tracker data too.
TRACKER_DERIVED = [TRACKER_LIST, TRACKER_STATS, SCOPE_SUMMARY]
WATCHES = [
    (Client, [REFERENCE["clients"], SCOPE_SUMMARY]),  # staff's summary lists every client
    (Brand, [REFERENCE["brands"], REFERENCE["production_runs"], TRACKER_DETAIL, *TRACKER_DERIVED]),
    # A run added, moved to another brand or deleted changes its brand's production_run_count.
    (ProductionRun, [REFERENCE["production_runs"], COUNTS["brands"], TRACKER_DETAIL, *TRACKER_DERIVED]),
    (StorageLocation, [REFERENCE["storage_locations"]]),
    (DeliveryLocation, [REFERENCE["delivery_locations"]]),
    (Image, [REFERENCE["images"]]),
    # Only the counts, never the serialized run list: a tracker write recomputes one GROUP BY.
    (Tracker, [*TRACKER_DERIVED, COUNTS["production_runs"]]),
    (LocationHistory, [TRACKER_LIST, TRACKER_STATS]),
]


def _membership_scope(instance) -> list[str]:
    # Both the user the membership was loaded with and the one it is saved with lose or gain rights.
    users = dict.fromkeys([getattr(instance, "loaded_user_id", None), instance.user_id])
    return [user_scope(user) for user in users if user is not None]


def _tracker_scope(instance) -> str:
    return tracker_scope(instance.pk)


def _history_scope(instance) -> str:
    return tracker_scope(instance.tracker_id)


def register_signal_handlers() -> None:
    """Connect the model writes that invalidate the trackers namespaces."""
    for model, namespaces in WATCHES:
        watch_model(model, namespaces)
    watch_model(ClientMembership, [USER_SCOPE], scope=_membership_scope)
    watch_model(Tracker, [TRACKER_DETAIL], scope=_tracker_scope)
    watch_model(LocationHistory, [TRACKER_DETAIL], scope=_history_scope)


def _reference_prewarmer(table: str):
    def warm(progress=None) -> int:
        selectors.refresh_reference(table)
        if progress is not None:
            progress(1, 1)
        return 1  # one entry: the whole table's list

    warm.__name__ = warm.__qualname__ = f"warm_{table}"
    warm.__doc__ = f"Fill the {table} reference list."
    return warm


for _table in REFERENCE_TABLES:
    prewarmer(REFERENCE[_table])(_reference_prewarmer(_table))


def _counts_prewarmer(table: str):
    def warm(progress=None) -> int:
        selectors.refresh_counts(table)
        if progress is not None:
            progress(1, 1)
        return 1

    warm.__name__ = warm.__qualname__ = f"warm_{table}_counts"
    warm.__doc__ = f"Fill the derived counts of the {table} list."
    return warm


for _table in COUNTED_TABLES:
    prewarmer(COUNTS[_table])(_counts_prewarmer(_table))
