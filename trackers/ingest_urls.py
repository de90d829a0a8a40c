"""Location ingest endpoint."""

from django.urls import path

from trackers.ingest_views import LocationReportIngestApi

urlpatterns = [
    path("location-reports/", LocationReportIngestApi.as_view(), name="location-reports"),
]
