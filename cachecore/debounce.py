"""Coalesce pending invalidations per (namespace, scope): a trailing delay bounded by a max wait.

Pure functions over outbox rows (no I/O). A burst of writes to one namespace becomes one
invalidation ``delay`` seconds after the last write, but never later than ``max_wait`` seconds
after the first one, so a continuous stream of writes cannot postpone an invalidation forever.
Times are the rows' commit-side timestamps (``created_at``), so the bound holds whichever process
applies them, and a relay that starts late applies at once what is already overdue.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str | None]  # (namespace, scope); scope None = the whole namespace
# timing(namespace) -> (trailing delay, max wait), both in seconds.
TimingFn = Callable[[str], tuple[float, float]]


@dataclass
class Item:
    """One outbox row, reduced to what planning needs: its id, time, source and the keys it invalidates."""

    row_id: int
    created: float  # a POSIX timestamp
    source: str
    keys: tuple[Key, ...]


@dataclass
class Plan:
    """What to apply now: the due keys (with their sources), the rows they cover, and when to look again."""

    keys: dict[Key, list[str]] = field(default_factory=dict)
    rows: dict[int, tuple[Key, ...]] = field(default_factory=dict)
    next_due: float | None = None  # the earliest due time among the keys left waiting


def due_time(first: float, last: float, delay: float, max_wait: float) -> float:
    """Return when a key first written at ``first`` and last at ``last`` must be applied."""
    return min(last + max(delay, 0.0), first + max(max_wait, 0.0))


def plan(items: Iterable[Item], timing: TimingFn, now: float, *, force: bool = False) -> Plan:
    """Decide which keys to apply at ``now`` (all of them with ``force``) and which rows that covers.

    A row covering several keys (a table written by raw SQL) is applied whole as soon as any of
    its keys is due: applying early is always safe, and the row can then be deleted.
    """
    items = list(items)
    spans: dict[Key, list[float]] = {}
    for item in items:
        for key in item.keys:
            span = spans.setdefault(key, [item.created, item.created])
            span[0], span[1] = min(span[0], item.created), max(span[1], item.created)
    due = {key for key, (first, last) in spans.items() if force or due_time(first, last, *timing(key[0])) <= now}
    result = Plan()
    for item in items:
        if not item.keys or due.intersection(item.keys):
            due.update(item.keys)
    for item in items:
        if not item.keys or due.issuperset(item.keys):
            result.rows[item.row_id] = item.keys
            for key in item.keys:
                sources = result.keys.setdefault(key, [])
                if item.source not in sources:
                    sources.append(item.source)
    waiting = [due_time(first, last, *timing(key[0])) for key, (first, last) in spans.items() if key not in due]
    result.next_due = min(waiting, default=None)
    return result


def rows_to_delete(plan_rows: Mapping[int, tuple[Key, ...]], failed: set[Key]) -> list[int]:
    """Return the ids of planned rows none of whose keys failed to apply."""
    return [row_id for row_id, keys in plan_rows.items() if not failed.intersection(keys)]
