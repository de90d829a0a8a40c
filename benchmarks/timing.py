"""The one timing loop every micro-benchmark here uses."""

import statistics
import time


def median_per_call(fn, *, calls: int, rounds: int) -> float:
    """Return the median over ``rounds`` of the mean seconds per call of ``calls`` calls (one warm-up)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)
