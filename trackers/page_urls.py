"""Routes of the trackers app's server-rendered pages (see docs/dashboard.md)."""

from django.urls import path

from trackers.pages import DashboardView, HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
]
