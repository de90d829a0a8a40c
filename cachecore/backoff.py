"""Exponential backoff with jitter for the reconnecting background loops."""

import random


class Backoff:
    """Yield growing delays (initial * factor**n, capped, with +/-20% jitter) until reset()."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0, factor: float = 2.0, rng=None):
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rng = rng or random.Random()
        self._next = initial

    def next(self) -> float:
        """Return the next delay and grow the following one."""
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay * self._rng.uniform(0.8, 1.2)

    def reset(self) -> None:
        """Start again from the initial delay (after a successful connection)."""
        self._next = self.initial
