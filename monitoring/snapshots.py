"""Per-process snapshots of the performance statistics, for reports after a run.

With ``MONITORING_SNAPSHOT_DIR`` set, every process writes ``perf-<pid>.json`` there when it exits
(gunicorn workers, management commands, scripts). ``manage.py perf_report --snapshot PATH`` reads
one file or merges every ``perf-*.json`` of a directory (the cross-worker view after the fact).
"""

import atexit
import json
import logging
import os
import time
from pathlib import Path

from monitoring.conf import app_settings
from monitoring.performance import PerformanceTracker, tracker

logger = logging.getLogger("monitoring")
PATTERN = "perf-*.json"


def write_snapshot(path: Path | str, source: PerformanceTracker | None = None) -> Path:
    """Write ``source``'s (default: this process's) statistics to ``path`` atomically."""
    path = Path(path)
    data = {**(source or tracker).to_snapshot(), "pid": os.getpid(), "written": time.time()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data))
    partial.replace(path)
    return path


def snapshot_files(path: Path | str) -> list[Path]:
    """Return the snapshot files at ``path``: the file itself, or a directory's perf-*.json."""
    path = Path(path)
    if path.is_dir():
        return sorted(path.glob(PATTERN), key=lambda p: p.stat().st_mtime)
    if path.exists():
        return [path]
    raise FileNotFoundError(f"no snapshot at {path}")


def load_snapshots(path: Path | str) -> tuple[PerformanceTracker, int]:
    """Return a tracker holding the merged statistics of every snapshot at ``path``, and the file count."""
    merged = PerformanceTracker()
    files = snapshot_files(path)
    for file in files:  # oldest first, so the newest regression windows win
        merged.load_snapshot(json.loads(file.read_text()))
    return merged, len(files)


def _write_on_exit(directory: str) -> None:
    try:
        write_snapshot(Path(directory) / f"perf-{os.getpid()}.json")
    except OSError as exc:
        logger.warning("could not write the performance snapshot to %s: %s", directory, exc)


def register_exit_snapshot() -> bool:
    """Write this process's snapshot at exit when MONITORING_SNAPSHOT_DIR is set."""
    directory = app_settings().snapshot_dir
    if not directory:
        return False
    atexit.register(_write_on_exit, directory)
    return True
