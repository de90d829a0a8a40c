"""What a write to tracker state must refresh: the dashboard's list and statistics."""

from cachecore.api import invalidate
from trackers.namespaces import TRACKER_LIST, TRACKER_STATS

DASHBOARD_NAMESPACES = (TRACKER_LIST, TRACKER_STATS)


def invalidate_dashboard(*, source: str) -> None:
    """Schedule (commit-aware, debounced) the refresh of the tracker list and statistics."""
    for namespace in DASHBOARD_NAMESPACES:
        invalidate(namespace, source=source)
