from django.apps import AppConfig


class TrackersConfig(AppConfig):
    name = "trackers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Declaring namespaces and prewarmers touches no database (DESIGN.md: nothing in ready()).
        from trackers import caching

        caching.register_signal_handlers()
