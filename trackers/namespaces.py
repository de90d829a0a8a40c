"""Names of the cachecore namespaces of the trackers app (declared in trackers/caching.py)."""

REFERENCE_TABLES = ("clients", "brands", "production_runs", "storage_locations", "delivery_locations", "images")
REFERENCE = {table: f"trackers.ref.{table}" for table in REFERENCE_TABLES}
# Derived counts merged into a reference list when it is served (seed 001): brand ->
# production_run_count, run -> tracker_count. Their own namespaces, so a tracker write
# recomputes one GROUP BY instead of the whole serialized list.
COUNTED_TABLES = {"brands": "production_run_count", "production_runs": "tracker_count"}
COUNTS = {table: f"trackers.counts.{table}" for table in COUNTED_TABLES}
TRACKER_LIST = "trackers.list"
TRACKER_STATS = "trackers.stats"
USER_SCOPE = "trackers.user_scope"
SCOPE_SUMMARY = "trackers.scope_summary"
TRACKER_DETAIL = "trackers.detail"
