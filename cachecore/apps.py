from django.apps import AppConfig


class CachecoreConfig(AppConfig):
    name = "cachecore"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Cache engine"

    def ready(self):
        # Connects receivers and checks only: no database or Redis access here (DESIGN.md).
        from cachecore import checks, signals

        signals.register_signal_handlers()
        checks.register_checks()
