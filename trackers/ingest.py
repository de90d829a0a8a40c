"""Location ingest: validate reports row by row and write a batch all-or-nothing.

Shared by ``POST /api/location-reports/`` (one request = one batch) and ``manage.py
import_locations`` (one file = one transaction of many batches). Validation is the same code for
both: field checks in Python, then two queries per batch (serials in the caller's scope, and
existing ``(tracker, timestamp)`` pairs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from trackers.bulk_sql import rows_cte
from trackers.conf import conf
from trackers.invalidation import invalidate_dashboard
from trackers.models import LocationHistory, Tracker
from trackers.sync import Report, apply_reports

# Error messages (tests import them).
REQUIRED = "this field is required."
NOT_AN_OBJECT = "each report must be a JSON object."
SERIAL_INVALID = "must be a non-empty string of at most 64 characters."
UNKNOWN_SERIAL = "unknown tracker serial."  # also for serials outside the caller's clients
TIMESTAMP_INVALID = "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z."
TIMESTAMP_OUT_OF_RANGE = "must fall between years 1 and 9999 once converted to UTC."
TIMESTAMP_FUTURE = "is more than {seconds} s in the future (TRACKERS_INGEST_FUTURE_TOLERANCE_SECONDS)."
NUMBER_INVALID = "must be a finite number."
OUT_OF_RANGE = "must be between {low} and {high}."
CITY_INVALID = "must be a string of at most 100 characters."
TEXT_UNSTORABLE = "must not contain NUL characters or unpaired surrogates."
DUPLICATE_EXISTING = "a report for this tracker at this timestamp already exists."
DUPLICATE_IN_BATCH = "duplicates the report at {where} {index} (same serial and timestamp)."
BATCH_TOO_LARGE = (
    "reports: at most {max} reports per request (TRACKERS_INGEST_MAX_BATCH); got {count}. Split the batch."
)
CONCURRENT_CONFLICT = "a concurrent request stored some of these reports first; nothing was written. Retry."

FIELDS = ("serial", "timestamp", "latitude", "longitude", "nearest_city", "confidence")
_MAX_SERIAL = Tracker._meta.get_field("serial").max_length
_MAX_CITY = LocationHistory._meta.get_field("nearest_city").max_length
_SERIAL_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class ParsedReport:
    serial: str
    timestamp: datetime
    latitude: float
    longitude: float
    nearest_city: str
    confidence: float | None


@dataclass
class RowError:
    """The errors of one report: ``index`` is its position in the batch (or its line in a file)."""

    index: int
    serial: str | None
    errors: dict[str, str]

    def as_dict(self) -> dict:
        """Return the JSON form used by the API."""
        return {"index": self.index, "serial": self.serial, "errors": self.errors}

    def __str__(self) -> str:
        fields = "; ".join(f"{name}: {message}" for name, message in self.errors.items())
        return f"{self.index} ({self.serial or 'no serial'}): {fields}"


class BatchTooLarge(Exception):
    """More reports than TRACKERS_INGEST_MAX_BATCH in one request."""


class IngestRejected(Exception):
    """At least one report is invalid; nothing was written."""

    def __init__(self, errors: list[RowError], total: int):
        super().__init__(f"{len(errors)} of {total} reports are invalid; nothing was written.")
        self.errors = errors
        self.total = total


@dataclass
class IngestResult:
    received: int
    created: int
    trackers: int
    state_updated: int


# --- field validation (no database) ---------------------------------------------------------------


def parse_report(raw: object, *, now: datetime) -> tuple[ParsedReport | None, dict[str, str]]:
    """Return the parsed report and no errors, or None and the errors by field name."""
    if isinstance(raw, ValueError):  # a line the file reader could not parse
        return None, {"report": str(raw)}
    if not isinstance(raw, Mapping):
        return None, {"report": NOT_AN_OBJECT}
    errors: dict[str, str] = {}
    serial = _serial(raw.get("serial"), errors)
    timestamp = _timestamp(raw.get("timestamp"), now, errors)
    latitude = _number(raw.get("latitude"), "latitude", -90.0, 90.0, errors, required=True)
    longitude = _number(raw.get("longitude"), "longitude", -180.0, 180.0, errors, required=True)
    confidence = _number(raw.get("confidence"), "confidence", 0.0, 1.0, errors, required=False)
    city = _city(raw.get("nearest_city"), errors)
    if errors:
        return None, errors
    return ParsedReport(serial, timestamp, latitude, longitude, city, confidence), {}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def storable(text: str) -> bool:
    """Return whether both databases can store ``text`` (PostgreSQL rejects NUL; UTF-8, lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _serial(value, errors) -> str:
    if _blank(value):
        errors["serial"] = REQUIRED
        return ""
    if not isinstance(value, str) or len(value.strip()) > _MAX_SERIAL:
        errors["serial"] = SERIAL_INVALID
        return ""
    if not storable(value):
        errors["serial"] = TEXT_UNSTORABLE
        return ""
    return value.strip()


def _timestamp(value, now, errors) -> datetime | None:
    if _blank(value):
        errors["timestamp"] = REQUIRED
        return None
    try:
        parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        errors["timestamp"] = TIMESTAMP_INVALID
        return None
    if timezone.is_naive(parsed):  # documented: a time without an offset is UTC
        parsed = parsed.replace(tzinfo=UTC)
    tolerance = conf.INGEST_FUTURE_TOLERANCE_SECONDS
    if parsed > now + timedelta(seconds=tolerance):
        errors["timestamp"] = TIMESTAMP_FUTURE.format(seconds=tolerance)
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before datetime.min in UTC
        errors["timestamp"] = TIMESTAMP_OUT_OF_RANGE
        return None


def _number(value, name, low, high, errors, *, required) -> float | None:
    if _blank(value):
        if required:
            errors[name] = REQUIRED
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors[name] = NUMBER_INVALID
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int beyond a float's range (2**1024)
        errors[name] = NUMBER_INVALID
        return None
    if not math.isfinite(number):
        errors[name] = NUMBER_INVALID
        return None
    if not low <= number <= high:
        errors[name] = OUT_OF_RANGE.format(low=_fmt(low), high=_fmt(high))
        return None
    return number


def _fmt(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def _city(value, errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > _MAX_CITY:
        errors["nearest_city"] = CITY_INVALID
        return ""
    if not storable(value):
        errors["nearest_city"] = TEXT_UNSTORABLE
        return ""
    return value.strip()


# --- batch validation (two queries) ---------------------------------------------------------------


def validate_batch(
    raws: Sequence[object],
    *,
    client_ids: frozenset[int] | None,
    now: datetime,
    labels: Sequence[int] | None = None,
    label_name: str = "index",
) -> tuple[list[LocationHistory], list[RowError]]:
    """Return the history rows to insert and the row errors of one batch (never both non-empty)."""
    labels = list(labels) if labels is not None else list(range(len(raws)))
    parsed: list[ParsedReport | None] = []
    errors: dict[int, RowError] = {}
    for i, raw in enumerate(raws):
        report, field_errors = parse_report(raw, now=now)
        parsed.append(report)
        if field_errors:
            serial = raw.get("serial") if isinstance(raw, Mapping) else None
            # Echoed in the 400: a serial that cannot be encoded would turn it into a 500.
            echo = serial if isinstance(serial, str) and storable(serial) else None
            errors[i] = RowError(labels[i], echo, field_errors)

    tracker_ids = _tracker_ids({p.serial for p in parsed if p}, client_ids)
    first_seen: dict[tuple[int, datetime], int] = {}
    candidates: list[tuple[int, int, datetime]] = []
    for i, report in enumerate(parsed):
        if report is None:
            continue
        tracker_id = tracker_ids.get(report.serial)
        if tracker_id is None:
            errors[i] = RowError(labels[i], report.serial, {"serial": UNKNOWN_SERIAL})
            continue
        key = (tracker_id, report.timestamp)
        if key in first_seen:
            where = DUPLICATE_IN_BATCH.format(where=label_name, index=labels[first_seen[key]])
            errors[i] = RowError(labels[i], report.serial, {"timestamp": where})
            continue
        first_seen[key] = i
        candidates.append((i, tracker_id, report.timestamp))

    for i in _existing_duplicates(candidates):
        errors[i] = RowError(labels[i], parsed[i].serial, {"timestamp": DUPLICATE_EXISTING})
    if errors:
        return [], [errors[i] for i in sorted(errors)]
    rows = [
        LocationHistory(
            tracker_id=tracker_id,
            timestamp=parsed[i].timestamp,
            latitude=parsed[i].latitude,
            longitude=parsed[i].longitude,
            nearest_city=parsed[i].nearest_city,
            confidence=parsed[i].confidence,
        )
        for i, tracker_id, _ in candidates
    ]
    return rows, []


def _tracker_ids(serials: set[str], client_ids: frozenset[int] | None) -> dict[str, int]:
    # A serial outside the caller's clients is simply not found: the same answer as a serial
    # that does not exist, so the API does not reveal other clients' trackers.
    found: dict[str, int] = {}
    ordered = sorted(serials)
    # Chunked so a huge --batch-size stays under SQLite's bound-variable limit.
    for start in range(0, len(ordered), _SERIAL_CHUNK):
        trackers = Tracker.objects.filter(serial__in=ordered[start : start + _SERIAL_CHUNK])
        if client_ids is not None:
            trackers = trackers.filter(production_run__brand__client_id__in=client_ids)
        found.update(trackers.values_list("serial", "id"))
    return found


def _existing_duplicates(candidates: list[tuple[int, int, datetime]]) -> list[int]:
    # An exact pair lookup joined against the batch (the unique index answers it); a
    # "tracker IN (..) AND timestamp IN (..)" filter would match the cross product instead.
    if not candidates:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(i, tracker_id, adapt(ts)) for i, tracker_id, ts in candidates]
    pairs, params = rows_cte("v", (("idx", "bigint"), ("tid", "bigint"), ("ts", "timestamptz")), rows)
    table = LocationHistory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {pairs} SELECT v.idx FROM v JOIN {table} h ON h.tracker_id = v.tid AND h.timestamp = v.ts", params
        )
        return [row[0] for row in cursor.fetchall()]


# --- the API write service ------------------------------------------------------------------------


def ingest_location_reports(
    *, reports: Sequence[object], client_ids: frozenset[int] | None, now: datetime | None = None
) -> IngestResult:
    """Validate and store one batch of reports all-or-nothing, then refresh the trackers' state."""
    if not reports:
        return IngestResult(received=0, created=0, trackers=0, state_updated=0)
    if len(reports) > conf.INGEST_MAX_BATCH:
        raise BatchTooLarge(BATCH_TOO_LARGE.format(max=conf.INGEST_MAX_BATCH, count=len(reports)))
    now = now or timezone.now()
    try:
        return _ingest(reports, client_ids, now)
    except IntegrityError:
        # A concurrent request inserted one of our pairs between the check and the insert:
        # validate again so the caller gets the row errors, not a 500.
        rows, errors = validate_batch(reports, client_ids=client_ids, now=now)
        raise IngestRejected(errors or [RowError(-1, None, {"reports": CONCURRENT_CONFLICT})], len(reports)) from None


def _ingest(reports, client_ids, now) -> IngestResult:
    with transaction.atomic():
        rows, errors = validate_batch(reports, client_ids=client_ids, now=now)
        if errors:
            raise IngestRejected(errors, len(reports))
        created = LocationHistory.objects.bulk_create(rows)
        # The ingest applies its own reports at once (same "never older" rule as the sync), so
        # the dashboard shows them without waiting for the next sync; the sync re-applying them
        # later changes nothing.
        updated = apply_reports(_as_reports(created), now=now)
        invalidate_dashboard(source="ingest")  # on commit; dropped with a rollback
    return IngestResult(
        received=len(reports),
        created=len(created),
        trackers=len({row.tracker_id for row in created}),
        state_updated=len(updated),
    )


def _as_reports(rows: Iterable[LocationHistory]) -> list[Report]:
    return [
        Report(r.pk, r.tracker_id, r.timestamp, r.latitude, r.longitude, r.nearest_city, r.confidence) for r in rows
    ]


# --- the file import service ----------------------------------------------------------------------


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    batches: int = 0
    invalid_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Return whether every row was valid."""
        return self.invalid_rows == 0

    @property
    def committed(self) -> bool:
        """Return whether the rows were written."""
        return self.ok and not self.dry_run


class _RollBack(Exception):
    pass


def import_location_reports(
    rows: Iterable[tuple[int, object]],
    *,
    batch_size: int,
    client_ids: frozenset[int] | None = None,
    dry_run: bool = False,
    max_errors: int = 50,
    now: datetime | None = None,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import ``(line, report)`` pairs in batches inside one transaction: the whole file or nothing."""
    now = now or timezone.now()
    result = ImportResult(dry_run=dry_run)
    iterator = iter(rows)
    try:
        with transaction.atomic():
            while batch := list(islice(iterator, batch_size)):
                _import_batch(batch, result, client_ids, now, max_errors)
                if progress:
                    progress(result)
            if not result.committed:
                raise _RollBack
            if result.created:
                invalidate_dashboard(source="ingest")  # on commit; dropped with a rollback
    except _RollBack:
        result.created = 0
    return result


def _import_batch(batch, result, client_ids, now, max_errors) -> None:
    labels = [line for line, _ in batch]
    new_rows, errors = validate_batch(
        [raw for _, raw in batch], client_ids=client_ids, now=now, labels=labels, label_name="line"
    )
    result.rows += len(batch)
    result.batches += 1
    if errors:
        result.invalid_rows += len(errors)
        result.errors += errors[: max(0, max_errors - len(result.errors))]
    elif result.ok:
        # Earlier batches are inserted in this transaction, so the duplicate check of later
        # batches sees them: a pair repeated anywhere in the file is caught. After the first
        # bad batch the rest is only validated (the transaction will be rolled back anyway).
        LocationHistory.objects.bulk_create(new_rows)
        result.created += len(new_rows)
