from django.apps import AppConfig
from django.core.signals import setting_changed


class ContentplanningConfig(AppConfig):
    name = "contentplanning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # No database access here: the namespace declaration, receivers and the prewarmer only.
        from contentplanning import caching, conf, prewarm  # noqa: F401 - prewarm registers itself

        caching.register_signal_handlers()
        setting_changed.connect(conf.reload_on_change, dispatch_uid="contentplanning.conf")
