"""Import location reports from a CSV or JSON Lines export, streaming, all-or-nothing per file."""

import time

from django.core.management.base import BaseCommand, CommandError

from trackers.conf import conf
from trackers.importing import FORMATS, ImportFileError, detect_format, open_text, read_reports
from trackers.ingest import ImportResult, import_location_reports
from trackers.sync import SyncAlreadyRunning, sync_tracker_state


class Command(BaseCommand):
    help = (
        "Import location reports (serial, timestamp, latitude, longitude[, nearest_city, confidence]) from a "
        "CSV or JSON Lines file (.gz allowed, '-' for stdin). The file is read in batches in constant memory "
        "and written in one transaction: any invalid row rejects the whole file and nothing is written."
    )
    # Seconds between progress lines; a class attribute so tests can set 0.
    progress_every = 2.0
    clock = staticmethod(time.monotonic)

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to a .csv or .jsonl/.ndjson file (optionally .gz), or - for stdin")
        parser.add_argument("--format", choices=FORMATS, help="file format (default: from the file name)")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="rows validated and inserted per batch (default TRACKERS_INGEST_MAX_BATCH)",
        )
        parser.add_argument(
            "--client-id",
            type=int,
            action="append",
            dest="client_ids",
            help="accept only trackers of this client (repeatable); others count as unknown serials",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate the whole file, write nothing")
        parser.add_argument("--max-errors", type=int, default=50, help="row errors to print (default 50)")
        parser.add_argument("--sync", action="store_true", help="run sync_tracker_state after a successful import")

    def handle(self, *args, **opts):
        batch_size = conf.INGEST_MAX_BATCH if opts["batch_size"] is None else opts["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        client_ids = frozenset(opts["client_ids"]) if opts["client_ids"] else None
        self._last_progress = self.clock()
        try:
            fmt = detect_format(opts["file"], opts["format"])
            with open_text(opts["file"]) as stream:
                result = import_location_reports(
                    read_reports(stream, fmt),
                    batch_size=batch_size,
                    client_ids=client_ids,
                    dry_run=opts["dry_run"],
                    max_errors=opts["max_errors"],
                    progress=self._progress,
                )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{opts['file']} is not UTF-8 text: {exc.reason} at byte {exc.start}.") from exc
        self._report(result)
        if not result.ok:
            raise CommandError(f"{result.invalid_rows} invalid rows; nothing was written.")
        if opts["sync"] and result.committed:
            self._sync()

    def _progress(self, result: ImportResult) -> None:
        now = self.clock()
        if now - self._last_progress >= self.progress_every:
            self._last_progress = now
            state = "validated" if result.dry_run or not result.ok else "inserted"
            count = result.rows if state == "validated" else result.created
            self.stdout.write(f"  {result.rows} rows read, {count} {state}, {result.invalid_rows} invalid ...")

    def _report(self, result: ImportResult) -> None:
        for error in result.errors:
            self.stderr.write(f"line {error}")
        hidden = result.invalid_rows - len(result.errors)
        if hidden > 0:
            self.stderr.write(f"... and {hidden} more invalid rows (raise --max-errors to see them).")
        if not result.ok:
            return
        if result.dry_run:
            self.stdout.write(self.style.SUCCESS(f"Dry run: all {result.rows} rows are valid; nothing was written."))
            return
        self.stdout.write(
            self.style.SUCCESS(f"Imported {result.created} location reports in {result.batches} batches.")
        )
        self.stdout.write("Trackers' current state follows at the next sync_tracker_state run (or pass --sync).")

    def _sync(self) -> None:
        try:
            outcome = sync_tracker_state()
        except SyncAlreadyRunning:
            self.stdout.write("A state sync is already running; it will pick the new reports up.")
            return
        self.stdout.write(f"State sync: {outcome.summary()}")
