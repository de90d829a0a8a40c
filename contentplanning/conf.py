"""Settings of the content planning app, read once and reloaded when a test overrides them.

Defaults (see docs/contentplanning.md):

- ``AI_ANALYSIS_URL`` (empty): empty selects the local deterministic provider; an http(s) URL
  selects the HTTP provider, which POSTs the analysis context as JSON to it.
- ``AI_ANALYSIS_TIMEOUT`` (10.0 s): socket timeout of the HTTP provider.
- ``AI_ANALYSIS_LATENCY`` (0.0 s): simulated latency of the local provider (``make run`` uses 3).
- ``CONTENTPLANNING_DEGRADED_TTL`` (60 s): how long a result without AI analysis is cached.
- ``CONTENTPLANNING_PREWARM_USERS`` (50): how many recently active users ``prewarm_cache`` warms.
- ``CONTENTPLANNING_PREWARM_WORKERS`` (8): threads warming them at once (the AI call waits on I/O).
"""

from dataclasses import dataclass

from django.conf import settings

# The cachecore namespace of comprehensive user data and its tier TTLs (DESIGN.md: L1 5 min,
# L2 and L3 1 h). Constants, not settings: the contract promises these lifetimes.
NAMESPACE = "contentplanning.user_data"
L1_TTL = 5 * 60
L2_TTL = 60 * 60
L3_TTL = 60 * 60

_SETTINGS = {
    "AI_ANALYSIS_URL": ("ai_analysis_url", ""),
    "AI_ANALYSIS_TIMEOUT": ("ai_analysis_timeout", 10.0),
    "AI_ANALYSIS_LATENCY": ("ai_analysis_latency", 0.0),
    "CONTENTPLANNING_DEGRADED_TTL": ("degraded_ttl", 60),
    "CONTENTPLANNING_PREWARM_USERS": ("prewarm_users", 50),
    "CONTENTPLANNING_PREWARM_WORKERS": ("prewarm_workers", 8),
}


@dataclass(frozen=True)
class ContentPlanningSettings:
    ai_analysis_url: str
    ai_analysis_timeout: float
    ai_analysis_latency: float
    degraded_ttl: int
    prewarm_users: int
    prewarm_workers: int


_current: ContentPlanningSettings | None = None


def app_settings() -> ContentPlanningSettings:
    """Return the app's settings, read from django.conf.settings once."""
    global _current
    if _current is None:
        _current = ContentPlanningSettings(
            **{field: getattr(settings, name, default) for name, (field, default) in _SETTINGS.items()}
        )
    return _current


def reload_on_change(*, setting, **kwargs) -> None:
    """Forget the cached settings when a test overrides one of ours (setting_changed receiver)."""
    global _current
    if setting in _SETTINGS:
        _current = None
