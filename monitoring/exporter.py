"""A long-running command's own /metrics (``sync_tracker_state --watch``, ``cache_relay``).

A command is not a gunicorn worker: its metrics (sync durations, invalidations, cache tier
errors, CPU and memory) live in its own process and no web worker can export them. With
``METRICS_PORT`` set (per process, e.g. ``METRICS_PORT=9101 manage.py sync_tracker_state --watch``)
the command serves this process's registry on ``METRICS_ADDR:METRICS_PORT`` for Prometheus to
scrape; unset (0), nothing is started. Commands of cachecore, which must not import this app, reach
``serve_metrics`` through cachecore's setting-driven hook ``CACHECORE_LONG_RUNNING_HOOK``
(``cachecore.api.long_running_started(role)``).
"""

import logging

from prometheus_client import REGISTRY, start_http_server

from monitoring import cache_observer, process_metrics
from monitoring.conf import app_settings
from monitoring.metrics import COMMAND_INFO

logger = logging.getLogger("monitoring")


def serve_metrics(role: str, *, port: int | None = None) -> int | None:
    """Serve this process's metrics on ``METRICS_PORT`` (or ``port``); return the port, None when off."""
    config = app_settings()
    port = config.metrics_port if port is None else port
    if not port:
        return None
    COMMAND_INFO.labels(command=role).set(1)
    cache_observer.export_known_labels()
    process_metrics.publish_limit()
    server, _thread = start_http_server(port, addr=config.metrics_addr, registry=REGISTRY)
    bound = server.server_address[1]
    logger.info("monitoring: %s serves its metrics on http://%s:%s/metrics", role, config.metrics_addr, bound)
    return bound
