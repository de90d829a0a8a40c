"""The history files of a torture run: one JSON Lines file per worker process, read at the end."""

import json
from pathlib import Path

from monitoring.torture.checker import Read, Write


class Recorder:
    """Append records to one file; every line is flushed so a SIGKILL loses nothing written."""

    def __init__(self, path: Path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _put(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def write(self, obj: str, state: str, at: float, *, kind: str = "setup", ms: float | None = None) -> None:
        """Record a committed state of ``obj``."""
        self._put({"t": "w", "obj": obj, "state": state, "at": at, "kind": kind, "ms": ms})

    def read(self, obj: str, state: str, start: float, end: float, *, final: bool = False, via: str = "service"):
        """Record what a read of ``obj`` saw."""
        self._put({"t": "r", "obj": obj, "state": state, "s": start, "e": end, "final": final, "via": via})

    def verifier(self, report: dict) -> None:
        """Record this process's sampling-verifier counts (CACHECORE_VERIFY_RATE)."""
        self._put({"t": "verify", "namespaces": report["namespaces"]})

    def error(self, op: str, error: str, at: float) -> None:
        """Record an operation that raised."""
        self._put({"t": "err", "op": op, "error": error[:500], "at": at})

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def load(run_dir: Path) -> dict:
    """Return the writes, reads, errors and operation latencies (ms) of every file of a run."""
    writes, reads, errors, latencies = [], [], [], []
    verifier = {"verified": 0, "inconsistent": 0, "dropped": 0, "errors": 0}
    for path in sorted(run_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a killed writer may be cut (it was not flushed whole)
            if rec["t"] == "w":
                writes.append(Write(rec["obj"], rec["state"], rec["at"]))
                if rec.get("ms") is not None:
                    latencies.append(rec["ms"])
            elif rec["t"] == "verify":
                for row in rec["namespaces"].values():
                    for key in verifier:
                        verifier[key] += row[key]
            elif rec["t"] == "r":
                reads.append(Read(rec["obj"], rec["state"], rec["s"], rec["e"], rec.get("final", False)))
                if not rec.get("final"):
                    latencies.append((rec["e"] - rec["s"]) * 1000)
            else:
                errors.append(rec)
    return {"writes": writes, "reads": reads, "errors": errors, "latencies_ms": latencies, "verifier": verifier}


def tally(path: Path, offset: int) -> tuple[dict, int]:
    """Return the reads, writes and errors appended since ``offset`` and the new offset (progress)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return {"reads": 0, "writes": 0, "errors": 0}, offset
    chunk = chunk[: chunk.rfind(b"\n") + 1]
    counts = {
        "reads": chunk.count(b'"t":"r"'),
        "writes": chunk.count(b'"t":"w"') - chunk.count(b'"ms":null'),
        "errors": chunk.count(b'"t":"err"'),
    }
    return counts, offset + len(chunk)
