"""The child processes of a torture run: create the data set, work, delete the data set."""

import json
import time
from pathlib import Path

from monitoring.torture import worker, workload
from monitoring.torture.records import Recorder


def setup(run_dir: Path, *, tag: str, slots: int) -> None:
    """Create the data set, write its ids and record every object's initial state."""
    data = workload.create_dataset(tag, slots)
    (run_dir / "dataset.json").write_text(json.dumps(data))
    recorder = Recorder(run_dir / "setup.jsonl")
    at = time.time()
    for k in range(slots):
        for obj, state in workload.db_states(data, k).items():
            recorder.write(obj, state, at)
    recorder.close()


def teardown(run_dir: Path) -> None:
    """Delete the data set's rows."""
    path = run_dir / "dataset.json"
    if path.exists():
        workload.delete_dataset(json.loads(path.read_text()))


def work(run_dir: Path, *, slot: int, generation: int, until: float, final_at: float, seed: int, invalidation: bool):
    """Run one worker process."""
    _immediate_sqlite_transactions()
    if not invalidation:
        switch_off_invalidation()
    data = json.loads((run_dir / "dataset.json").read_text())
    worker.run(run_dir=run_dir, data=data, slot=slot, generation=generation, until=until, final_at=final_at, seed=seed)


def _immediate_sqlite_transactions() -> None:
    # SQLite: a transaction that reads and then writes fails at once with "database is locked"
    # when another process writes (the lock upgrade cannot wait). BEGIN IMMEDIATE takes the
    # write lock first, so concurrent writers queue within the timeout, as on PostgreSQL.
    from django.db import connections

    params = connections["default"].settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        params.setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"


def switch_off_invalidation() -> None:
    """The negative control: this process's writes record no invalidation and it applies none.

    It reaches into the engine on purpose (a control must break exactly the thing measured);
    the negative-control test fails if a change of the engine makes this a no-op.
    """
    from cachecore import invalidation

    def nothing(*args, **kwargs):
        return None

    for name in ("_schedule", "_record", "invalidate_now"):  # where writes hand over their invalidation
        if hasattr(invalidation, name):
            setattr(invalidation, name, nothing)
    try:
        from cachecore import relay
    except ImportError:
        return
    relay.set_manual(True)  # no in-process relay thread applies what triggers record
