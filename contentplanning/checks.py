"""System checks of the content-planning settings (stable ids, each with a hint).

- contentplanning.E001: AI_ANALYSIS_URL is set but is not an http(s) URL.
- contentplanning.E002: AI_ANALYSIS_TIMEOUT is not positive.
- contentplanning.E003: AI_ANALYSIS_LATENCY is negative.
- contentplanning.E004: CONTENTPLANNING_DEGRADED_TTL is not positive.
- contentplanning.E005: CONTENTPLANNING_PREWARM_USERS or CONTENTPLANNING_PREWARM_WORKERS is not positive.
"""

from django.core import checks

from contentplanning.conf import app_settings


def register_checks() -> None:
    """Register the app's checks (called from ContentplanningConfig.ready())."""
    checks.register(check_settings)


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report content-planning settings that cannot work."""
    conf = app_settings()
    errors = []
    if conf.ai_analysis_url and not conf.ai_analysis_url.startswith(("http://", "https://")):
        errors.append(
            checks.Error(
                f"AI_ANALYSIS_URL must be an http(s) URL (got {conf.ai_analysis_url!r}).",
                hint="Set it to the analysis service's URL, or leave it empty for the local provider.",
                id="contentplanning.E001",
            )
        )
    if conf.ai_analysis_timeout <= 0:
        errors.append(
            checks.Error(
                f"AI_ANALYSIS_TIMEOUT must be a positive number of seconds (got {conf.ai_analysis_timeout}).",
                hint="A few seconds is typical; the request waits at most this long per socket operation.",
                id="contentplanning.E002",
            )
        )
    if conf.ai_analysis_latency < 0:
        errors.append(
            checks.Error(
                f"AI_ANALYSIS_LATENCY must be >= 0 (got {conf.ai_analysis_latency}).",
                hint="0 in tests; 3 simulates a remote model in make run.",
                id="contentplanning.E003",
            )
        )
    if conf.degraded_ttl <= 0:
        errors.append(
            checks.Error(
                f"CONTENTPLANNING_DEGRADED_TTL must be a positive number of seconds (got {conf.degraded_ttl}).",
                hint="60 retries the AI provider about once a minute per user while it is down.",
                id="contentplanning.E004",
            )
        )
    if conf.prewarm_users <= 0 or conf.prewarm_workers <= 0:
        errors.append(
            checks.Error(
                "CONTENTPLANNING_PREWARM_USERS and CONTENTPLANNING_PREWARM_WORKERS must be positive "
                f"(got {conf.prewarm_users} and {conf.prewarm_workers}).",
                hint="Defaults: 50 users, 8 workers (1 warms one user at a time).",
                id="contentplanning.E005",
            )
        )
    return errors
