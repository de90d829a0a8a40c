"""CPU time and resident memory of every worker, also under gunicorn's multi-process mode.

prometheus_client's ``ProcessCollector`` reads ``/proc/self`` at scrape time, in the process that
answers; in multi-process mode ``/metrics`` exports only the files of the workers, so a worker's
own CPU and memory would be missing. Here every process copies its ``ProcessCollector`` figures
into ``liveall`` gauges (one series per pid) from a daemon thread, started in each worker by
gunicorn's ``post_worker_init`` (gunicorn.conf.py) and, for other servers, by the first request
(never at import or in ``ready()``). Outside multi-process mode the standard
collector already exports them and nothing runs. ``process_memory_limit_bytes`` is exported in
both modes for the memory alert.
"""

import logging
import os
import threading
from pathlib import Path

from prometheus_client import ProcessCollector

from monitoring.conf import app_settings
from monitoring.metrics import PROCESS_CPU_SECONDS, PROCESS_MEMORY_LIMIT_BYTES, PROCESS_RESIDENT_MEMORY_BYTES

logger = logging.getLogger("monitoring")

CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")
_started_in: dict[str, int | None] = {"pid": None}
_lock = threading.Lock()


def multiprocess_mode() -> bool:
    """Return whether metrics go through PROMETHEUS_MULTIPROC_DIR files (gunicorn)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def memory_limit_bytes(configured: int, cgroup_file: Path = CGROUP_MEMORY_MAX) -> int | None:
    """Return the configured limit, else the cgroup v2 limit, else None (no limit known)."""
    if configured > 0:
        return configured
    try:
        raw = cgroup_file.read_text().strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None  # "max": unlimited


def read_process() -> dict[str, float]:
    """Return this process's ``process_*`` figures as the standard collector reads them (Linux)."""
    figures = {}
    for family in ProcessCollector(registry=None).collect():
        for sample in family.samples:
            figures[sample.name] = sample.value
    return figures


def update() -> None:
    """Copy this process's CPU seconds and resident memory into the multi-process gauges."""
    figures = read_process()
    if "process_cpu_seconds_total" in figures:
        PROCESS_CPU_SECONDS.set(figures["process_cpu_seconds_total"])
    if "process_resident_memory_bytes" in figures:
        PROCESS_RESIDENT_MEMORY_BYTES.set(figures["process_resident_memory_bytes"])


def publish_limit() -> None:
    """Export the memory limit the alert compares with (nothing when none is known)."""
    limit = memory_limit_bytes(app_settings().memory_limit_bytes)
    if limit is not None:
        PROCESS_MEMORY_LIMIT_BYTES.set(limit)


def start(**kwargs) -> bool:
    """Start this process's updater once (a request_started receiver); return whether it started now."""
    pid = os.getpid()
    with _lock:
        if _started_in["pid"] == pid:  # also true after a fork: the child's pid differs
            return False
        _started_in["pid"] = pid
    publish_limit()
    if not multiprocess_mode():
        return True
    update()
    thread = threading.Thread(target=_run, name="monitoring-process-metrics", daemon=True)
    thread.start()
    return True


def _run() -> None:
    stop = threading.Event()
    while not stop.wait(app_settings().process_metrics_seconds):
        try:
            update()
        except Exception:  # noqa: BLE001 - the updater must outlive a bad read
            logger.exception("monitoring: could not read the process figures")
