"""URL routes of this app (see docs/contentplanning.md). Trailing slashes are optional."""

from django.urls import re_path

from contentplanning import views

PREFIX = r"^calendar-generation/"

urlpatterns = [
    re_path(
        PREFIX + r"comprehensive-user-data/?$", views.ComprehensiveUserDataApi.as_view(), name="comprehensive-user-data"
    ),
    re_path(PREFIX + r"strategy-draft/?$", views.StrategyDraftApi.as_view(), name="strategy-draft"),
    re_path(PREFIX + r"calendar-draft/?$", views.CalendarDraftApi.as_view(), name="calendar-draft"),
    re_path(PREFIX + r"wizard/(?P<step>[^/]+)/?$", views.CalendarWizardStepApi.as_view(), name="calendar-wizard-step"),
    re_path(PREFIX + r"framework/?$", views.FrameworkApi.as_view(), name="content-framework"),
    re_path(PREFIX + r"cache/stats/?$", views.CacheStatsApi.as_view(), name="user-data-cache-stats"),
    re_path(
        PREFIX + r"cache/invalidate/(?P<user_id>[^/]+)/?$",
        views.CacheInvalidateApi.as_view(),
        name="user-data-cache-invalidate",
    ),
    re_path(PREFIX + r"cache/cleanup/?$", views.CacheCleanupApi.as_view(), name="user-data-cache-cleanup"),
]
