"""API routes of the trackers app: read endpoints and the ingest endpoint."""

from trackers.api_urls import urlpatterns as read_patterns
from trackers.ingest_urls import urlpatterns as ingest_patterns

urlpatterns = [*read_patterns, *ingest_patterns]
