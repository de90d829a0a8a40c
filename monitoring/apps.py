from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Monitoring"

    def ready(self):
        import atexit

        # No database or network access here: connect receivers, register hooks, note the start.
        from django.core import checks as django_checks
        from django.core.signals import request_finished, request_started, setting_changed
        from django.db.backends.signals import connection_created

        from cachecore.api import set_deployment_source
        from monitoring import (
            cache_observer,
            checks,
            conf,
            deployment,
            health,
            performance,
            process_metrics,
            query_timing,
            shared_stats,
            snapshots,
        )

        setting_changed.connect(conf.reload_settings, dispatch_uid="monitoring.conf.reload")
        conf.on_reload(query_timing.refresh_enabled)
        query_timing.refresh_enabled()
        connection_created.connect(query_timing.install_wrapper, dispatch_uid="monitoring.query_timing")
        query_timing.install_on_open_connections()
        request_finished.connect(query_timing.flush_if_due, dispatch_uid="monitoring.query_timing.flush")
        performance.tracker.add_read_hook(query_timing.flush)
        # Every process shares its counters (ProcessStats), so reports cover the deployment.
        request_finished.connect(shared_stats.publish_if_due, dispatch_uid="monitoring.shared_stats")
        atexit.register(shared_stats.publish_at_exit)  # atexit is LIFO: runs after the flush below
        set_deployment_source(deployment.cache_totals)
        atexit.register(query_timing.flush)  # short-lived processes: queued timings reach the metrics
        cache_observer.register()
        # Each worker's CPU and memory (gunicorn multi-process mode), started by its first request.
        request_started.connect(process_metrics.start, dispatch_uid="monitoring.process_metrics")
        health.mark_started()
        snapshots.register_exit_snapshot()
        django_checks.register(checks.check_monitoring_settings)
