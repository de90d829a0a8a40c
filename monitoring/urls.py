"""URL routes of the monitoring app, included at the root (see docs/monitoring.md)."""

from django.urls import path

from monitoring import views

urlpatterns = [
    path("api/health", views.HealthApi.as_view(), name="health"),
    path("metrics", views.metrics_view, name="metrics"),
    path("monitoring/", views.monitoring_page, name="monitoring"),
    path("monitoring/history/", views.monitoring_history, name="monitoring-history"),
]
