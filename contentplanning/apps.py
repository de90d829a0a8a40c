from django.apps import AppConfig
from django.core.signals import setting_changed


class ContentplanningConfig(AppConfig):
    name = "contentplanning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # No database access here: the namespace declaration, receivers, checks and the prewarmer only.
        from contentplanning import caching, checks, conf, prewarm, providers  # noqa: F401 - prewarm registers itself

        caching.register_signal_handlers()
        checks.register_checks()
        setting_changed.connect(conf.reload_on_change, dispatch_uid="contentplanning.conf")
        setting_changed.connect(providers.reset_on_change, dispatch_uid="contentplanning.providers")
