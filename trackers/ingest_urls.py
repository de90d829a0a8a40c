"""Location ingest endpoint."""

urlpatterns = []
