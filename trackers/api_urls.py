"""Read endpoints of the trackers app: reference data, tracker list, stats, scope."""

from django.urls import path

from trackers import views

urlpatterns = [
    path("clients/", views.ClientListApi.as_view(), name="clients"),
    path("brands/", views.BrandListApi.as_view(), name="brands"),
    path("production-runs/", views.ProductionRunListApi.as_view(), name="production-runs"),
    path("storage-locations/", views.StorageLocationListApi.as_view(), name="storage-locations"),
    path("delivery-locations/", views.DeliveryLocationListApi.as_view(), name="delivery-locations"),
    path("images/", views.ImageListApi.as_view(), name="images"),
    path("trackers/", views.TrackerListApi.as_view(), name="trackers"),
    path("trackers/stats/", views.TrackerStatsApi.as_view(), name="tracker-stats"),
    path("trackers/<str:tracker_id>/", views.TrackerDetailApi.as_view(), name="tracker-detail"),
    path("me/scope/", views.MyScopeApi.as_view(), name="me-scope"),
]
