"""Setting-driven hooks: how the engine's long-running commands reach the project without importing it.

cachecore never imports the other apps. A project that wants, say, a command's own /metrics
names a callable in ``CACHECORE_LONG_RUNNING_HOOK``; ``long_running_started(role)`` calls it once
when a long-running command (``cache_relay``) starts.
"""

from django.utils.module_loading import import_string

from cachecore import conf


def long_running_started(role: str):
    """Call the configured hook for a long-running command named ``role``; return its result (None: no hook)."""
    path = conf.settings.CACHECORE_LONG_RUNNING_HOOK
    if not path:
        return None
    return import_string(path)(role)
