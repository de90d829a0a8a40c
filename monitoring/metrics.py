"""Every Prometheus metric of the project, defined once (django-prometheus style).

Other apps import the objects from here; nothing else creates metrics. Label sets are bounded:
namespaces and fingerprint groups are finite by construction.
"""

from prometheus_client import Counter, Gauge, Histogram

DASHBOARD_LOAD_SECONDS = Histogram(
    "dashboard_load_seconds",
    "Time to answer a dashboard endpoint (tracker list, tracker stats).",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0),
)
DB_QUERY_SECONDS = Histogram(
    "db_query_seconds",
    "SQL statement duration by fingerprint group (bounded cardinality).",
    ["group"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CACHE_REQUESTS_TOTAL = Counter(
    "cache_requests_total", "Cache lookups by namespace, tier and result.", ["namespace", "tier", "result"]
)
CACHE_HIT_RATE_PERCENT = Gauge(
    "cache_hit_rate_percent",
    "Hit rate of a namespace in this process since start.",
    ["namespace"],
    multiprocess_mode="livemax",
)
CACHE_INVALIDATIONS_TOTAL = Counter(
    "cache_invalidations_total", "Invalidations performed by namespace and source.", ["namespace", "source"]
)
CACHE_INVALIDATION_FAILURES_TOTAL = Counter(
    "cache_invalidation_failures_total", "Invalidations that could not be completed.", ["namespace"]
)
CACHE_VERIFIED_READS_TOTAL = Counter(
    "cachecore_verified_reads_total", "Cache hits recomputed and compared by the sampling verifier.", ["namespace"]
)
CACHE_INCONSISTENT_READS_TOTAL = Counter(
    "cachecore_inconsistent_reads_total",
    "Verified hits still served after their source had changed for longer than the allowed staleness.",
    ["namespace"],
)
CACHE_VERIFY_DROPPED_TOTAL = Counter(
    "cachecore_verify_dropped_total", "Sampled hits the verifier dropped (queue or suspect list full).", ["namespace"]
)
CACHE_REPLICA_READS_TOTAL = Counter(
    "cachecore_replica_reads_total",
    "Computations that filled the cache from a read replica (docs/read-replicas.md).",
    ["namespace"],
)
CACHE_REPLICA_FALLBACKS_TOTAL = Counter(
    "cachecore_replica_fallbacks_total",
    "Computations that ran on the primary although read replicas are configured, by reason "
    "(lag, unavailable, error, unknown, transaction).",
    ["namespace", "reason"],
)
CACHE_OUTBOX_PENDING = Gauge(
    "cachecore_outbox_pending",
    "Committed invalidations not yet applied by a relay (read from the outbox at scrape time).",
    multiprocess_mode="livemax",
)
CACHE_OUTBOX_OLDEST_AGE_SECONDS = Gauge(
    "cachecore_outbox_oldest_age_seconds",
    "Age of the oldest committed, unapplied invalidation (0 when none; read at scrape time).",
    multiprocess_mode="livemax",
)
CACHE_TIER_ERRORS_TOTAL = Counter("cache_tier_errors_total", "Errors raised by a cache tier.", ["tier"])
FILTER_APPLICATIONS_TOTAL = Counter(
    "filter_applications_total", "Tracker list requests with at least one filter, by filter.", ["filter"]
)
LAZY_LOAD_TRIGGERS_TOTAL = Counter(
    "lazy_load_triggers_total", "Tracker list requests answered lazily (lazy_load=true and a filter)."
)
EMPTY_STATE_VIEWS_TOTAL = Counter(
    "empty_state_views_total", "Tracker list requests answered with the lazy empty state (no query)."
)
SYNC_DURATION_SECONDS = Histogram(
    "sync_duration_seconds",
    "Duration of one sync_tracker_state run.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
SYNC_ROWS_TOTAL = Counter("sync_rows_total", "Location history rows applied by the state sync.")

# Per-process CPU and memory under gunicorn's multi-process mode, where the default collector's
# process_* metrics are not exported (monitoring/process_metrics.py keeps them current). Not
# registered in the default registry, which already has the standard ProcessCollector of the same
# names; in multi-process mode the values reach /metrics through the files, one series per pid.
PROCESS_CPU_SECONDS = Gauge(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds (this worker).",
    registry=None,
    multiprocess_mode="liveall",
)
PROCESS_RESIDENT_MEMORY_BYTES = Gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes (this worker).",
    registry=None,
    multiprocess_mode="liveall",
)
PROCESS_MEMORY_LIMIT_BYTES = Gauge(
    "process_memory_limit_bytes",
    "The memory a process may use (MONITORING_MEMORY_LIMIT_BYTES, else the cgroup's memory.max).",
    multiprocess_mode="liveall",
)
COMMAND_INFO = Gauge(
    "cachewarden_command_info",
    "1 in a long-running management command that serves its own /metrics (monitoring/exporter.py).",
    ["command"],
    multiprocess_mode="liveall",
)
