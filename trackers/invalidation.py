"""What a write to tracker state must refresh: the dashboard's list, statistics and tracker details."""

from cachecore.api import invalidate
from trackers.namespaces import TRACKER_DETAIL, TRACKER_LIST, TRACKER_STATS

DASHBOARD_NAMESPACES = (TRACKER_LIST, TRACKER_STATS, TRACKER_DETAIL)


def invalidate_dashboard(*, source: str) -> None:
    """Schedule (commit-aware, debounced) the refresh of the tracker list, statistics and details."""
    for namespace in DASHBOARD_NAMESPACES:
        invalidate(namespace, source=source)
