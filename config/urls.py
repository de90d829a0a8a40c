"""Root URL configuration: each app owns its own urls module."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from config.views import SchemaDocsView, api_root

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/", api_root, name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/docs/", SchemaDocsView.as_view(url_name="schema"), name="schema-docs"),
    path("api/", include("trackers.urls")),
    path("api/content-planning/", include("contentplanning.urls")),
    path("", include("monitoring.urls")),
    path("", include("trackers.page_urls")),
]
