"""manage.py perf_report: the deployment's table (here one process), snapshots (save, merge a directory), errors."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from monitoring.performance import OPERATION, SQL
from monitoring.snapshots import write_snapshot

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db  # without --snapshot the report reads the shared store


def report(*args, **options):
    out = StringIO()
    call_command("perf_report", *args, stdout=out, no_color=True, **options)
    return out.getvalue()


@pytest.fixture
def recorded(fresh_tracker):
    for ms in (10.0, 20.0, 30.0, 40.0):
        fresh_tracker.record("SELECT * FROM t WHERE id = ?", ms, SQL)
    fresh_tracker.record("build.dashboard", 750.0, OPERATION)
    return fresh_tracker


def test_table_of_this_process(recorded):
    text = report()
    assert "Performance report (1 process(es) since " in text and ", this process; times in ms)" in text
    assert "SQL statements: 4 in 100.00 ms; mean 25.00 ms" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Name"))
    assert header.split() == [
        "Name",
        "Kind",
        "Count",
        "Total",
        "ms",
        "Mean",
        "Min",
        "P50",
        "P95",
        "P99",
        "Max",
        "Slow",
        "Crit",
        "Rating",
    ]
    rows = [line.split() for line in lines if line.startswith(("SELECT", "build."))]
    assert rows[0][:4] == ["build.dashboard", "operation", "1", "750.00"]  # slowest P95 first
    assert rows[0][-3:] == ["1", "1", "CRITICAL"]
    count, total, mean, minimum, p50, p95, p99, maximum, slow, crit, rating = rows[1][-11:]
    assert (count, total, mean, minimum, maximum, slow, crit, rating) == (
        "4",
        "100.00",
        "25.00",
        "10.00",
        "40.00",
        "0",
        "0",
        "GOOD",
    )
    assert abs(float(p50) - 20.0) <= 0.2  # sketch estimates: within 1 %
    assert float(p95) == float(p99) == 40.0  # nearest rank: ceil(0.95 * 4) = 4th sample, exact max


def test_kind_filter_and_sort(recorded):
    text = report(kind="sql", sort="count")
    assert "build.dashboard" not in text
    assert "SELECT * FROM t WHERE id = ?" in text


def test_json_is_the_health_performance_section(recorded):
    data = json.loads(report(json=True))
    assert data["totalQueries"] == 4
    assert data["operations"]["totalQueries"] == 1
    assert {"topSlowest", "regressions", "p95"} <= set(data)


def test_empty_process_says_so(fresh_tracker):
    assert "No samples recorded." in report()


def test_save_then_merge_a_directory_of_snapshots(recorded, tmp_path):
    report(save=str(tmp_path / "perf-1.json"))
    other = tmp_path / "perf-2.json"
    recorded.reset()
    recorded.record("SELECT * FROM t WHERE id = ?", 100.5, SQL)
    write_snapshot(other)
    text = report(snapshot=str(tmp_path))
    assert "2 snapshot file(s)" in text
    assert "SQL statements: 5 in 200.50 ms" in text
    assert "slow 1, critical 0" in text


def test_errors_name_the_option(tmp_path):
    with pytest.raises(CommandError, match="--snapshot"):
        report(snapshot=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="--snapshot"):
        report(snapshot=str(bad))
    with pytest.raises(CommandError, match="--top"):
        report(top=0)


def test_processes_write_a_snapshot_at_exit_when_configured(tmp_path):
    env = {**os.environ, "MONITORING_SNAPSHOT_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c: c.execute('SELECT 42'); c.execute('SELECT 7')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (snapshot,) = tmp_path.glob("perf-*.json")
    names = {item["name"]: item for item in json.loads(snapshot.read_text())["names"]}
    assert names["SELECT ?"]["sketch"]["count"] == 2
    assert "SELECT ?" in report(snapshot=str(tmp_path), kind="sql")
