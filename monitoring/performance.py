"""Per-process performance statistics: timings per name, percentiles, ratings and regressions.

A *name* is either a SQL fingerprint (recorded automatically by ``monitoring.query_timing``,
kind ``"sql"``) or an operation wrapped in ``track_query(name)`` (kind ``"operation"``). Each
name keeps count, total, min, max, a fixed-size ``QuantileSketch`` for P50/P95/P99, slow and
critical counts and a fixed-size ring buffer of its latest durations for regression detection,
so memory per name is constant and the number of names is capped (``MONITORING_MAX_NAMES``).

State is per process and thread-safe. Across gunicorn workers the Prometheus metrics are the
aggregate view; per-process snapshots (``MONITORING_SNAPSHOT_DIR``) can be merged offline by
``manage.py perf_report --snapshot DIR``.

Ratings (on a P95 in milliseconds; bounds from settings):
EXCELLENT <= MONITORING_EXCELLENT_MS < GOOD <= MONITORING_SLOW_MS < SLOW <= MONITORING_CRITICAL_MS
< CRITICAL; NO_DATA without samples.
"""

import statistics
import threading
import time
from array import array
from contextlib import ContextDecorator

from monitoring.conf import MonitoringSettings, app_settings
from monitoring.sketch import QuantileSketch

SQL = "sql"
OPERATION = "operation"
EXCELLENT, GOOD, SLOW, CRITICAL, NO_DATA = "EXCELLENT", "GOOD", "SLOW", "CRITICAL", "NO_DATA"
SNAPSHOT_VERSION = 1


def rate(p95_ms: float | None, config: MonitoringSettings) -> str:
    """Return the rating of a P95 duration (milliseconds) under the configured bounds."""
    if p95_ms is None:
        return NO_DATA
    if p95_ms <= config.excellent_ms:
        return EXCELLENT
    if p95_ms <= config.slow_ms:
        return GOOD
    if p95_ms <= config.critical_ms:
        return SLOW
    return CRITICAL


class NameStats:
    """Statistics of one name; callers hold ``lock`` around every method."""

    __slots__ = ("name", "kind", "lock", "sketch", "total", "slow", "critical", "window", "position", "filled")

    def __init__(self, name: str, kind: str, window_size: int):
        self.name = name
        self.kind = kind
        self.lock = threading.Lock()
        self.sketch = QuantileSketch()
        self.total = 0.0
        self.slow = 0
        self.critical = 0
        self.window = array("d", bytes(8 * max(window_size, 1)))
        self.position = 0
        self.filled = 0

    def record(self, ms: float, slow_ms: float, critical_ms: float) -> None:
        """Add one duration in milliseconds."""
        self.sketch.add(ms)
        self.total += ms
        if ms > slow_ms:
            self.slow += 1
            if ms > critical_ms:
                self.critical += 1
        window = self.window
        window[self.position] = ms
        self.position = (self.position + 1) % len(window)
        if self.filled < len(window):
            self.filled += 1

    def latest(self) -> list[float]:
        """Return the window's durations, oldest first."""
        if self.filled < len(self.window):
            return list(self.window[: self.filled])
        return list(self.window[self.position :]) + list(self.window[: self.position])

    def summary(self, config: MonitoringSettings) -> dict:
        """Return count, total, mean, min, max, percentiles, slow/critical counts and rating."""
        sketch = self.sketch
        p50, p95, p99 = sketch.quantiles(0.5, 0.95, 0.99)
        count = sketch.count
        return {
            "name": self.name,
            "kind": self.kind,
            "count": count,
            "totalTime": _ms(self.total),
            "avgTime": _ms(self.total / count) if count else None,
            "minTime": _ms(sketch.min) if count else None,
            "maxTime": _ms(sketch.max) if count else None,
            "p50": _ms(p50),
            "p95": _ms(p95),
            "p99": _ms(p99),
            "slowQueries": self.slow,
            "criticalQueries": self.critical,
            "rating": rate(p95, config),
        }

    def regression(self, config: MonitoringSettings) -> dict | None:
        """Return the regression of this name, or None: recent median >= factor x baseline median."""
        samples = self.latest()
        recent_size, baseline_size = config.recent_window, config.baseline_window
        if len(samples) < recent_size + baseline_size:
            return None
        recent = statistics.median(samples[-recent_size:])
        baseline = statistics.median(samples[-recent_size - baseline_size : -recent_size])
        if recent < config.regression_min_ms or recent < config.regression_factor * baseline:
            return None
        return {
            "name": self.name,
            "kind": self.kind,
            "baselineMedian": _ms(baseline),
            "recentMedian": _ms(recent),
            "ratio": round(recent / baseline, 2) if baseline > 0 else None,
        }

    def to_dict(self, windows: bool = True) -> dict:
        """Return a JSON-serialisable form for snapshots (without the regression window if not ``windows``)."""
        data = {
            "name": self.name,
            "kind": self.kind,
            "total": self.total,
            "slow": self.slow,
            "critical": self.critical,
            "sketch": self.sketch.to_dict(),
        }
        if windows:
            data["latest"] = self.latest()
        return data

    @classmethod
    def from_dict(cls, data: dict, window_size: int) -> "NameStats":
        """Rebuild statistics written by ``to_dict``."""
        stats = cls(data["name"], data["kind"], window_size)
        stats.total = float(data["total"])
        stats.slow = int(data["slow"])
        stats.critical = int(data["critical"])
        stats.sketch = QuantileSketch.from_dict(data["sketch"])
        for ms in data.get("latest", [])[-window_size:]:
            stats.window[stats.position] = ms
            stats.position = (stats.position + 1) % len(stats.window)
            stats.filled = min(stats.filled + 1, len(stats.window))
        return stats

    def merge(self, other: "NameStats") -> None:
        """Add ``other``'s samples; its window replaces ours when it holds more samples."""
        self.sketch.merge(other.sketch)
        self.total += other.total
        self.slow += other.slow
        self.critical += other.critical
        if other.filled >= self.filled:
            self.window, self.position, self.filled = array("d", other.window), other.position, other.filled


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class PerformanceTracker:
    """Thread-safe registry of ``NameStats`` for one process."""

    clock = staticmethod(time.perf_counter)

    def __init__(self, config: MonitoringSettings | None = None):
        self._config = config
        self._lock = threading.Lock()
        self._stats: dict[str, NameStats] = {}
        self._before_read: list = []

    def add_read_hook(self, hook) -> None:
        """Call ``hook()`` before every read (e.g. to apply queued SQL timings first)."""
        if hook not in self._before_read:
            self._before_read.append(hook)

    def _prepare_read(self) -> None:
        for hook in self._before_read:
            hook()

    @property
    def config(self) -> MonitoringSettings:
        """Return the settings in force (given at construction, else the app's)."""
        return self._config or app_settings()

    def record(self, name: str, ms: float, kind: str = OPERATION) -> None:
        """Record one duration (milliseconds) under ``name``."""
        stats = self._stats.get(name)
        config = self.config
        if stats is None:
            stats = self._create(name, kind, config)
        with stats.lock:
            stats.record(ms, config.slow_ms, config.critical_ms)

    def _create(self, name: str, kind: str, config: MonitoringSettings) -> NameStats:
        with self._lock:
            stats = self._stats.get(name)
            if stats is not None:
                return stats
            if len(self._stats) >= config.max_names:
                # Past the cap, new names share one bucket per kind so memory stays bounded.
                name = f"(other {kind})"
                stats = self._stats.get(name)
                if stats is not None:
                    return stats
            stats = NameStats(name, kind, config.baseline_window + config.recent_window)
            self._stats[name] = stats
            return stats

    def names(self) -> list[str]:
        """Return the tracked names."""
        self._prepare_read()
        with self._lock:
            return list(self._stats)

    def _all(self) -> list[NameStats]:
        self._prepare_read()
        with self._lock:
            return list(self._stats.values())

    def stats_for(self, name: str) -> dict | None:
        """Return the summary of one name, or None when it was never recorded."""
        self._prepare_read()
        stats = self._stats.get(name)
        if stats is None:
            return None
        with stats.lock:
            return stats.summary(self.config)

    def summaries(self, kind: str | None = None) -> list[dict]:
        """Return the summary of every name (of ``kind`` when given)."""
        config = self.config
        result = []
        for stats in self._all():
            if kind is None or stats.kind == kind:
                with stats.lock:
                    result.append(stats.summary(config))
        return result

    def top_slowest(self, n: int = 10, kind: str | None = None) -> list[dict]:
        """Return the ``n`` names with the highest P95 (ties by mean)."""
        ranked = sorted(self.summaries(kind), key=lambda s: (s["p95"] or 0, s["avgTime"] or 0), reverse=True)
        return ranked[:n]

    def slow_queries(self, threshold_ms: float | None = None, kind: str | None = None) -> list[dict]:
        """Return the names whose P95 exceeds ``threshold_ms`` (default: the slow threshold), slowest first."""
        threshold = self.config.slow_ms if threshold_ms is None else threshold_ms
        return [s for s in self.top_slowest(len(self._stats), kind) if (s["p95"] or 0) > threshold]

    def regressions(self) -> list[dict]:
        """Return the names whose recent median is at least the configured factor x their baseline."""
        config = self.config
        found = []
        for stats in self._all():
            with stats.lock:
                regression = stats.regression(config)
            if regression:
                found.append(regression)
        return sorted(found, key=lambda r: r["ratio"] or 0, reverse=True)

    def merged_sketch(self, kind: str = SQL) -> QuantileSketch:
        """Return one sketch holding every sample of ``kind`` (for the shared history)."""
        merged = QuantileSketch()
        for stats in self._all():
            if stats.kind == kind:
                with stats.lock:
                    merged.merge(stats.sketch)
        return merged

    def overview(self, kind: str = SQL) -> dict:
        """Return totals and percentiles over every name of ``kind`` (one merged sketch)."""
        merged = QuantileSketch()
        total = 0.0
        slow = critical = 0
        for stats in self._all():
            if stats.kind != kind:
                continue
            with stats.lock:
                merged.merge(stats.sketch)
                total += stats.total
                slow += stats.slow
                critical += stats.critical
        p50, p95, p99 = merged.quantiles(0.5, 0.95, 0.99)
        count = merged.count
        return {
            "totalQueries": count,
            "totalTime": _ms(total),
            "avgTime": _ms(total / count) if count else None,
            "p50": _ms(p50),
            "p95": _ms(p95),
            "p99": _ms(p99),
            "slowQueries": slow,
            "criticalQueries": critical,
            "rating": rate(p95, self.config),
        }

    def report(self, top: int = 10) -> dict:
        """Return the health endpoint's ``performance`` section (SQL totals, slowest names, regressions)."""
        return {
            **self.overview(SQL),
            "operations": self.overview(OPERATION),
            "topSlowest": self.top_slowest(top),
            "regressions": self.regressions(),
            "trackedNames": len(self._stats),
        }

    def reset(self) -> None:
        """Forget every statistic (tests, or an operator starting a fresh measurement)."""
        self._prepare_read()  # queued timings belong to the period being forgotten
        with self._lock:
            self._stats.clear()

    def to_snapshot(self, windows: bool = True) -> dict:
        """Return the whole state as a JSON-serialisable snapshot (``windows=False``: no regression windows)."""
        return {
            "version": SNAPSHOT_VERSION,
            "names": [_locked_dict(stats, windows) for stats in self._all()],
        }

    def load_snapshot(self, data: dict) -> None:
        """Merge a snapshot written by ``to_snapshot`` into this tracker."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {data.get('version')!r} (expected {SNAPSHOT_VERSION})")
        config = self.config
        size = config.baseline_window + config.recent_window
        for item in data["names"]:
            incoming = NameStats.from_dict(item, size)
            with self._lock:
                existing = self._stats.setdefault(incoming.name, incoming)
            if existing is not incoming:
                with existing.lock:
                    existing.merge(incoming)


def _locked_dict(stats: NameStats, windows: bool = True) -> dict:
    with stats.lock:
        return stats.to_dict(windows)


class track_query(ContextDecorator):  # noqa: N801 - used like a function: @track_query("name")
    """Time the wrapped block or function and record it under ``name``.

    Usage: ``with track_query("dashboard.stats"): ...`` or ``@track_query("prewarm.brands")``.
    """

    def __init__(self, name: str, tracker: PerformanceTracker | None = None):
        self.name = name
        self.tracker = tracker
        self._start = 0.0

    def _recreate_cm(self):
        # A fresh instance per call keeps the start time per call (threads, recursion).
        return type(self)(self.name, self.tracker)

    def __enter__(self):
        self._start = (self.tracker or tracker).clock()
        return self

    def __exit__(self, *exc):
        active = self.tracker or tracker
        active.record(self.name, (active.clock() - self._start) * 1000.0, OPERATION)
        return False


# The process's tracker; the execute wrapper and the health endpoint use it.
tracker = PerformanceTracker()
