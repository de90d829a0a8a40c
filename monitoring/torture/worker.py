"""One worker process of a torture run: random reads of every slot, writes of its own slot."""

import random
import time
import traceback
from pathlib import Path

from django.db import connection

from cachecore.api import consistency_report
from monitoring.torture import workload
from monitoring.torture.records import Recorder

READ_SHARE = 0.75  # three reads for every write
ENDPOINT_SHARE = 0.2  # of the client and page reads, this share goes through the HTTP endpoint


def run(*, run_dir: Path, data: dict, slot: int, generation: int, until: float, final_at: float, seed: int) -> None:
    """Read and write until ``until``; at ``final_at`` read every object once more; then return."""
    rng = random.Random(seed * 1009 + slot * 101 + generation)
    recorder = Recorder(run_dir / f"worker-{slot}-{generation}.jsonl")
    reader = workload.Reader(data)
    writer = workload.Writer(data, slot, f"{slot}.{generation}", raw_sql=connection.vendor == "postgresql")
    objects = workload.objects_of(data)
    kinds = writer.kinds()
    try:
        while time.time() < until:
            if rng.random() < READ_SHARE:
                obj = rng.choice(objects)
                endpoint = obj.split(":")[0] in ("client", "page") and rng.random() < ENDPOINT_SHARE
                _read(recorder, reader, obj, endpoint=endpoint)
            else:
                _write(recorder, writer, rng.choice(kinds), run_dir, slot)
        time.sleep(max(0.0, final_at - time.time()))
        for obj in objects:
            _read(recorder, reader, obj, final=True)
        recorder.verifier(consistency_report())
    finally:
        recorder.close()


def _read(recorder: Recorder, reader: workload.Reader, obj: str, *, endpoint: bool = False, final: bool = False):
    start = time.time()
    try:
        state = reader.read(obj, endpoint=endpoint)
    except Exception as exc:  # noqa: BLE001 - counted as an error of the run, never fatal
        recorder.error(f"read {obj}", _describe(exc), start)
        return
    recorder.read(obj, state, start, time.time(), final=final, via="endpoint" if endpoint else "service")


def _write(recorder: Recorder, writer: workload.Writer, kind: str, run_dir: Path, slot: int) -> None:
    start = time.time()
    try:
        states = writer.write(kind)
    except Exception as exc:  # noqa: BLE001 - counted as an error of the run, never fatal
        recorder.error(f"write {kind}", _describe(exc), start)
        _record_after_error(recorder, writer)
        return
    committed = time.time()
    ms = (committed - start) * 1000
    for obj, state in states.items():
        recorder.write(obj, state, committed, kind=kind, ms=ms)
        ms = None  # one latency per write, not per object
    if workload.kill_requested(run_dir, slot):
        workload.die_now()  # right after the commit: the invalidation must survive the writer


def _record_after_error(recorder: Recorder, writer: workload.Writer) -> None:
    # A failure after the commit (an on_commit hook that raised) leaves a committed state the
    # history must know, or later reads of it would look unmatched. Re-read the slot: a rolled
    # back write records the previous state again (harmless); its time is now, which can only
    # make the staleness charged to readers smaller, never larger.
    try:
        states = workload.db_states(writer.data, writer.slot)
    except Exception as exc:  # noqa: BLE001
        recorder.error("re-read after a failed write", _describe(exc), time.time())
        return
    at = time.time()
    for obj, state in states.items():
        recorder.write(obj, state, at, kind="after-error")


def _describe(exc: Exception) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
