"""System checks of the cache engine's configuration (stable ids, each with a hint).

- cachecore.E001: a watched model names a namespace that is not registered.
- cachecore.E002: a prewarmer is registered for a namespace that is not registered.
- cachecore.E003: a debounce or max-wait setting is negative.
- cachecore.W001: CACHE_ENABLED is off (every value is computed on every request).
- cachecore.W002: the max wait is shorter than the debounce delay (the max wait wins).
- cachecore.E004: a watch with a scope function names a namespace declared without ``scope=``
  (its scoped invalidations would retire nothing: readers and the bump use different keys).
- cachecore.W003: a watched model's default manager does not hand out InvalidatingQuerySets, so
  its queryset ``update()``/``bulk_create()``/``bulk_update()`` record no invalidation (outside
  PostgreSQL, whose triggers still record them whole).
"""

from django.core import checks

from cachecore import engine_checks, invalidation, prewarm
from cachecore.conf import settings
from cachecore.namespaces import all_namespaces


def register_checks() -> None:
    """Register the engine's checks (called from CachecoreConfig.ready())."""
    checks.register(check_watched_namespaces, checks.Tags.caches)
    checks.register(check_watch_scopes, checks.Tags.caches)
    checks.register(check_watched_managers, checks.Tags.caches)
    checks.register(check_prewarmers, checks.Tags.caches)
    checks.register(check_settings, checks.Tags.caches)
    checks.register(engine_checks.check_engine_settings, checks.Tags.caches)


def _known() -> set[str]:
    return {ns.name for ns in all_namespaces()}


def check_watched_namespaces(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report watched models whose namespaces are not registered."""
    known = _known()
    errors = []
    for model, watches in invalidation.watched_models().items():
        for name in sorted({n for w in watches for n in w.namespaces} - known):
            errors.append(
                checks.Error(
                    f"{model._meta.label} is watched for namespace {name!r}, which is not registered.",
                    hint="Declare it with register_namespace() in a module imported before checks run "
                    "(e.g. the app's caching module, imported from its AppConfig.ready()).",
                    obj=model,
                    id="cachecore.E001",
                )
            )
    return errors


def check_watch_scopes(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report watches whose scope function targets a namespace kept without scopes."""
    from cachecore.namespaces import get_namespace

    errors = []
    known = _known()
    for model, watches in invalidation.watched_models().items():
        for watch in watches:
            if watch.scope is None:
                continue
            for name in watch.namespaces:
                if name in known and get_namespace(name).scope is None:
                    errors.append(
                        checks.Error(
                            f"{model._meta.label} is watched for namespace {name!r} with a scope function, "
                            "but the namespace is declared without scope=.",
                            hint="Declare the namespace with scope=<params -> scope> returning the same scope "
                            "strings, or watch it without a scope function (whole-namespace invalidation).",
                            obj=model,
                            id="cachecore.E004",
                        )
                    )
    return errors


def check_watched_managers(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report watched models whose default manager's querysets do not record their bulk writes."""
    warnings = []
    for model in invalidation.watched_models():
        queryset_class = getattr(model._default_manager, "_queryset_class", None)
        if queryset_class is None or issubclass(queryset_class, invalidation.InvalidatingQuerySet):
            continue
        warnings.append(
            checks.Warning(
                f"{model._meta.label} is watched, but its default manager's querysets are {queryset_class.__name__}: "
                "their update(), bulk_create() and bulk_update() record no invalidation.",
                hint="Give the model `objects = InvalidatingManager()` (from cachecore.api), or wrap such writes "
                "in bulk_invalidation(Model).",
                obj=model,
                id="cachecore.W003",
            )
        )
    return warnings


def check_prewarmers(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report prewarmers registered for unknown namespaces."""
    known = _known()
    return [
        checks.Error(
            f"A prewarmer is registered for namespace {name!r}, which is not registered.",
            hint="Register the namespace with register_namespace() or fix the @prewarmer(...) name.",
            obj=fn,
            id="cachecore.E002",
        )
        for name, fn in prewarm.registered().items()
        if name not in known
    ]


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Report invalid or surprising invalidation settings and the rollback switch."""
    messages = []
    delay, max_wait = settings.CACHECORE_DEBOUNCE_SECONDS, settings.CACHECORE_MAX_WAIT_SECONDS
    for name, value in (("CACHECORE_DEBOUNCE_SECONDS", delay), ("CACHECORE_MAX_WAIT_SECONDS", max_wait)):
        if value < 0:
            messages.append(
                checks.Error(f"{name} is negative ({value}).", hint="Use 0 or more seconds.", id="cachecore.E003")
            )
    if 0 <= max_wait < delay:
        messages.append(
            checks.Warning(
                f"CACHECORE_MAX_WAIT_SECONDS ({max_wait}) is shorter than CACHECORE_DEBOUNCE_SECONDS ({delay}).",
                hint="Invalidations will fire after the max wait; lower the debounce or raise the max wait.",
                id="cachecore.W002",
            )
        )
    if not settings.CACHE_ENABLED:
        messages.append(
            checks.Warning(
                "CACHE_ENABLED is off: every value is computed on every request.",
                hint="This is the rollback switch; set CACHE_ENABLED=1 to cache again.",
                id="cachecore.W001",
            )
        )
    return messages
