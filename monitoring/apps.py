from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Monitoring"

    def ready(self):
        # No database or network access here: connect receivers, register hooks, note the start.
        from django.core import checks as django_checks
        from django.core.signals import setting_changed
        from django.db.backends.signals import connection_created

        from monitoring import cache_observer, checks, conf, health, query_timing, snapshots  # noqa: F401

        setting_changed.connect(conf.reload_settings, dispatch_uid="monitoring.conf.reload")
        conf.on_reload(query_timing.refresh_enabled)
        query_timing.refresh_enabled()
        connection_created.connect(query_timing.install_wrapper, dispatch_uid="monitoring.query_timing")
        query_timing.install_on_open_connections()
        cache_observer.register()
        health.mark_started()
        snapshots.register_exit_snapshot()
        django_checks.register(checks.check_monitoring_settings)
