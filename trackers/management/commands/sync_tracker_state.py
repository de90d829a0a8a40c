"""Bring trackers' current state up to date from their location history, once or continuously."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from monitoring.exporter import serve_metrics
from trackers.sync import (
    AdaptiveInterval,
    SyncAlreadyRunning,
    SyncResult,
    default_batch_size,
    sync_lock,
    sync_tracker_state,
    watch,
)


class Command(BaseCommand):
    help = (
        "Apply location history added since the last run to each tracker's current state (latest "
        "location, last report, derived status). Incremental (a persisted watermark), batched, crash-safe. "
        "Only one sync runs per database; a second one exits with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="history ids per batch/transaction (default: TRACKERS_SYNC_SET_BATCH_SIZE on PostgreSQL, "
            "TRACKERS_SYNC_BATCH_SIZE elsewhere)",
        )
        parser.add_argument("--watch", action="store_true", help="keep running until SIGINT/SIGTERM")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="--watch: shortest pause between runs in seconds (default 5)"
        )
        parser.add_argument(
            "--max-interval", type=float, default=60.0, help="--watch: longest pause while idle (default 60)"
        )

    def handle(self, *args, **opts):
        self.verbosity = opts["verbosity"]
        batch_size = default_batch_size() if opts["batch_size"] is None else opts["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if opts["interval"] <= 0 or opts["max_interval"] < opts["interval"]:
            raise CommandError("--interval must be positive and --max-interval at least --interval.")
        self.stop = threading.Event()
        try:
            if opts["watch"]:
                self._watch(batch_size, opts["interval"], opts["max_interval"])
            else:
                self._report(self._run(batch_size))
        except SyncAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc

    def _run(self, batch_size: int) -> SyncResult:
        return sync_tracker_state(batch_size=batch_size, should_stop=self.stop.is_set, progress=self._progress)

    def _watch(self, batch_size: int, minimum: float, maximum: float) -> None:
        previous = self._install_signal_handlers()
        try:
            # The lock is held for the whole session, so a second watcher is refused at once.
            with sync_lock():
                port = serve_metrics("sync_tracker_state")  # METRICS_PORT: this process's own /metrics
                if port:
                    self.stdout.write(f"Serving metrics on port {port} (/metrics).")
                self.stdout.write(f"Watching for new location history (every {minimum:g}-{maximum:g} s) ...")
                runs = watch(
                    interval=AdaptiveInterval(minimum, maximum),
                    stop=self.stop,
                    run=lambda: self._run(batch_size),
                    on_result=self._watched,
                )
        finally:
            self._restore_signal_handlers(previous)
        self.stdout.write(f"Stopped after {runs} runs.")

    def _watched(self, result: SyncResult, pause: float) -> None:
        if result.rows or result.stale_marked or self.verbosity >= 2:
            self._report(result)
            self.stdout.write(f"  next run in {pause:g} s")

    def _progress(self, result: SyncResult) -> None:
        if self.verbosity >= 2:
            self.stdout.write(f"  batch {result.batches}: {result.rows} rows, watermark {result.watermark_to}")

    def _report(self, result: SyncResult) -> None:
        style = self.style.SUCCESS if result.changed else (lambda text: text)
        self.stdout.write(style(result.summary()))

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signal_handlers(self, previous) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame) -> None:
        # Only set a flag: the current batch finishes and commits, then the loop ends.
        self.stderr.write(f"Received {signal.Signals(signum).name}; finishing the current batch ...")
        self.stop.set()
