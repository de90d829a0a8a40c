"""System checks of the monitoring configuration (stable ids, with hints)."""

import ipaddress
import os

from django.core.checks import Error, Warning

from monitoring.conf import app_settings

MIN_TOKEN_LENGTH = 24


def check_monitoring_settings(app_configs=None, **kwargs):
    """Report misconfigured monitoring settings."""
    config = app_settings()
    problems = []
    if not (0 < config.excellent_ms <= config.slow_ms <= config.critical_ms):
        problems.append(
            Error(
                "Monitoring rating bounds are out of order.",
                hint="Require 0 < MONITORING_EXCELLENT_MS <= MONITORING_SLOW_MS <= MONITORING_CRITICAL_MS.",
                id="monitoring.E001",
            )
        )
    for entry in config.metrics_allowed_ips:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(
                Error(
                    f"METRICS_ALLOWED_IPS entry {entry!r} is not an IP address or network.",
                    hint="Use comma-separated addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8.",
                    id="monitoring.E002",
                )
            )
    if min(config.baseline_window, config.recent_window, config.max_names, config.max_metric_groups) < 1:
        problems.append(
            Error(
                "Monitoring window sizes and caps must be at least 1.",
                hint="Check MONITORING_BASELINE_WINDOW, MONITORING_RECENT_WINDOW, MONITORING_MAX_NAMES, "
                "MONITORING_MAX_METRIC_GROUPS.",
                id="monitoring.E003",
            )
        )
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir and not (os.path.isdir(multiproc_dir) and os.access(multiproc_dir, os.W_OK)):
        problems.append(
            Error(
                f"PROMETHEUS_MULTIPROC_DIR={multiproc_dir} is not a writable directory.",
                hint="Create it before the workers start (gunicorn.conf.py does), or unset the variable.",
                id="monitoring.E004",
            )
        )
    if config.token and len(config.token) < MIN_TOKEN_LENGTH:
        problems.append(
            Warning(
                f"MONITORING_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters.",
                hint="Use a long random value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="monitoring.W001",
            )
        )
    return problems
