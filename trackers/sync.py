"""The incremental tracker state sync: LocationHistory -> Tracker.latest_* and current_status.

How it works (docs/trackers-ingest-sync.md has the long version):

- A ``SyncWatermark`` row holds the highest history id below which every row has been applied.
- On PostgreSQL a batch is an id range (``TRACKERS_SYNC_SET_BATCH_SIZE`` ids, default 1,000,000)
  folded into tracker state by ONE set-based statement (``trackers.sync_set``): no row travels
  to Python, memory is flat in the number of rows. On SQLite a batch is read in keyset order
  (``ORDER BY id LIMIT n``, ``TRACKERS_SYNC_BATCH_SIZE`` rows) and the newest row per tracker is
  applied with one guarded ``UPDATE ... FROM`` per 5,000 trackers.
- Either way the update only touches a tracker whose stored ``latest_timestamp`` is older (a
  late, older report never overwrites a newer one; an unchanged state is not rewritten), and
  each batch is one transaction that moves the watermark too. A crash loses at most the open
  batch, which the next run reads again; applying a row twice is a no-op.
- PostgreSQL hands out ids at insert time and transactions commit in any order, so a row with a
  lower id can become visible after a higher one. The watermark therefore never passes a gap in
  the ids it has read unless the gap is settled: no other transaction holds a write lock on the
  history table and a recount of the range finds exactly the rows read. Rows above an unsettled
  gap are still applied; they are read again later, harmlessly.
- Status is derived from the age of the last report (``TRACKERS_LOST_AFTER_HOURS``): a report
  newer than the limit revives ``lost``/``inactive`` to ``in_transit``; once the last report is
  older, ``in_transit`` becomes ``lost`` and ``in_storage`` becomes ``inactive``; ``delivered``
  and other explicit statuses are kept.
- A run with nothing to do is one query (the watermark against ``max(id)`` of the history, "any
  tracker gone stale", and on PostgreSQL a transaction-level try of the sync's advisory lock, so
  an idle run never needs the lock/unlock round trips); a run with work takes the session lock
  and reads the head again under it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from monitoring.metrics import SYNC_DURATION_SECONDS, SYNC_ROWS_TOTAL
from trackers.bulk_sql import rows_cte
from trackers.conf import conf
from trackers.invalidation import invalidate_dashboard
from trackers.models import LocationHistory, SyncWatermark, Tracker, TrackerStatus
from trackers.sync_set import REVIVABLE, apply_range

WATERMARK_NAME = "tracker_state"
ALREADY_RUNNING = "Another sync_tracker_state is already running against this database; not starting a second one."
# Trackers per UPDATE statement (bounds the work of one statement; the text is the same for any size).
UPDATE_CHUNK = 5000
# Statuses that go stale, and what they become.
STALE_TO = {TrackerStatus.IN_TRANSIT: TrackerStatus.LOST, TrackerStatus.IN_STORAGE: TrackerStatus.INACTIVE}
# Lock modes a writer of the history table holds until it commits (INSERT/UPDATE/DELETE/COPY and up).
WRITER_LOCK_MODES = ("RowExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")

Clock = Callable[[], datetime]


class SyncAlreadyRunning(Exception):
    """Another sync holds the lock for this database."""


@dataclass
class SyncResult:
    """What one sync run did."""

    rows: int = 0
    trackers: int = 0
    batches: int = 0
    stale_marked: int = 0
    watermark_from: int = 0
    watermark_to: int = 0
    seconds: float = 0.0
    held_at_gap: bool = False
    complete: bool = True

    @property
    def changed(self) -> bool:
        """Return whether any tracker's state changed."""
        return bool(self.trackers or self.stale_marked)

    def summary(self) -> str:
        """Return a one-line human summary."""
        if not self.rows and not self.stale_marked:
            return f"no changes (watermark {self.watermark_to}, {self.seconds:.3f} s)"
        text = (
            f"{self.rows} history rows in {self.batches} batches, {self.trackers} trackers updated, "
            f"{self.stale_marked} marked stale; watermark {self.watermark_from} -> {self.watermark_to} "
            f"in {self.seconds:.2f} s"
        )
        if self.held_at_gap:
            text += " (held below an id gap of a transaction still writing; those rows are read again next run)"
        if not self.complete:
            text += " (stopped early; more rows are pending)"
        return text


# --- state rule shared with the ingest ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    """A history row as the state rule needs it."""

    history_id: int
    tracker_id: int
    timestamp: datetime
    latitude: float
    longitude: float
    nearest_city: str
    confidence: float | None


def newest_per_tracker(reports: Iterable[Report]) -> list[Report]:
    """Return the newest report of each tracker (by timestamp, then id)."""
    newest: dict[int, Report] = {}
    for report in reports:
        kept = newest.get(report.tracker_id)
        if kept is None or (report.timestamp, report.history_id) > (kept.timestamp, kept.history_id):
            newest[report.tracker_id] = report
    return list(newest.values())


def apply_reports(reports: Iterable[Report], *, now: datetime) -> set[int]:
    """Apply the newest report per tracker to its state, never regressing it; return the trackers changed."""
    newest = newest_per_tracker(reports)
    changed: set[int] = set()
    for start in range(0, len(newest), UPDATE_CHUNK):
        changed.update(_update_state(newest[start : start + UPDATE_CHUNK], now=now))
    return changed


def _update_state(reports: list[Report], *, now: datetime) -> list[int]:
    # One statement per chunk, its text constant; the WHERE guard makes it safe against
    # concurrent writers (the UPDATE re-checks it under the row lock).
    adapt = connection.ops.adapt_datetimefield_value
    values, params = rows_cte(
        "v",
        STATE_COLUMNS,
        [
            (r.tracker_id, r.history_id, adapt(r.timestamp), r.latitude, r.longitude, r.nearest_city, r.confidence)
            for r in reports
        ],
    )
    fresh_after = adapt(now - timedelta(hours=conf.LOST_AFTER_HOURS))
    revivable = ", ".join(f"'{s.value}'" for s in REVIVABLE)
    sql = f"""
        WITH {values}
        UPDATE trackers_tracker SET
            latest_latitude = v.lat,
            latest_longitude = v.lon,
            latest_timestamp = v.ts,
            latest_nearest_city = v.city,
            latest_confidence = v.conf,
            latest_history_id = v.hid,
            last_report_received = CASE
                WHEN trackers_tracker.last_report_received IS NULL OR trackers_tracker.last_report_received < v.ts
                THEN v.ts ELSE trackers_tracker.last_report_received END,
            current_status = CASE
                WHEN v.ts >= %s AND trackers_tracker.current_status IN ({revivable})
                THEN '{TrackerStatus.IN_TRANSIT.value}' ELSE trackers_tracker.current_status END
        FROM v
        WHERE trackers_tracker.id = v.tid
          AND (trackers_tracker.latest_timestamp IS NULL OR trackers_tracker.latest_timestamp < v.ts)
        RETURNING trackers_tracker.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, fresh_after])
        return [row[0] for row in cursor.fetchall()]


STATE_COLUMNS = (
    ("tid", "bigint"),
    ("hid", "bigint"),
    ("ts", "timestamptz"),
    ("lat", "double precision"),
    ("lon", "double precision"),
    ("city", "varchar"),
    ("conf", "double precision"),
)


def mark_stale(*, now: datetime) -> int:
    """Turn trackers whose last report is too old into lost/inactive; return how many changed."""
    cutoff = now - timedelta(hours=conf.LOST_AFTER_HOURS)
    whens = [When(current_status=old, then=Value(new.value)) for old, new in STALE_TO.items()]
    return _stale_trackers(cutoff).update(current_status=Case(*whens, default="current_status"))


def _stale_trackers(cutoff: datetime):
    return Tracker.objects.filter(current_status__in=list(STALE_TO), last_report_received__lt=cutoff)


# --- the run --------------------------------------------------------------------------------------


def set_based() -> bool:
    """Return whether this database folds history into state set-based (PostgreSQL) or streams it."""
    return connection.vendor == "postgresql"


def default_batch_size() -> int:
    """Return the batch size of this database's sync: ids per set-based statement, or rows streamed."""
    return conf.SYNC_SET_BATCH_SIZE if set_based() else conf.SYNC_BATCH_SIZE


def sync_tracker_state(
    *,
    batch_size: int | None = None,
    clock: Clock = timezone.now,
    should_stop: Callable[[], bool] = lambda: False,
    max_batches: int | None = None,
    progress: Callable[[SyncResult], None] | None = None,
    name: str = WATERMARK_NAME,
) -> SyncResult:
    """Bring every tracker's current state up to date with the history added since the last run."""
    started = time.perf_counter()
    now = clock()
    # The idle check comes first and takes no session lock: an idle run is ONE statement.
    head = _probe_head(name, now)
    if head is not None and not head.has_new and not head.has_stale:
        result = SyncResult(watermark_from=head.watermark, watermark_to=head.watermark)
        result.seconds = time.perf_counter() - started
        SYNC_DURATION_SECONDS.observe(result.seconds)
        return result
    with sync_lock():
        return _run(
            batch_size=batch_size or default_batch_size(),
            started=started,
            now=now,
            should_stop=should_stop,
            max_batches=max_batches,
            progress=progress,
            name=name,
        )


def _run(*, batch_size, started, now, should_stop, max_batches, progress, name) -> SyncResult:
    head = _read_head(name, now)  # again, under the lock: another sync may have run since the probe
    result = SyncResult(watermark_from=head.watermark, watermark_to=head.watermark)
    if head.has_new:
        _apply_batches(head, result, batch_size, now, should_stop, max_batches, progress, name)
    if head.has_stale:
        result.stale_marked = mark_stale(now=now)
    result.seconds = time.perf_counter() - started
    SYNC_DURATION_SECONDS.observe(result.seconds)
    if result.rows or result.stale_marked:
        SYNC_ROWS_TOTAL.inc(result.rows)
        SyncWatermark.objects.filter(name=name).update(
            last_run_rows=result.rows, last_run_trackers=result.trackers, last_run_seconds=result.seconds
        )
    if result.changed:
        invalidate_dashboard(source="sync")
    return result


@dataclass
class _Head:
    watermark: int
    max_id: int  # the highest history id visible when the run started (0: no history)
    has_stale: bool

    @property
    def has_new(self) -> bool:
        return self.max_id > self.watermark


def _head_sql(*, try_lock: bool) -> str:
    # A fixed SQL text (no ORM compile, no cachalot key per run): the watermark against max(id)
    # (a backward step on the primary key index) and "any tracker gone stale", in one statement.
    statuses = ", ".join(f"'{s.value}'" for s in STALE_TO)
    lock = ", pg_try_advisory_xact_lock(%s)" if try_lock else ""
    return f"""
        SELECT w.last_history_id,
               (SELECT max(id) FROM {LocationHistory._meta.db_table}),
               EXISTS (SELECT 1 FROM {Tracker._meta.db_table}
                       WHERE current_status IN ({statuses}) AND last_report_received < %s){lock}
        FROM {SyncWatermark._meta.db_table} AS w WHERE w.name = %s
    """


def _head_row(name: str, now: datetime, *, try_lock: bool = False):
    cutoff = connection.ops.adapt_datetimefield_value(now - timedelta(hours=conf.LOST_AFTER_HOURS))
    params = [cutoff, ADVISORY_LOCK_KEY, name] if try_lock else [cutoff, name]
    with connection.cursor() as cursor:
        cursor.execute(_head_sql(try_lock=try_lock), params)
        return cursor.fetchone()


def _probe_head(name: str, now: datetime) -> _Head | None:
    """Read the head without holding the lock; None on the first run ever (no watermark yet).

    Refuses (SyncAlreadyRunning) exactly when the locked run would: on PostgreSQL the same
    statement tries a transaction-level advisory lock on the sync's key, which conflicts with a
    running sync's session-level lock (and is granted to the session that holds it, so --watch
    passes) and is released with the statement's transaction.
    """
    if not set_based():
        with sync_lock():  # SQLite: the process-local lock, held for the read only
            return _head_of(_head_row(name, now))
    row = _head_row(name, now, try_lock=True)
    if row is not None and not row[3]:
        raise SyncAlreadyRunning(ALREADY_RUNNING)
    return _head_of(row[:3] if row else None)


def _head_of(row) -> _Head | None:
    if row is None:
        return None
    watermark, top, has_stale = row
    return _Head(watermark=watermark, max_id=top or 0, has_stale=bool(has_stale))


def _read_head(name: str, now: datetime) -> _Head:
    head = _head_of(_head_row(name, now))
    if head is None:  # first run ever
        SyncWatermark.objects.get_or_create(name=name)
        top = LocationHistory.objects.order_by("-pk").values_list("pk", flat=True).first()
        return _Head(watermark=0, max_id=top or 0, has_stale=True)
    return head


@dataclass
class _Cursor:
    """Read position and safe watermark of one run (constant size: two ids and a count)."""

    watermark: int  # every id <= watermark is applied or permanently absent
    position: int  # the highest id read so far (set-based: the end of the last range)
    seen_above: int = 0  # rows read with watermark < id <= position
    held: bool = field(default=False)

    def advance(self, ids: list[int]) -> None:
        """Move past the ids of one streamed batch, keeping the watermark below any gap."""
        if self.watermark == self.position:
            frontier = self.watermark
            for i in ids:
                if i != frontier + 1:
                    break
                frontier = i
            self.watermark = frontier
            self.seen_above = sum(1 for i in ids if i > frontier)
        else:
            self.seen_above += len(ids)
        self.position = ids[-1]

    def advance_range(self, low: int, high: int, rows: int) -> None:
        """Move past the range ``low < id <= high`` of which ``rows`` were read (set-based).

        A full range moves the watermark with it; a range with a gap leaves the watermark at
        its start until ``settle`` finds the gap final (where in the range the gap is, the
        statement does not say, and a later look would not see the snapshot the statement read).
        """
        if self.watermark == self.position and rows == high - low:
            self.watermark = high
        else:
            self.seen_above += rows
        self.position = high

    def settle(self) -> None:
        """Advance the watermark to the position when the gaps below it can no longer fill."""
        if self.watermark == self.position:
            self.held = False
            return
        if _gaps_are_final(self.watermark, self.position, self.seen_above):
            self.watermark, self.seen_above, self.held = self.position, 0, False
        else:
            self.held = True


def _gaps_are_final(low: int, high: int, seen: int) -> bool:
    if connection.vendor != "postgresql":
        # SQLite has one writer at a time and assigns ids inside it: a visible gap never fills.
        return True
    if _history_writer_active():
        return False
    # A writer may have committed between our read and the lock check: recount the range.
    return LocationHistory.objects.filter(pk__gt=low, pk__lte=high).count() == seen


def _history_writer_active() -> bool:
    # Any INSERT takes RowExclusiveLock on the table before it draws an id and keeps it until
    # commit, so "nobody else holds a write lock" means every id already drawn is settled.
    modes = ", ".join(f"'{m}'" for m in WRITER_LOCK_MODES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT EXISTS (
                    SELECT 1 FROM pg_locks
                    WHERE locktype = 'relation' AND relation = %s::regclass
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND pid <> pg_backend_pid() AND mode IN ({modes}))""",
            [LocationHistory._meta.db_table],
        )
        return cursor.fetchone()[0]


@dataclass(frozen=True, slots=True)
class _Batch:
    rows: int  # history rows read
    changed: list[int]  # trackers whose state moved


def apply_batch(cursor: _Cursor, size: int, *, now: datetime, head: _Head) -> _Batch | None:
    """Apply the next batch after ``cursor.position`` and advance the cursor; None: nothing left.

    Set-based (PostgreSQL): the id range up to ``size`` ids past the position, capped at the
    run's head, in one statement. Streamed (SQLite): the next ``size`` rows by id.
    """
    if set_based():
        low = cursor.position
        # Ranges start at the next existing id, so ids that were never drawn (a fresh test
        # database's sequence, deleted history) cost no empty statements.
        first = LocationHistory.objects.filter(pk__gt=low).order_by("pk").values_list("pk", flat=True).first()
        if first is None or first > head.max_id:
            return None
        high = min(first - 1 + size, head.max_id)
        outcome = apply_range(low, high, now=now)
        cursor.advance_range(low, high, outcome.rows)
        return _Batch(rows=outcome.rows, changed=outcome.changed)
    reports = _read_batch(cursor.position, size)
    if not reports:
        return None
    changed = apply_reports(reports, now=now)
    cursor.advance([r.history_id for r in reports])
    return _Batch(rows=len(reports), changed=list(changed))


def _apply_batches(head, result, batch_size, now, should_stop, max_batches, progress, name) -> None:
    cursor = _Cursor(watermark=head.watermark, position=head.watermark)
    # Distinct trackers changed: bounded by the fleet, not by the number of rows read.
    touched: set[int] = set()
    while True:
        if should_stop() or (max_batches is not None and result.batches >= max_batches):
            result.complete = False
            break
        with transaction.atomic():
            batch = apply_batch(cursor, batch_size, now=now, head=head)
            if batch is None:
                break
            cursor.settle()
            _advance_watermark(name, cursor.watermark)
        touched.update(batch.changed)
        result.rows += batch.rows
        result.batches += 1
        result.trackers = len(touched)
        result.watermark_to = max(result.watermark_to, cursor.watermark)
        result.held_at_gap = cursor.held
        if progress:
            progress(result)
        if set_based() and cursor.position >= head.max_id:
            break
        if not set_based() and batch.rows < batch_size:
            break


def _read_batch(after_id: int, size: int) -> list[Report]:
    rows = (
        LocationHistory.objects.filter(pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", "tracker_id", "timestamp", "latitude", "longitude", "nearest_city", "confidence")[:size]
    )
    return [Report(*row) for row in rows]


def _advance_watermark(name: str, watermark: int) -> None:
    # GREATEST keeps the stored value monotonic even if two syncs ever overlapped (SQLite, no
    # cross-process lock): every value either writes is safe, so the larger one is too.
    SyncWatermark.objects.filter(name=name).update(last_history_id=Greatest("last_history_id", Value(watermark)))


# --- one sync per database ------------------------------------------------------------------------

# Re-entrant so --watch can hold it for the whole session around runs that take it again.
_LOCAL_LOCK = threading.RLock()
ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"cachewarden.sync_tracker_state").digest()[:8], "big", signed=True)


@contextmanager
def sync_lock() -> Iterator[None]:
    """Hold the "one sync per database" lock, or raise SyncAlreadyRunning at once."""
    if connection.vendor == "postgresql":
        with _advisory_lock():
            yield
        return
    # SQLite: one process serves the embedded default, so a process-local lock is enough.
    if not _LOCAL_LOCK.acquire(blocking=False):
        raise SyncAlreadyRunning(ALREADY_RUNNING)
    try:
        yield
    finally:
        _LOCAL_LOCK.release()


@contextmanager
def _advisory_lock() -> Iterator[None]:
    # Session-level: it spans the run's many transactions and dies with the connection if the
    # process does. It is released explicitly, because a pooled connection outlives the run.
    # Re-entrant within one session (PostgreSQL counts), like the SQLite RLock.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise SyncAlreadyRunning(ALREADY_RUNNING)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


# --- --watch --------------------------------------------------------------------------------------


@dataclass
class AdaptiveInterval:
    """The --watch pause: back off (x2) while idle up to ``maximum``; back to ``minimum`` on change."""

    minimum: float
    maximum: float
    current: float = 0.0

    def __post_init__(self):
        self.current = self.minimum

    def next(self, *, changed: bool) -> float:
        """Return the pause before the next run, given whether the last run changed anything."""
        self.current = self.minimum if changed else min(self.maximum, self.current * 2)
        return self.current


def watch(
    *,
    interval: AdaptiveInterval,
    stop: threading.Event,
    run: Callable[[], SyncResult],
    on_result: Callable[[SyncResult, float], None] = lambda result, pause: None,
) -> int:
    """Run ``run`` until ``stop`` is set, pausing adaptively between runs; return the number of runs."""
    runs = 0
    while not stop.is_set():
        result = run()
        runs += 1
        pause = interval.next(changed=result.rows > 0 or result.changed)
        on_result(result, pause)
        stop.wait(pause)
    return runs
