"""System checks of the engine's settings (registered from checks.register_checks())."""

from django.conf import settings as django_settings
from django.core import checks

from cachecore.conf import settings


def check_engine_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report engine settings that cannot work (wrong cache alias, negative bounds or times)."""
    errors = []
    alias = settings.CACHECORE_CACHE_ALIAS
    if alias not in django_settings.CACHES:
        errors.append(
            checks.Error(
                f"CACHECORE_CACHE_ALIAS {alias!r} is not a key of CACHES.",
                hint=f"Use one of: {', '.join(django_settings.CACHES)}.",
                id="cachecore.E101",
            )
        )
    for name in (
        "CACHECORE_L1_MAX_ENTRIES",
        "CACHECORE_L1_MAX_BYTES",
        "CACHECORE_LOCK_WAIT",
        "CACHECORE_BREAKER_COOLDOWN",
    ):
        if getattr(settings, name) < 0:
            errors.append(checks.Error(f"{name} is negative.", hint="Use 0 or more.", id="cachecore.E102"))
    for name in ("CACHECORE_LOCK_TIMEOUT", "CACHECORE_BREAKER_THRESHOLD", "CACHECORE_ACCESS_BATCH_SIZE"):
        if getattr(settings, name) <= 0:
            errors.append(checks.Error(f"{name} must be positive.", hint="Use a value above 0.", id="cachecore.E103"))
    return errors + _replica_errors()


def _replica_errors() -> list[checks.CheckMessage]:
    errors = []
    for alias in settings.CACHECORE_REPLICA_DATABASES:
        if alias == "default" or alias not in django_settings.DATABASES:
            errors.append(
                checks.Error(
                    f"CACHECORE_REPLICA_DATABASES names {alias!r}, which is not a replica alias of DATABASES.",
                    hint="Set DATABASE_REPLICA_URLS; the settings derive the aliases from it.",
                    id="cachecore.E104",
                )
            )
    if settings.CACHECORE_REPLICA_MAX_WAIT < 0:
        errors.append(
            checks.Error("CACHECORE_REPLICA_MAX_WAIT is negative.", hint="Use 0 or more.", id="cachecore.E102")
        )
    return errors
