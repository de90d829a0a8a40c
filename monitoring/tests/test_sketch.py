"""QuantileSketch: percentiles within 2 % of exact, constant memory, merge and round trip."""

import math
import random

import pytest

from monitoring.sketch import BUCKETS, RELATIVE_ACCURACY, QuantileSketch

QUANTILES = (0.5, 0.95, 0.99)


def exact(sorted_values, q):
    """Return the nearest-rank percentile: index ceil(q * n) - 1."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def distributions():
    rng = random.Random(20261123)
    return {
        "lognormal": [rng.lognormvariate(1.0, 1.2) for _ in range(50_000)],
        "uniform": [rng.uniform(0.05, 800.0) for _ in range(50_000)],
        "bimodal": [rng.gauss(2.0, 0.3) if rng.random() < 0.9 else rng.gauss(400.0, 50.0) for _ in range(50_000)],
        "exponential": [rng.expovariate(1 / 30.0) for _ in range(50_000)],
    }


@pytest.mark.parametrize("name", ["lognormal", "uniform", "bimodal", "exponential"])
def test_percentiles_are_within_two_percent_of_exact(name):
    values = [abs(v) + 1e-3 for v in distributions()[name]]
    sketch = QuantileSketch()
    for v in values:
        sketch.add(v)
    ordered = sorted(values)
    for q, estimate in zip(QUANTILES, sketch.quantiles(*QUANTILES), strict=True):
        truth = exact(ordered, q)
        assert abs(estimate - truth) / truth <= 0.02, (name, q, estimate, truth)
        assert abs(estimate - truth) / truth <= RELATIVE_ACCURACY + 1e-9  # the design bound, 1 %


def test_min_and_max_are_exact_and_bound_every_quantile():
    sketch = QuantileSketch()
    for v in (3.0, 7.5, 0.2, 12.25):
        sketch.add(v)
    assert sketch.quantile(0.0) == 0.2
    assert sketch.quantile(1.0) == 12.25
    assert (sketch.min, sketch.max, sketch.count) == (0.2, 12.25, 4)


def test_nearest_rank_on_small_samples():
    sketch = QuantileSketch()
    for v in (10.0, 20.0, 30.0):
        sketch.add(v)
    p50, p95 = sketch.quantiles(0.5, 0.95)
    assert abs(p50 - 20.0) / 20.0 <= RELATIVE_ACCURACY
    assert p95 == 30.0  # 95 % of three samples is all three


def test_empty_sketch_answers_none():
    assert QuantileSketch().quantiles(0.5, 0.99) == [None, None]


def test_values_outside_the_range_are_counted_and_reported_exactly_at_the_ends():
    sketch = QuantileSketch()
    sketch.add(0.0)  # below the smallest bucket
    sketch.add(5e8)  # above the largest bucket
    assert sketch.count == 2
    assert sketch.quantile(0.0) == 0.0
    assert sketch.quantile(1.0) == 5e8


def test_memory_is_constant_after_a_million_samples():
    sketch = QuantileSketch()
    sketch.add(1.0)
    size_after_one = sketch.memory_bytes()
    rng = random.Random(7)
    add, expo = sketch.add, rng.expovariate
    for _ in range(1_000_000):
        add(expo(0.01) + 0.001)
    assert sketch.count == 1_000_001
    assert sketch.memory_bytes() == size_after_one == BUCKETS * 8
    assert len(sketch.counts) == BUCKETS


def test_merge_equals_adding_everything_to_one_sketch():
    rng = random.Random(3)
    a, b, both = QuantileSketch(), QuantileSketch(), QuantileSketch()
    for i in range(10_000):
        v = rng.lognormvariate(0, 1)
        (a if i % 2 else b).add(v)
        both.add(v)
    a.merge(b)
    assert a.quantiles(*QUANTILES) == both.quantiles(*QUANTILES)
    assert (a.count, a.min, a.max) == (both.count, both.min, both.max)


def test_dict_round_trip_keeps_every_answer():
    sketch = QuantileSketch()
    for v in (0.0001, 1.0, 2.0, 3.0, 250.0):
        sketch.add(v)
    copy = QuantileSketch.from_dict(sketch.to_dict())
    assert copy.quantiles(*QUANTILES) == sketch.quantiles(*QUANTILES)
    assert (copy.count, copy.min, copy.max, copy.zero_count) == (5, 0.0001, 250.0, 1)
