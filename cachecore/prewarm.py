"""A registry of prewarmers: functions that fill one namespace ahead of the first request.

A prewarmer takes an optional progress callback ``progress(done, total=None)`` and returns the
number of entries it warmed. ``run_prewarmers()`` runs them one by one, times each, and keeps
going after a failure so one broken namespace does not leave the others cold.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connections

from cachecore.cachalot import uncached_reads

logger = logging.getLogger(__name__)

Progress = Callable[..., None]
Prewarmer = Callable[..., int]

_registry: dict[str, Prewarmer] = {}


class UnknownPrewarmer(LookupError):
    """No prewarmer is registered for a requested namespace."""


@dataclass
class PrewarmResult:
    """What one prewarmer did."""

    namespace: str
    entries: int = 0
    seconds: float = 0.0
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def prewarmer(namespace: str):
    """Register the decorated function as the prewarmer of ``namespace``."""

    def register(fn: Prewarmer) -> Prewarmer:
        existing = _registry.get(namespace)
        if existing is not None and _where(existing) != _where(fn):
            raise ValueError(f"Namespace {namespace!r} already has a prewarmer: {_where(existing)}")
        _registry[namespace] = fn
        return fn

    return register


def _where(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def unregister(namespace: str) -> None:
    """Forget the prewarmer of ``namespace`` (tests)."""
    _registry.pop(namespace, None)


def registered() -> dict[str, Prewarmer]:
    """Return namespace -> prewarmer, sorted by namespace."""
    return dict(sorted(_registry.items()))


def select(namespaces: Iterable[str] | None = None) -> dict[str, Prewarmer]:
    """Return the prewarmers to run: all, or the named ones (UnknownPrewarmer names any missing)."""
    available = registered()
    if not namespaces:
        return available
    wanted = list(dict.fromkeys(namespaces))
    missing = [name for name in wanted if name not in available]
    if missing:
        known = ", ".join(available) or "none registered"
        raise UnknownPrewarmer(f"No prewarmer for namespace(s): {', '.join(missing)}. Known: {known}.")
    return {name: available[name] for name in wanted}


def run_prewarmers(
    namespaces: Iterable[str] | None = None,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_result: Callable[[PrewarmResult], None] | None = None,
    clock=time.perf_counter,
) -> list[PrewarmResult]:
    """Run the selected prewarmers in order; return one result each (failures included)."""
    results = []
    for name, fn in select(namespaces).items():
        if on_start is not None:
            on_start(name)
        result = _run_one(name, fn, progress, clock)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _run_one(name: str, fn: Prewarmer, progress, clock) -> PrewarmResult:
    def report(done: int, total: int | None = None) -> None:
        if progress is not None:
            progress(name, done, total)

    started = clock()
    result = PrewarmResult(name)
    try:
        # The values we cache must come from the database, not from cachalot's query cache.
        with uncached_reads():
            result.entries = int(fn(report) or 0)
    except Exception as exc:
        logger.exception("cachecore: prewarming %s failed", name)
        result.error = exc
    result.seconds = clock() - started
    return result


def start_background() -> threading.Thread:
    """Run every prewarmer once in a daemon thread (prewarm-on-start); return the thread."""
    thread = threading.Thread(target=_background, name="cachecore-prewarm", daemon=True)
    thread.start()
    return thread


def _background() -> None:
    try:
        results = run_prewarmers()
        failed = [r.namespace for r in results if not r.ok]
        logger.info(
            "cachecore: prewarmed %d namespace(s), %d entries%s",
            len(results),
            sum(r.entries for r in results),
            f"; failed: {', '.join(failed)}" if failed else "",
        )
    finally:
        connections.close_all()
