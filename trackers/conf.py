"""Settings of the trackers app, read through one lazy object with documented defaults.

Values come from ``django.conf.settings`` (which reads the environment once, in
config/settings.py) and are re-read when a test changes them with ``override_settings``.
"""

from django.conf import settings
from django.core.signals import setting_changed

# name -> default; documented in docs/trackers-api.md ("Settings") and, for the ingest and the
# state sync, in docs/trackers-ingest-sync.md.
DEFAULTS = {
    # A user whose scope holds more trackers than this gets lazy_mode=true from /api/me/scope/.
    "TRACKERS_LAZY_THRESHOLD": 500,
    # Default and maximum page size of GET /api/trackers/.
    "TRACKERS_PAGE_SIZE": 50,
    "TRACKERS_MAX_PAGE_SIZE": 500,
    # Largest batch POST /api/location-reports/ accepts (used by the ingest).
    "TRACKERS_INGEST_MAX_BATCH": 1000,
    # TTL of cached tracker-list pages and statistics (they are also invalidated by events).
    "TRACKERS_LIST_TTL": 300,
    "TRACKERS_STATS_TTL": 300,
    # A tracker whose last report is older than this counts as "no report" in the statistics.
    "TRACKERS_STALE_AFTER_HOURS": 24,
    # Ingest: how far in the future a report timestamp may be (device clock skew), in seconds.
    "TRACKERS_INGEST_FUTURE_TOLERANCE_SECONDS": 300,
    # State sync: no report for this long turns in_transit into lost and in_storage into inactive.
    "TRACKERS_LOST_AFTER_HOURS": 48,
    # State sync, streamed (SQLite): default number of history rows read per batch (one transaction each).
    "TRACKERS_SYNC_BATCH_SIZE": 5000,
    # State sync, set-based (PostgreSQL): default history ids folded per statement (one transaction each).
    "TRACKERS_SYNC_SET_BATCH_SIZE": 1_000_000,
}


class TrackersSettings:
    """Attribute access to the trackers settings, cached until a setting changes."""

    def __init__(self):
        self._cache: dict[str, object] = {}

    def __getattr__(self, attr):
        name = f"TRACKERS_{attr}"
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown trackers setting {attr!r}")
        if name not in self._cache:
            self._cache[name] = getattr(settings, name, DEFAULTS[name])
        return self._cache[name]

    def reload(self) -> None:
        """Forget the cached values so the next access reads settings again."""
        self._cache.clear()


conf = TrackersSettings()


def _reload(*, setting, **kwargs):
    if setting in DEFAULTS:
        conf.reload()


setting_changed.connect(_reload)
