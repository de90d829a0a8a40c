"""The set-based state sync step on PostgreSQL: one statement folds an id range of history into state.

``apply_range(low, high, now=...)`` runs ONE statement for the history rows with
``low < id <= high``: a hash aggregate finds each tracker's newest timestamp in the range (and
counts the rows read), the newest row is fetched back through the ``(tracker, timestamp)`` unique
index (a tracker has at most one report per instant, so "newest by timestamp" is one row), and a
guarded ``UPDATE ... FROM`` applies it only where it is newer than the stored state. Nothing per
row travels to Python: the process's memory is flat in the number of rows, and so is the
server's (the aggregate holds one entry per tracker, not per row; no sort of the range).

``DISTINCT ON (tracker_id) ... ORDER BY tracker_id, timestamp DESC`` says the same thing, but it
sorts the whole range: 1,000,000 rows spill to disk at the default ``work_mem`` and took 3.2 s
where the aggregate takes 0.7 s on the same data (benchmarks/results/sync.md).

The guard ``latest_timestamp IS NULL OR latest_timestamp < newest`` is evaluated by the database
under the row lock (a concurrent ingest that moved the state further is re-checked, and wins), so
an older report arriving late never overwrites a newer state, and a tracker whose state would not
change is not rewritten (no dead row, no index entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from trackers.conf import conf
from trackers.models import TrackerStatus

REVIVABLE = (TrackerStatus.LOST, TrackerStatus.INACTIVE)


@dataclass(frozen=True, slots=True)
class RangeOutcome:
    """What one set-based step did: rows read in the range and the trackers whose state moved."""

    rows: int
    changed: list[int]


def _statement() -> str:
    revivable = ", ".join(f"'{s.value}'" for s in REVIVABLE)
    return f"""
        WITH newest AS (
            SELECT tracker_id, max(timestamp) AS ts, count(*) AS n
            FROM trackers_locationhistory
            WHERE id > %(low)s AND id <= %(high)s
            GROUP BY tracker_id
        ),
        changed AS (
            UPDATE trackers_tracker AS t SET
                latest_latitude = h.latitude,
                latest_longitude = h.longitude,
                latest_timestamp = h.timestamp,
                latest_nearest_city = h.nearest_city,
                latest_confidence = h.confidence,
                latest_history_id = h.id,
                last_report_received = GREATEST(t.last_report_received, h.timestamp),
                current_status = CASE
                    WHEN h.timestamp >= %(fresh_after)s AND t.current_status IN ({revivable})
                    THEN '{TrackerStatus.IN_TRANSIT.value}' ELSE t.current_status END
            FROM newest
            JOIN trackers_locationhistory AS h ON h.tracker_id = newest.tracker_id AND h.timestamp = newest.ts
            WHERE t.id = newest.tracker_id
              AND (t.latest_timestamp IS NULL OR t.latest_timestamp < newest.ts)
            RETURNING t.id
        )
        SELECT (SELECT coalesce(sum(n), 0) FROM newest), (SELECT coalesce(array_agg(id), '{{}}') FROM changed)
    """


def apply_range(low: int, high: int, *, now: datetime) -> RangeOutcome:
    """Apply the history rows with ``low < id <= high`` to tracker state in one statement."""
    fresh_after = now - timedelta(hours=conf.LOST_AFTER_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {"low": low, "high": high, "fresh_after": fresh_after})
        rows, changed = cursor.fetchone()
    return RangeOutcome(rows=int(rows), changed=list(changed))
