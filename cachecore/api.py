"""The public API of cachecore: the only module other apps import from.

Everything here is a thin re-export or a one-line delegation; the behaviour lives in the
modules named in DESIGN.md (tiers, keys, service, invalidation, coherence, prewarm, stats).

Contract (shared by trackers, contentplanning and monitoring):

    register_namespace(Namespace(name=..., params=(...), ...))     # once, at import of the app's caching module
    all_namespaces() -> list[Namespace]             # every declared namespace (reports)
    value, info = get_or_compute(name, params, compute, force_refresh=False)
        # info: CacheInfo(tier="l1"|"l2"|"l3"|"miss"|"disabled", is_cached, timestamp)
    invalidate(name, scope=None, source="api")    # recorded in the outbox in the current transaction
    invalidate_now(name, scope=None, source="api")  # applied now (at commit inside a transaction) -> bool
    invalidate_all(source="api")                    # every registered namespace, now -> names applied
    staleness_bound(name) -> float                  # seconds within which a commit is seen everywhere
    invalidation_status() -> dict                   # outbox pending / oldest age, relay and L1 coherence state
    watch_model(Model, namespaces, scope=None)      # signal registry; connect in AppConfig.ready()
    bulk_invalidation(*namespaces, scope=None)      # context manager for update()/bulk_create()/raw SQL
    InvalidatingQuerySet / InvalidatingManager      # bulk writes of a model invalidate its watched namespaces
    flush_pending()                                 # apply the whole outbox now (commands, tests)
    with uncached_reads(): ...                      # compute() reads with django-cachalot off
    @prewarmer("namespace") def warm(progress) -> int
    stats() -> dict                                 # this process's counters
    deployment_stats() -> dict                      # every process's, via set_deployment_source(fn)
    totals() / encode_totals() / decode_totals() / merge_totals()   # raw counters for a shared store
    StepProgress(stdout)                            # progress bars of long commands (rich; plain lines in logs)
    long_running_started(role)                      # a long-running command starts: CACHECORE_LONG_RUNNING_HOOK(role)
    consistency_report() -> dict                    # the sampling verifier's counts (CACHECORE_VERIFY_RATE)
    add_observer(obj)                               # obj.on_request/on_invalidation/on_error/on_replica/... (metrics)
    with replica_reads(): ...                       # reads that tolerate a replica's lag (docs/read-replicas.md)
    Namespace(l1_checked=True)                      # L1 served only while its generations are current in L2
    with prefetched_generations([(name, params), ...]): ...   # those lookups' generations in one MGET
    peek_l1(name, params)                           # L1's value unchecked (a hint for what to prefetch)
"""

from cachecore.cachalot import uncached_reads
from cachecore.checked import peek as peek_l1
from cachecore.checked import prefetched as prefetched_generations
from cachecore.hooks import long_running_started
from cachecore.invalidation import (
    InvalidatingManager,
    InvalidatingQuerySet,
    bulk_invalidation,
    flush_pending,
    invalidate,
    invalidate_all,
    invalidate_now,
    staleness_bound,
    watch_model,
)
from cachecore.invalidation import info as invalidation_status
from cachecore.namespaces import Namespace, all_namespaces, get_namespace, register_namespace
from cachecore.prewarm import prewarmer
from cachecore.progress import StepProgress
from cachecore.replicas import replica_reads
from cachecore.report import deployment_stats, set_deployment_source, stats
from cachecore.service import CacheInfo, get_or_compute
from cachecore.stats import add_observer, decode_totals, encode_totals, merge_totals, totals
from cachecore.verifier import consistency_report

__all__ = [
    "CacheInfo",
    "add_observer",
    "all_namespaces",
    "InvalidatingManager",
    "InvalidatingQuerySet",
    "Namespace",
    "bulk_invalidation",
    "consistency_report",
    "flush_pending",
    "get_namespace",
    "get_or_compute",
    "invalidate",
    "invalidate_all",
    "invalidate_now",
    "invalidation_status",
    "long_running_started",
    "peek_l1",
    "prefetched_generations",
    "prewarmer",
    "register_namespace",
    "replica_reads",
    "StepProgress",
    "staleness_bound",
    "stats",
    "deployment_stats",
    "set_deployment_source",
    "encode_totals",
    "decode_totals",
    "merge_totals",
    "totals",
    "uncached_reads",
    "watch_model",
]
