"""Settings of the monitoring app, read once and re-read when a test overrides one of them.

Defaults (environment variables of the same name; see docs/monitoring.md):

- ``MONITORING_TOKEN`` (empty): bearer token for the detailed health view and /metrics;
  empty disables token access.
- ``MONITORING_SLOW_MS`` (100) / ``MONITORING_CRITICAL_MS`` (500): a sample above these is
  counted slow / critical (critical ones are counted slow too).
- ``MONITORING_EXCELLENT_MS`` (20): rating bound, see ``monitoring.performance.rate``.
- ``MONITORING_QUERY_TIMING`` (on): time every SQL statement through the execute wrapper.
- ``MONITORING_BASELINE_WINDOW`` (200) / ``MONITORING_RECENT_WINDOW`` (50): samples per name in
  the regression windows; ``MONITORING_REGRESSION_FACTOR`` (2.0) and
  ``MONITORING_REGRESSION_MIN_MS`` (1.0): a recent median at least factor x the baseline median,
  and at least this many milliseconds, is a regression.
- ``MONITORING_MAX_NAMES`` (500): distinct names tracked per process; more fold into "other".
- ``MONITORING_MAX_METRIC_GROUPS`` (200): distinct ``db_query_seconds{group}`` label values.
- ``MONITORING_SNAPSHOT_DIR`` (empty): when set, each process writes its summary there at exit.
- ``MONITORING_SHARED_STATS_SECONDS`` (10): each process writes its counters to the shared
  ``ProcessStats`` table at most this often (on a finished request, and at exit); 0 turns the
  periodic write off (the test settings do; tests publish explicitly).
- ``MONITORING_SHARED_STATS_MAX_AGE`` (3600): rows older than this are left out and deleted.
- ``MONITORING_HISTORY_RESOLUTION`` (10) / ``MONITORING_HISTORY_WINDOW`` (3600): the monitoring
  page's charts keep one ``MetricSample`` per process and bucket of this many seconds, for the
  window (older rows are deleted when a process publishes).
- ``MONITORING_PAGE_REFRESH_SECONDS`` (5): refresh interval of the /monitoring/ page.
- ``METRICS_ALLOWED_IPS`` (127.0.0.1, ::1): addresses or CIDR networks that may read /metrics.
- ``REDIS_URL`` / ``REDIS_SENTINELS`` (config/settings.py): the Redis that the health check
  PINGs, through the Sentinels (the current master) when they are set.
- ``METRICS_PORT`` (0: off) / ``METRICS_ADDR`` (127.0.0.1): where a long-running command serves
  its own /metrics (monitoring/exporter.py); set per process.
- ``MONITORING_MEMORY_LIMIT_BYTES`` (0: the cgroup's memory.max, if any): exported as
  ``process_memory_limit_bytes`` for the memory alert (85 %).
- ``MONITORING_PROCESS_METRICS_SECONDS`` (5): how often a gunicorn worker refreshes its
  ``process_cpu_seconds_total`` / ``process_resident_memory_bytes``.
"""

from dataclasses import dataclass

from django.conf import settings

_SETTINGS = {
    "MONITORING_TOKEN": ("token", ""),
    "MONITORING_SLOW_MS": ("slow_ms", 100.0),
    "MONITORING_CRITICAL_MS": ("critical_ms", 500.0),
    "MONITORING_EXCELLENT_MS": ("excellent_ms", 20.0),
    "MONITORING_QUERY_TIMING": ("query_timing", True),
    "MONITORING_BASELINE_WINDOW": ("baseline_window", 200),
    "MONITORING_RECENT_WINDOW": ("recent_window", 50),
    "MONITORING_REGRESSION_FACTOR": ("regression_factor", 2.0),
    "MONITORING_REGRESSION_MIN_MS": ("regression_min_ms", 1.0),
    "MONITORING_MAX_NAMES": ("max_names", 500),
    "MONITORING_MAX_METRIC_GROUPS": ("max_metric_groups", 200),
    "MONITORING_SNAPSHOT_DIR": ("snapshot_dir", ""),
    "MONITORING_PAGE_REFRESH_SECONDS": ("page_refresh_seconds", 5),
    "MONITORING_SHARED_STATS_SECONDS": ("shared_stats_seconds", 10.0),
    "MONITORING_SHARED_STATS_MAX_AGE": ("shared_stats_max_age", 3600.0),
    "MONITORING_HISTORY_RESOLUTION": ("history_resolution", 10),
    "MONITORING_HISTORY_WINDOW": ("history_window", 3600),
    "METRICS_ALLOWED_IPS": ("metrics_allowed_ips", ("127.0.0.1", "::1")),
    "REDIS_URL": ("redis_url", ""),
    "REDIS_SENTINELS": ("redis_sentinels", ()),
    "METRICS_PORT": ("metrics_port", 0),
    "METRICS_ADDR": ("metrics_addr", "127.0.0.1"),
    "MONITORING_MEMORY_LIMIT_BYTES": ("memory_limit_bytes", 0),
    "MONITORING_PROCESS_METRICS_SECONDS": ("process_metrics_seconds", 5.0),
}


@dataclass(frozen=True)
class MonitoringSettings:
    token: str
    slow_ms: float
    critical_ms: float
    excellent_ms: float
    query_timing: bool
    baseline_window: int
    recent_window: int
    regression_factor: float
    regression_min_ms: float
    max_names: int
    max_metric_groups: int
    snapshot_dir: str
    page_refresh_seconds: int
    shared_stats_seconds: float
    shared_stats_max_age: float
    history_resolution: int
    history_window: int
    metrics_allowed_ips: tuple
    redis_url: str
    redis_sentinels: tuple
    metrics_port: int
    metrics_addr: str
    memory_limit_bytes: int
    process_metrics_seconds: float


_current: MonitoringSettings | None = None
_listeners = []


def app_settings() -> MonitoringSettings:
    """Return the app's settings, read from django.conf.settings once."""
    global _current
    if _current is None:
        values = {field: getattr(settings, name, default) for name, (field, default) in _SETTINGS.items()}
        values["metrics_allowed_ips"] = tuple(values["metrics_allowed_ips"] or ())
        values["redis_url"] = values["redis_url"] or ""
        values["redis_sentinels"] = tuple(tuple(s) for s in values["redis_sentinels"] or ())
        values["token"] = values["token"] or ""
        _current = MonitoringSettings(**values)
    return _current


def on_reload(callback) -> None:
    """Call ``callback`` whenever the settings are re-read (modules that cache a value)."""
    _listeners.append(callback)


def reload_settings(*, setting, **kwargs) -> None:
    """Forget the cached settings when a test overrides one of them (a setting_changed receiver)."""
    global _current
    if setting in _SETTINGS:
        _current = None
        for callback in _listeners:
            callback()
