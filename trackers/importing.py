"""Streaming readers for location exports: CSV and JSON Lines, optionally gzip-compressed.

Each reader yields ``(line_number, report)`` one row at a time from an open text stream, so a file
of any length is read in constant memory. ``report`` is a dict, or a ``ValueError`` describing a
line that could not be parsed (the ingest reports it as that line's error).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

FORMATS = ("csv", "jsonl")
REQUIRED_COLUMNS = ("serial", "timestamp", "latitude", "longitude")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing, unknown format, no header)."""


def detect_format(path: str, explicit: str | None = None) -> str:
    """Return "csv" or "jsonl" from ``explicit`` or the file name (``.gz`` is looked through)."""
    if explicit:
        return explicit
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise ImportFileError(f"Cannot tell the format of {path!r} from its name; pass --format csv or --format jsonl.")


@contextmanager
def open_text(path: str) -> Iterator[TextIO]:
    """Open ``path`` (``-`` is stdin; ``.gz`` is decompressed on the fly) as UTF-8 text."""
    if path == "-":
        yield io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        return
    try:
        if path.lower().endswith(".gz"):
            handle = gzip.open(path, "rt", encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
        else:
            handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ImportFileError(f"Cannot open {path!r}: {exc.strerror or exc}.") from exc
    with handle:
        yield handle


def read_reports(stream: TextIO, fmt: str) -> Iterator[tuple[int, object]]:
    """Yield ``(line, report)`` pairs from a CSV or JSON Lines stream."""
    if fmt == "csv":
        return read_csv(stream)
    if fmt == "jsonl":
        return read_jsonl(stream)
    raise ImportFileError(f"Unknown format {fmt!r}; choose from {', '.join(FORMATS)}.")


def read_csv(stream: TextIO) -> Iterator[tuple[int, object]]:
    """Yield CSV rows as dicts keyed by the header; empty cells are None; extra columns are ignored."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames
    if not header:
        raise ImportFileError("The CSV file is empty; expected a header row.")
    missing = [c for c in REQUIRED_COLUMNS if c not in {h.strip() for h in header}]
    if missing:
        raise ImportFileError(f"The CSV header lacks {', '.join(missing)} (has: {', '.join(header)}).")
    for row in reader:
        # DictReader puts surplus cells under None; a short row leaves missing keys as None.
        yield (
            reader.line_num,
            {
                (key or "").strip(): (value.strip() or None if isinstance(value, str) else None)
                for key, value in row.items()
                if key is not None
            },
        )


def read_jsonl(stream: TextIO) -> Iterator[tuple[int, object]]:
    """Yield one decoded JSON value per non-blank line."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ValueError(f"invalid JSON: {exc.msg} (column {exc.colno}).")
