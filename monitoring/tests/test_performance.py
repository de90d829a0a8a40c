"""PerformanceTracker: counts, percentiles, slow/critical, ratings, regressions, caps, threads."""

import dataclasses
import math
import random
import threading

import pytest

from monitoring.conf import app_settings
from monitoring.performance import (
    CRITICAL,
    EXCELLENT,
    GOOD,
    NO_DATA,
    OPERATION,
    SLOW,
    SQL,
    PerformanceTracker,
    rate,
    track_query,
)


def make_tracker(**overrides) -> PerformanceTracker:
    base = {
        "slow_ms": 100.0,
        "critical_ms": 500.0,
        "excellent_ms": 20.0,
        "baseline_window": 40,
        "recent_window": 10,
        "regression_factor": 2.0,
        "regression_min_ms": 1.0,
        "max_names": 500,
    }
    return PerformanceTracker(dataclasses.replace(app_settings(), **{**base, **overrides}))


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class TestCounting:
    def test_count_total_mean_min_max(self):
        t = make_tracker()
        for ms in (10.0, 20.0, 30.0, 40.0):
            t.record("op", ms)
        s = t.stats_for("op")
        assert (s["count"], s["totalTime"], s["avgTime"], s["minTime"], s["maxTime"]) == (4, 100.0, 25.0, 10.0, 40.0)
        assert s["kind"] == OPERATION

    def test_percentiles_match_exact_within_two_percent(self):
        t = make_tracker()
        rng = random.Random(11)
        values = [rng.lognormvariate(2.0, 0.8) for _ in range(20_000)]
        for v in values:
            t.record("q", v, SQL)
        ordered = sorted(values)
        s = t.stats_for("q")
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            truth = ordered[math.ceil(q * len(ordered)) - 1]
            assert abs(s[key] - truth) / truth <= 0.02, (key, s[key], truth)

    def test_unknown_name_has_no_stats(self):
        assert make_tracker().stats_for("never") is None


class TestSlowAndCritical:
    def test_thresholds_are_strict_and_critical_counts_as_slow(self):
        t = make_tracker()
        for ms in (50, 100, 100.1, 499, 500, 500.1, 2000):
            t.record("q", ms, SQL)
        s = t.stats_for("q")
        assert s["slowQueries"] == 5  # 100.1, 499, 500, 500.1, 2000
        assert s["criticalQueries"] == 2  # 500.1, 2000

    def test_thresholds_come_from_settings(self):
        t = make_tracker(slow_ms=10.0, critical_ms=20.0, excellent_ms=5.0)
        for ms in (9, 11, 21):
            t.record("q", ms, SQL)
        assert (t.stats_for("q")["slowQueries"], t.stats_for("q")["criticalQueries"]) == (2, 1)

    def test_overview_adds_up_sql_names_only(self):
        t = make_tracker()
        t.record("a", 150.0, SQL)
        t.record("b", 600.0, SQL)
        t.record("b", 5.0, SQL)
        t.record("op", 900.0, OPERATION)
        o = t.overview(SQL)
        assert (o["totalQueries"], o["totalTime"], o["slowQueries"], o["criticalQueries"]) == (3, 755.0, 2, 1)
        assert t.overview(OPERATION)["totalQueries"] == 1


class TestRating:
    @pytest.mark.parametrize(
        ("p95", "expected"),
        [
            (None, NO_DATA),
            (0.5, EXCELLENT),
            (20.0, EXCELLENT),
            (20.1, GOOD),
            (100.0, GOOD),
            (100.1, SLOW),
            (500.0, SLOW),
            (500.1, CRITICAL),
        ],
    )
    def test_bounds(self, p95, expected):
        assert rate(p95, make_tracker().config) == expected

    def test_rating_uses_the_p95_of_injected_durations(self):
        t = make_tracker()
        for _ in range(90):
            t.record("mostly-fast", 5.0)
        for _ in range(10):
            t.record("mostly-fast", 300.0)  # 10 % slow: the P95 is slow
        assert t.stats_for("mostly-fast")["rating"] == SLOW
        for _ in range(100):
            t.record("fast", 2.0)
        assert t.stats_for("fast")["rating"] == EXCELLENT


class TestTopAndSlow:
    def test_top_slowest_orders_by_p95(self):
        t = make_tracker()
        for name, ms in (("a", 5.0), ("b", 250.0), ("c", 50.0), ("d", 700.0)):
            for _ in range(5):
                t.record(name, ms)
        assert [s["name"] for s in t.top_slowest(3)] == ["d", "b", "c"]

    def test_slow_queries_filters_by_threshold(self):
        t = make_tracker()
        for name, ms in (("a", 5.0), ("b", 250.0), ("c", 50.0)):
            t.record(name, ms)
        assert [s["name"] for s in t.slow_queries()] == ["b"]  # default: MONITORING_SLOW_MS
        assert [s["name"] for s in t.slow_queries(threshold_ms=10)] == ["b", "c"]


class TestRegressions:
    def test_a_2x_slowdown_is_reported(self):
        t = make_tracker()
        rng = random.Random(5)
        for _ in range(40):
            t.record("q", 10.0 * rng.uniform(0.9, 1.1), SQL)
        for _ in range(10):
            t.record("q", 20.0 * rng.uniform(1.0, 1.1), SQL)
        (found,) = t.regressions()
        assert found["name"] == "q"
        assert found["ratio"] >= 2.0
        assert 9.0 <= found["baselineMedian"] <= 11.0

    def test_noise_within_the_threshold_is_not_reported(self):
        t = make_tracker()
        rng = random.Random(6)
        for _ in range(2000):  # +-40 % noise and occasional 3x outliers, no shift of the median
            ms = 10.0 * rng.uniform(0.6, 1.4) * (3.0 if rng.random() < 0.05 else 1.0)
            t.record("q", ms, SQL)
            assert t.regressions() == []

    def test_needs_full_windows(self):
        t = make_tracker()
        for _ in range(20):
            t.record("q", 10.0)
        for _ in range(10):
            t.record("q", 100.0)
        assert t.regressions() == []  # only 20 baseline samples of the 40 required

    def test_ignores_tiny_absolute_durations(self):
        t = make_tracker(regression_min_ms=1.0)
        for _ in range(40):
            t.record("q", 0.1)
        for _ in range(10):
            t.record("q", 0.3)
        assert t.regressions() == []

    def test_window_sizes_and_factor_come_from_settings(self):
        below, at = (make_tracker(baseline_window=4, recent_window=2, regression_factor=3.0) for _ in range(2))
        for ms in (10, 10, 10, 10, 25, 25):
            below.record("q", ms)
        for ms in (10, 10, 10, 10, 30, 30):
            at.record("q", ms)
        assert below.regressions() == []  # 2.5x < 3x
        assert [(r["name"], r["ratio"]) for r in at.regressions()] == [("q", 3.0)]


class TestTrackQuery:
    def test_context_manager_records_the_injected_clock(self):
        t = make_tracker()
        clock = FakeClock()
        t.clock = clock
        with track_query("build-report", tracker=t):
            clock.advance(0.250)
        s = t.stats_for("build-report")
        assert (s["count"], s["totalTime"], s["kind"]) == (1, 250.0, OPERATION)

    def test_decorator_records_each_call_and_keeps_the_return_value(self):
        t = make_tracker()
        clock = FakeClock()
        t.clock = clock

        @track_query("compute", tracker=t)
        def compute(x):
            clock.advance(x / 1000)
            return x * 2

        assert compute(30) == 60
        assert compute(10) == 20
        s = t.stats_for("compute")
        assert (s["count"], s["minTime"], s["maxTime"]) == (2, 10.0, 30.0)

    def test_records_even_when_the_block_raises(self):
        t = make_tracker()
        with pytest.raises(ValueError), track_query("fails", tracker=t):
            raise ValueError("boom")
        assert t.stats_for("fails")["count"] == 1

    def test_decorator_is_safe_across_threads(self):
        t = make_tracker()

        @track_query("threaded", tracker=t)
        def work():
            return sum(range(100))

        threads = [threading.Thread(target=lambda: [work() for _ in range(200)]) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert t.stats_for("threaded")["count"] == 1600


class TestBounds:
    def test_names_are_capped_and_the_rest_fold_into_other(self):
        t = make_tracker(max_names=5)
        for i in range(100):
            t.record(f"statement {i}", 1.0, SQL)
        names = t.names()
        assert len(names) == 6
        assert "(other sql)" in names
        assert t.stats_for("(other sql)")["count"] == 95
        assert t.overview(SQL)["totalQueries"] == 100

    def test_concurrent_recording_loses_nothing(self):
        t = make_tracker()

        def worker(n):
            for i in range(2000):
                t.record(f"n{i % 7}", float(n + 1), SQL)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert t.overview(SQL)["totalQueries"] == 12_000
        assert t.overview(SQL)["totalTime"] == sum(2000 * (n + 1) for n in range(6))


class TestSnapshots:
    def test_snapshot_round_trip_and_merge(self):
        a, b = make_tracker(), make_tracker()
        for ms in (1.0, 2.0, 3.0):
            a.record("q", ms, SQL)
        b.record("q", 500.5, SQL)
        b.record("op", 7.0)
        merged = make_tracker()
        merged.load_snapshot(a.to_snapshot())
        merged.load_snapshot(b.to_snapshot())
        q = merged.stats_for("q")
        assert (q["count"], q["totalTime"], q["maxTime"], q["criticalQueries"]) == (4, 506.5, 500.5, 1)
        assert merged.stats_for("op")["count"] == 1

    def test_rejects_an_unknown_version(self):
        with pytest.raises(ValueError, match="version"):
            make_tracker().load_snapshot({"version": 99, "names": []})
