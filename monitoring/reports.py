"""Plain-text performance reports (``manage.py perf_report``)."""

from monitoring.performance import SQL, PerformanceTracker

SORT_KEYS = {
    "p95": lambda s: (s["p95"] or 0, s["avgTime"] or 0),
    "total": lambda s: s["totalTime"] or 0,
    "count": lambda s: s["count"],
    "mean": lambda s: s["avgTime"] or 0,
}
COLUMNS = [
    ("Name", "name", "<"),
    ("Kind", "kind", "<"),
    ("Count", "count", ">"),
    ("Total ms", "totalTime", ">"),
    ("Mean", "avgTime", ">"),
    ("Min", "minTime", ">"),
    ("P50", "p50", ">"),
    ("P95", "p95", ">"),
    ("P99", "p99", ">"),
    ("Max", "maxTime", ">"),
    ("Slow", "slowQueries", ">"),
    ("Crit", "criticalQueries", ">"),
    ("Rating", "rating", "<"),
]
NAME_WIDTH = 70


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _name(value: str) -> str:
    return value if len(value) <= NAME_WIDTH else value[: NAME_WIDTH - 1] + "…"


def summary_rows(source: PerformanceTracker, *, top: int, kind: str | None, sort: str) -> list[dict]:
    """Return up to ``top`` name summaries of ``kind`` (None: all), ordered by ``sort`` descending."""
    rows = sorted(source.summaries(kind), key=SORT_KEYS[sort], reverse=True)
    return rows[:top]


def format_table(rows: list[dict]) -> str:
    """Return ``rows`` as an aligned text table."""
    cells = [[_name(r["name"]) if key == "name" else _cell(r[key]) for _, key, _ in COLUMNS] for r in rows]
    widths = [max([len(title)] + [len(row[i]) for row in cells]) for i, (title, _, _) in enumerate(COLUMNS)]

    def line(values):
        padded = (f"{v:{align}{w}}" for v, w, (_, _, align) in zip(values, widths, COLUMNS, strict=True))
        return "  ".join(padded).rstrip()

    header = line([title for title, _, _ in COLUMNS])
    return "\n".join([header, "-" * len(header), *(line(row) for row in cells)])


def format_overview(source: PerformanceTracker) -> str:
    """Return one line of SQL totals: count, time, mean, percentiles, slow/critical, rating."""
    o = source.overview(SQL)
    return (
        f"SQL statements: {o['totalQueries']} in {_cell(o['totalTime'])} ms; mean {_cell(o['avgTime'])} ms; "
        f"p50 {_cell(o['p50'])} / p95 {_cell(o['p95'])} / p99 {_cell(o['p99'])} ms; "
        f"slow {o['slowQueries']}, critical {o['criticalQueries']}; rating {o['rating']}"
    )


def format_regressions(source: PerformanceTracker) -> list[str]:
    """Return one line per regression."""
    return [
        f"REGRESSION {_name(r['name'])}: median {_cell(r['baselineMedian'])} ms -> {_cell(r['recentMedian'])} ms "
        f"(x{r['ratio']})"
        for r in source.regressions()
    ]
