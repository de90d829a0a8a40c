"""gunicorn settings: ``gunicorn -c gunicorn.conf.py config.wsgi``.

Prometheus multi-process mode: every worker writes its metric values to files in
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` (any worker) sums them, so a scrape sees the whole
server, not the one worker that happened to answer. The variable must be set before a worker
imports ``prometheus_client``, so it is set here, in the master, and inherited by the workers.

- Unset: a private directory per master (``<tmp>/cachewarden-prometheus-<master pid>``), removed
  when the master exits.
- Set: that directory; its ``*.db`` files are deleted when the master starts (values of a previous
  run would otherwise be added to this one's). Never share one directory between two masters.

``post_worker_init`` starts each worker's ``process_cpu_seconds_total`` /
``process_resident_memory_bytes`` gauges (the multi-process export has no process collector).
``child_exit`` marks a dead worker so its live gauges (``cache_hit_rate_percent``, mode
``livemax``) leave the export; its counters and histograms stay, so totals never go backwards.
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = timeout
accesslog = "-"

_PRIVATE_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _PRIVATE_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tempfile.gettempdir()) / f"cachewarden-prometheus-{os.getpid()}")
MULTIPROC_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_starting(server):
    """Create the metrics directory and drop the files of a previous run."""
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
    for stale in MULTIPROC_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """Remove a dead worker's live gauges from the export."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(MULTIPROC_DIR))


def on_exit(server):
    """Remove the private metrics directory (a configured one is left for inspection)."""
    if _PRIVATE_DIR:
        shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)


def post_worker_init(worker):
    """Start this worker's CPU and memory gauges (monitoring/process_metrics.py) before its first request."""
    from monitoring import process_metrics

    process_metrics.start()
