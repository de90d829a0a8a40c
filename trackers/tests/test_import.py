"""manage.py import_locations: CSV and JSON Lines, streaming, same validation as the API, all-or-nothing."""

import gc
import gzip
import json
import tracemalloc
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring.query_timing import flush as flush_query_timings
from tests.factories import BASE_TIME, make_dataset
from trackers import ingest
from trackers.importing import ImportFileError, detect_format, read_csv
from trackers.ingest import import_location_reports
from trackers.management.commands.import_locations import Command
from trackers.models import LocationHistory, Tracker

pytestmark = pytest.mark.django_db
HEADER = "serial,timestamp,latitude,longitude,nearest_city,confidence\n"


@pytest.fixture
def data(db):
    return make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=1)


@pytest.fixture(autouse=True)
def quiet_progress(monkeypatch):
    monkeypatch.setattr(Command, "progress_every", 3600.0)


def row(tracker, hours, **overrides) -> dict:
    values = {
        "serial": tracker.serial,
        "timestamp": (BASE_TIME + timedelta(hours=hours)).isoformat(),
        "latitude": 48.1,
        "longitude": 11.5,
        "nearest_city": "Munich",
        "confidence": 0.7,
    }
    values.update(overrides)
    return values


def write_csv(path, rows) -> str:
    lines = [HEADER] + [
        ",".join("" if r.get(k) is None else str(r.get(k)) for k in HEADER.strip().split(",")) + "\n" for r in rows
    ]
    path.write_text("".join(lines))
    return str(path)


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_locations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class TestGoodFiles:
    def test_csv(self, data, tmp_path):
        a, b = data.trackers[:2]
        path = write_csv(tmp_path / "reports.csv", [row(a, 5), row(a, 6), row(b, 5, confidence=None)])
        out, _ = run(path)
        assert "Imported 3 location reports in 1 batches." in out
        assert LocationHistory.objects.filter(tracker=a).count() == 3
        assert LocationHistory.objects.get(tracker=b, timestamp=BASE_TIME + timedelta(hours=5)).confidence is None

    def test_jsonl_in_several_batches(self, data, tmp_path):
        rows = [row(data.trackers[h % 4], 10 + h) for h in range(7)]
        out, _ = run(write_jsonl(tmp_path / "reports.jsonl", rows), "--batch-size", "3")
        assert "Imported 7 location reports in 3 batches." in out
        assert LocationHistory.objects.count() == 4 + 7

    def test_gzip_and_explicit_format(self, data, tmp_path):
        path = tmp_path / "export.data.gz"
        with gzip.open(path, "wt") as handle:
            handle.write(json.dumps(row(data.trackers[0], 9)) + "\n\n")  # blank lines are skipped
        run(str(path), "--format", "jsonl")
        assert LocationHistory.objects.filter(timestamp=BASE_TIME + timedelta(hours=9)).count() == 1

    def test_extra_csv_columns_are_ignored(self, data, tmp_path):
        path = tmp_path / "r.csv"
        path.write_text(
            f"battery,serial,timestamp,latitude,longitude\n93,{data.trackers[0].serial},2026-01-03T00:00:00Z,1,2\n"
        )
        run(str(path))
        assert LocationHistory.objects.filter(nearest_city="", confidence=None).count() == 1

    def test_the_import_leaves_state_to_the_sync_unless_asked(self, data, tmp_path):
        tracker = data.trackers[0]
        path = write_jsonl(tmp_path / "r.jsonl", [row(tracker, 30, nearest_city="Imported")])
        out, _ = run(path)
        assert "sync_tracker_state" in out
        assert Tracker.objects.get(pk=tracker.pk).latest_nearest_city == ""
        path = write_jsonl(tmp_path / "s.jsonl", [row(tracker, 31, nearest_city="Synced")])
        out, _ = run(path, "--sync")
        assert "State sync:" in out
        assert Tracker.objects.get(pk=tracker.pk).latest_nearest_city == "Synced"

    def test_dry_run_validates_and_writes_nothing(self, data, tmp_path):
        out, _ = run(write_jsonl(tmp_path / "r.jsonl", [row(data.trackers[0], 5)]), "--dry-run")
        assert "Dry run: all 1 rows are valid; nothing was written." in out
        assert LocationHistory.objects.count() == 4


class TestBadFiles:
    def test_one_bad_row_rejects_the_whole_file_even_after_earlier_batches(self, data, tmp_path):
        rows = [row(data.trackers[0], 10 + h) for h in range(6)] + [row(data.trackers[1], 5, latitude=95)]
        path = write_csv(tmp_path / "r.csv", rows)
        with pytest.raises(CommandError, match="1 invalid rows; nothing was written"):
            run(path, "--batch-size", "2")
        assert LocationHistory.objects.count() == 4

    def test_row_errors_name_the_line_and_field(self, data, tmp_path):
        rows = [
            row(data.trackers[0], 5),
            row(data.trackers[0], 6, serial="NOPE"),
            row(data.trackers[1], 7, confidence=2),
        ]
        path = write_csv(tmp_path / "r.csv", rows)
        err = StringIO()
        with pytest.raises(CommandError):
            call_command("import_locations", path, stdout=StringIO(), stderr=err)
        lines = err.getvalue().splitlines()
        assert lines[0] == f"line 3 (NOPE): serial: {ingest.UNKNOWN_SERIAL}"
        assert lines[1] == f"line 4 ({data.trackers[1].serial}): confidence: must be between 0 and 1."

    def test_invalid_json_lines_are_row_errors(self, data, tmp_path):
        path = tmp_path / "r.jsonl"
        path.write_text(json.dumps(row(data.trackers[0], 5)) + "\n{broken\n[1, 2]\n")
        err = StringIO()
        with pytest.raises(CommandError, match="2 invalid rows"):
            call_command("import_locations", str(path), stdout=StringIO(), stderr=err)
        assert "line 2 (no serial): report: invalid JSON" in err.getvalue()
        assert f"line 3 (no serial): report: {ingest.NOT_AN_OBJECT}" in err.getvalue()

    def test_a_pair_repeated_across_batches_of_the_file_is_caught(self, data, tmp_path):
        rows = [row(data.trackers[0], 10), row(data.trackers[1], 10), row(data.trackers[0], 10)]
        err = StringIO()
        with pytest.raises(CommandError):
            call_command(
                "import_locations",
                write_jsonl(tmp_path / "r.jsonl", rows),
                "--batch-size",
                "2",
                stdout=StringIO(),
                stderr=err,
            )
        assert ingest.DUPLICATE_EXISTING in err.getvalue()
        assert LocationHistory.objects.count() == 4

    def test_a_duplicate_inside_one_batch_names_the_first_line(self, data, tmp_path):
        rows = [row(data.trackers[0], 10), row(data.trackers[0], 10)]
        err = StringIO()
        with pytest.raises(CommandError):
            call_command("import_locations", write_csv(tmp_path / "r.csv", rows), stdout=StringIO(), stderr=err)
        assert ingest.DUPLICATE_IN_BATCH.format(where="line", index=2) in err.getvalue()

    def test_max_errors_limits_the_listing(self, data, tmp_path):
        rows = [row(data.trackers[0], h, latitude=100) for h in range(10, 20)]
        err = StringIO()
        with pytest.raises(CommandError, match="10 invalid rows"):
            call_command(
                "import_locations",
                write_jsonl(tmp_path / "r.jsonl", rows),
                "--max-errors",
                "3",
                stdout=StringIO(),
                stderr=err,
            )
        assert len([line for line in err.getvalue().splitlines() if line.startswith("line ")]) == 3
        assert "... and 7 more invalid rows" in err.getvalue()

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("r.csv", "", "The CSV file is empty"),
            ("r.csv", "serial,latitude\nX,1\n", "The CSV header lacks timestamp, longitude"),
            ("r.txt", "whatever", "Cannot tell the format"),
        ],
    )
    def test_unreadable_files_fail_clearly(self, data, tmp_path, name, content, message):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(CommandError, match=message):
            run(str(path))

    def test_a_missing_file(self, data, tmp_path):
        with pytest.raises(CommandError, match="Cannot open"):
            run(str(tmp_path / "absent.csv"))

    def test_not_utf8(self, data, tmp_path):
        path = tmp_path / "r.csv"
        path.write_bytes(HEADER.encode() + b"\xff\xfe\xfa,2026-01-01,1,1,,\n")
        with pytest.raises(CommandError, match="not UTF-8"):
            run(str(path))

    def test_client_scope_treats_other_clients_trackers_as_unknown(self, data, tmp_path):
        theirs = next(t for t in data.trackers if t.production_run.brand.client_id == data.clients[1].pk)
        err = StringIO()
        path = write_jsonl(tmp_path / "r.jsonl", [row(theirs, 5)])
        with pytest.raises(CommandError):
            call_command(
                "import_locations", path, "--client-id", str(data.clients[0].pk), stdout=StringIO(), stderr=err
            )
        assert ingest.UNKNOWN_SERIAL in err.getvalue()
        run(path, "--client-id", str(data.clients[1].pk))
        assert LocationHistory.objects.count() == 5

    def test_progress_lines(self, data, tmp_path, monkeypatch):
        monkeypatch.setattr(Command, "progress_every", 0.0)
        rows = [row(data.trackers[0], 10 + h) for h in range(4)]
        out, _ = run(write_jsonl(tmp_path / "r.jsonl", rows), "--batch-size", "2")
        assert "  2 rows read, 2 inserted, 0 invalid ..." in out
        assert "  4 rows read, 4 inserted, 0 invalid ..." in out


class TestReaders:
    def test_detect_format(self):
        assert detect_format("a/b.CSV") == "csv"
        assert detect_format("x.ndjson.gz") == "jsonl"
        assert detect_format("x.bin", "csv") == "csv"
        with pytest.raises(ImportFileError):
            detect_format("x.json")

    def test_csv_rows_carry_their_line_numbers_and_none_for_empty_cells(self):
        rows = list(read_csv(StringIO(HEADER + "A,2026-01-01T00:00:00Z,1,2,,\nB,2026-01-01T00:00:00Z,3,4,X,0.5\n")))
        assert rows[0] == (
            2,
            {
                "serial": "A",
                "timestamp": "2026-01-01T00:00:00Z",
                "latitude": "1",
                "longitude": "2",
                "nearest_city": None,
                "confidence": None,
            },
        )
        assert rows[1][0] == 3


class TestStreaming:
    """A file is read, validated and inserted batch by batch: memory does not grow with its length."""

    @staticmethod
    def live_memory(path) -> dict[int, int]:
        # Live memory (after a collection) at every 5th batch boundary.
        from trackers.importing import open_text, read_reports

        marks = {}

        def measure(result):
            if result.batches % 5 == 0 or result.rows == total:
                flush_query_timings()  # monitoring queues up to 256 statements (bounded, not ours)
                gc.collect()
                marks[result.batches] = tracemalloc.get_traced_memory()[0]

        with open(path) as handle:
            total = sum(1 for _ in handle)
        tracemalloc.start()
        try:
            with open_text(path) as stream:
                result = import_location_reports(read_reports(stream, "jsonl"), batch_size=200, progress=measure)
        finally:
            tracemalloc.stop()
        assert result.created == total
        return marks

    @pytest.mark.django_db(transaction=True)
    def test_memory_does_not_grow_with_file_length(self, tmp_path):
        data = make_dataset(
            clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=10, history_per_tracker=0
        )
        path = tmp_path / "big.jsonl"
        with open(path, "w") as handle:
            for h in range(400):
                for tracker in data.trackers:
                    handle.write(json.dumps(row(tracker, h)) + "\n")
        marks = self.live_memory(str(path))  # 4,000 rows, 20 batches of 200
        # From batch 5 to batch 20 (3,000 rows later) live memory stays put: keeping the rows would
        # cost well over 1 MiB (a dict of six strings and a model instance per row).
        assert marks[20] - marks[5] < 64 * 1024, marks

    def test_rows_are_pulled_from_the_reader_one_batch_at_a_time(self, data):
        pulled = []

        def reader():
            for h in range(10):
                pulled.append(h)
                yield h + 1, row(data.trackers[0], 100 + h)

        seen = []
        import_location_reports(reader(), batch_size=4, progress=lambda result: seen.append(len(pulled)))
        assert seen == [4, 8, 10]
