"""Server-rendered pages of the trackers app: the tracker dashboard shell.

The view renders only the shell and its configuration; the page loads its data from the JSON API
(``/api/me/scope/``, reference lists, ``/api/trackers/`` and its stats), so every datum the page
shows is scoped and cached by the API, never by this view.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.templatetags.static import static
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import RedirectView, TemplateView

from trackers.conf import conf
from trackers.models import TrackerStatus

# The API endpoints the page calls, by their role in the page -> URL name (trackers/api_urls.py).
API_ENDPOINTS = {
    "scope": "me-scope",
    "brands": "brands",
    "productionRuns": "production-runs",
    "trackers": "trackers",
    "stats": "tracker-stats",
}
PAGE_SIZE_CHOICES = (25, 50, 100, 200)
SEARCH_DEBOUNCE_MS = 300


def api_urls() -> dict[str, str]:
    """Return the API paths the dashboard calls, keyed by their role in the page."""
    urls = {key: reverse(name) for key, name in API_ENDPOINTS.items()}
    urls["trackerDetail"] = reverse("tracker-detail", args=["0"]).replace("/0/", "/{id}/")  # a template
    return urls


def page_size_choices() -> list[int]:
    """Return the page sizes offered, always including the default and never above the cap."""
    sizes = {size for size in PAGE_SIZE_CHOICES if size <= conf.MAX_PAGE_SIZE} | {conf.PAGE_SIZE}
    return sorted(sizes)


def dashboard_config() -> dict:
    """Return the configuration the dashboard script reads from the page."""
    return {
        "api": api_urls(),
        "defaultPageSize": conf.PAGE_SIZE,
        "pageSizes": page_size_choices(),
        "searchDebounceMs": SEARCH_DEBOUNCE_MS,
        "staleAfterHours": conf.STALE_AFTER_HOURS,
        "statuses": [{"value": value, "label": label} for value, label in TrackerStatus.choices],
        "mapOutline": static("trackers/europe-outline.json"),  # shipped with the project, no tiles
    }


# never_cache: the shell names the logged-in user; after logout, Back must not show it again.
@method_decorator(never_cache, name="dispatch")
class DashboardView(LoginRequiredMixin, TemplateView):
    """Render the tracker dashboard shell for a logged-in user."""

    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        config = dashboard_config()
        return super().get_context_data(
            dashboard_config=config,
            statuses=config["statuses"],
            page_sizes=config["pageSizes"],
            default_page_size=config["defaultPageSize"],
            **kwargs,
        )


class HomeView(RedirectView):
    """Send the site root to the dashboard."""

    pattern_name = "dashboard"
    permanent = False
    query_string = True
