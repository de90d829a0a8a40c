"""A fixed-size logarithmic histogram for percentiles in constant memory (DDSketch-like).

Values are positive durations (milliseconds). Bucket ``i`` holds values in
``(GAMMA**(i-1), GAMMA**i]``; reporting a bucket's midpoint ``2*GAMMA**i/(GAMMA+1)`` is within
``RELATIVE_ACCURACY`` of every value in it, so every quantile is within 1 % (relative) of the
exact sample of the same rank. The bucket array is allocated once: memory does not depend on
how many samples were added. Values below ``MIN_VALUE`` share one "zero" bucket and values above
``MAX_VALUE`` are clamped into the last bucket (reported exactly through ``min``/``max``).

Not thread-safe by itself: callers (``monitoring.performance``) hold a lock.
"""

import math
from array import array

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-3  # 1 microsecond, in milliseconds
MAX_VALUE = 1e7  # about 2.8 hours, in milliseconds
_OFFSET = math.ceil(math.log(MIN_VALUE) / _LOG_GAMMA)
BUCKETS = math.ceil(math.log(MAX_VALUE) / _LOG_GAMMA) - _OFFSET + 1


class QuantileSketch:
    """Count samples in fixed logarithmic buckets and answer quantiles from them."""

    __slots__ = ("counts", "zero_count", "count", "min", "max")

    def __init__(self):
        self.counts = array("Q", bytes(8 * BUCKETS))
        self.zero_count = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        """Add one sample."""
        self.count += 1
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value < MIN_VALUE:
            self.zero_count += 1
            return
        index = math.ceil(math.log(value) / _LOG_GAMMA) - _OFFSET
        self.counts[index if index < BUCKETS else BUCKETS - 1] += 1

    def merge(self, other: "QuantileSketch") -> None:
        """Add every sample of ``other`` to this sketch."""
        if not other.count:
            return
        counts = self.counts
        for i, n in enumerate(other.counts):
            if n:
                counts[i] += n
        self.zero_count += other.zero_count
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantiles(self, *qs: float) -> list[float | None]:
        """Return the values at quantiles ``qs`` (each in [0, 1]); None when empty."""
        if not self.count:
            return [None for _ in qs]
        # Nearest rank: the smallest sample with at least q * n samples at or below it, i.e. index
        # ceil(q * n) - 1 of the sorted samples ("95 % of the samples took at most P95").
        last = self.count - 1
        wanted = sorted((max(0, math.ceil(q * self.count) - 1), pos) for pos, q in enumerate(qs))
        result: list[float | None] = [None] * len(qs)
        # The largest sample is known exactly (and may sit in the clamped overflow bucket).
        while wanted and wanted[-1][0] == last:
            result[wanted.pop()[1]] = self.max
        seen = self.zero_count
        w = 0
        while w < len(wanted) and wanted[w][0] < seen:
            result[wanted[w][1]] = self.min
            w += 1
        for i, n in enumerate(self.counts):
            if w == len(wanted):
                break
            if not n:
                continue
            seen += n
            while w < len(wanted) and wanted[w][0] < seen:
                result[wanted[w][1]] = self._value(i)
                w += 1
        return result

    def quantile(self, q: float) -> float | None:
        """Return the value at quantile ``q``; None when empty."""
        return self.quantiles(q)[0]

    def _value(self, index: int) -> float:
        estimate = 2 * GAMMA ** (index + _OFFSET) / (GAMMA + 1)
        return min(max(estimate, self.min), self.max)

    def memory_bytes(self) -> int:
        """Return the bytes held by the bucket array (constant for the sketch's lifetime)."""
        return self.counts.buffer_info()[1] * self.counts.itemsize

    def to_dict(self) -> dict:
        """Return a JSON-serialisable form (sparse buckets) for snapshots."""
        return {
            "buckets": {str(i): n for i, n in enumerate(self.counts) if n},
            "zero": self.zero_count,
            "count": self.count,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "QuantileSketch":
        """Rebuild a sketch written by ``to_dict``."""
        sketch = cls()
        for index, n in data.get("buckets", {}).items():
            sketch.counts[int(index)] = int(n)
        sketch.zero_count = int(data.get("zero", 0))
        sketch.count = int(data.get("count", 0))
        if sketch.count:
            sketch.min = float(data["min"])
            sketch.max = float(data["max"])
        return sketch
