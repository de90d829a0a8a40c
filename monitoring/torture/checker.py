"""The torture run's checker: compare every read with the committed history (pure, no I/O).

History: per object, the states it went through, each with the time its write committed (the
writer records the state it read inside its transaction, after the commit returned). A read
records the object, the state it saw and when it started and ended.

A read that saw state j is charged only with what it provably missed: j is the *latest* state
equal to what it saw that had been committed by the end of the read (states can repeat, e.g. a
tracker added then deleted), and the read is stale by ``start - commit time of state j+1`` when
state j+1 was committed before the read began. Stale beyond the bound when that exceeds the
namespace's allowed staleness. A read matching no committed state is counted apart
(``unmatched``): the cache served something the source never contained.

Lost invalidations: after the writers stop and the longest bound has passed, every worker reads
every object once more; each final read that does not show the object's last state is one.
"""

import bisect
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Write:
    obj: str
    state: str
    at: float


@dataclass(frozen=True)
class Read:
    obj: str
    state: str
    start: float
    end: float
    final: bool = False


@dataclass
class _History:
    times: list[float] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def add(self, write: Write) -> None:
        self.times.append(write.at)
        self.states.append(write.state)


def build_histories(writes) -> dict[str, _History]:
    """Return each object's history ordered by commit time."""
    histories: dict[str, _History] = {}
    for write in sorted(writes, key=lambda w: w.at):
        histories.setdefault(write.obj, _History()).add(write)
    return histories


def staleness(history: _History, read: Read) -> float | None:
    """Return how long the state ``read`` saw had been outdated when it began (None: unmatched)."""
    committed = bisect.bisect_right(history.times, read.end)  # states committed by the read's end
    seen = None
    for index in range(committed - 1, -1, -1):
        if history.states[index] == read.state:
            seen = index
            break
    if seen is None:
        # Committed a moment before the writer could note the time: accept a later equal state.
        if read.state in history.states[committed:]:
            return 0.0
        return None
    following = seen + 1
    if following < len(history.times) and history.times[following] < read.start:
        return read.start - history.times[following]
    return 0.0


def percentile(values: list[float], q: float) -> float | None:
    """Return the q-quantile (0..1) by the nearest-rank method, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def check(writes, reads, bounds: dict[str, float]) -> dict:
    """Return the checker's figures; ``bounds`` maps object -> allowed staleness in seconds."""
    histories = build_histories(writes)
    stale_values: list[float] = []
    beyond: list[dict] = []
    unmatched = lost = checked = 0
    lost_objects: dict[str, int] = {}
    unmatched_examples: list[dict] = []
    for read in reads:
        history = histories.get(read.obj)
        late = staleness(history, read) if history is not None else None
        if read.final:
            if history is None or read.state != history.states[-1]:
                lost += 1
                lost_objects[read.obj] = lost_objects.get(read.obj, 0) + 1
            continue
        checked += 1
        if late is None:
            unmatched += 1
            if len(unmatched_examples) < 10:
                unmatched_examples.append({"obj": read.obj, "state": read.state, "start": read.start})
            continue
        if late > 0:
            stale_values.append(late)
            if late > bounds[read.obj]:
                beyond.append(
                    {"obj": read.obj, "staleness_s": round(late, 3), "bound_s": bounds[read.obj], "at": read.start}
                )
    return {
        "reads_checked": checked,
        "stale_reads": len(stale_values),
        "stale_beyond_bound": len(beyond),
        "unmatched_reads": unmatched,
        "lost_invalidations": lost,
        "max_staleness_s": round(max(stale_values), 3) if stale_values else 0.0,
        "staleness_p50_s": _rounded(percentile(stale_values, 0.5)),
        "staleness_p99_s": _rounded(percentile(stale_values, 0.99)),
        "examples": sorted(beyond, key=lambda b: -b["staleness_s"])[:10],
        "lost_objects": lost_objects,
        "unmatched_examples": unmatched_examples,
    }


def _rounded(value: float | None) -> float:
    return 0.0 if value is None else round(value, 3)
