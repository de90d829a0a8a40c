"""Test hooks: put the engine back in a known state between tests."""

_reset_hooks: list = []


def register_reset(fn) -> None:
    """Call ``fn()`` on every reset() (e.g. the invalidation side's debouncer)."""
    if fn not in _reset_hooks:
        _reset_hooks.append(fn)


def reset() -> None:
    """Clear L1, counters, breakers, flights, pending access counts and registered extras.

    Also switches the access flusher to manual mode, so tests call ``access.flush()`` and no
    background thread writes to the test database.
    """
    from cachecore import access, generations, replicas, singleflight, stats, tiers

    tiers.reset()
    replicas.reset()
    generations.reset()
    stats.reset()
    singleflight.reset()
    access.reset()
    for fn in list(_reset_hooks):
        fn()
