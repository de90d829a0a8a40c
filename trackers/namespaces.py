"""Names of the cachecore namespaces of the trackers app (declared in trackers/caching.py)."""

REFERENCE_TABLES = ("clients", "brands", "production_runs", "storage_locations", "delivery_locations", "images")
REFERENCE = {table: f"trackers.ref.{table}" for table in REFERENCE_TABLES}
TRACKER_LIST = "trackers.list"
TRACKER_STATS = "trackers.stats"
USER_SCOPE = "trackers.user_scope"
SCOPE_SUMMARY = "trackers.scope_summary"
# Stored response bodies of reference lists, per table version, scope and brand filter.
REFERENCE_BODY = "trackers.ref_body"
