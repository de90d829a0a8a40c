"""Reads that bypass django-cachalot, for every compute() whose result our tiers cache.

cachalot stamps a query result after the query ran, so a read overlapping a write can be cached
stale until the next write to the table. A value we cache (with generations that guard exactly
that race) must therefore come from the database itself, never from cachalot's cache.
"""

from contextlib import contextmanager

from cachalot.api import cachalot_disabled
from cachalot.api import invalidate as cachalot_invalidate
from cachalot.settings import cachalot_settings


@contextmanager
def uncached_reads():
    """Run the block with cachalot disabled in this thread (restored even when the block raises)."""
    # cachalot_disabled() restores the previous state only on a clean exit; close it explicitly.
    disabled = cachalot_disabled()
    disabled.__enter__()
    try:
        yield
    finally:
        disabled.__exit__(None, None, None)


def cachalot_tables() -> frozenset[str]:
    """Return the tables cachalot caches (CACHALOT_ONLY_CACHABLE_TABLES; empty when disabled)."""
    if not cachalot_settings.CACHALOT_ENABLED:
        return frozenset()
    return frozenset(cachalot_settings.CACHALOT_ONLY_CACHABLE_TABLES or ())


def invalidate_cachalot(tables) -> list[str]:
    """Invalidate cachalot's cached queries of those ``tables`` it caches; return them."""
    cached = sorted(set(tables) & cachalot_tables())
    if cached:
        cachalot_invalidate(*cached)
    return cached
