"""The coordinator of a torture run: data set, private Redis, workers, relay, faults, checker.

It touches neither the database nor a cache itself: setup, workers and teardown are child
processes (``manage.py cache_torture --phase ...``) with the run's environment, so with a
private redis-server nothing reaches the configured one.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands
from django.db import connection

from cachecore.api import staleness_bound
from monitoring.torture import checker, faults, records, workload

STARTUP_SECONDS = 6.0  # a worker process needs a few seconds to import Django and log in
SETTLE_MARGIN = 2.0  # after the longest bound, before the final reads
RELAY_RESTART_DELAY = 1.0


@dataclass
class Options:
    seconds: float
    processes: int
    faults: tuple[str, ...]
    seed: int = 1
    invalidation: bool = True  # False: the negative control (workers invalidate nothing)
    progress: object = None  # callable(dict) for the live display, or None


@dataclass
class _State:
    workers: dict = field(default_factory=dict)  # slot -> (process, generation)
    relay: subprocess.Popen | None = None
    injected: list = field(default_factory=list)
    injected_at: list = field(default_factory=list)  # seconds after the start of the read/write phase
    started: float = 0.0
    problems: list = field(default_factory=list)


def bound_of(obj: str) -> float:
    """Return the allowed staleness of the namespace an object is read through."""
    return staleness_bound(workload.namespace_of(obj))


def _manage(*args) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "cache_torture", *map(str, args)]


def _uses_redis() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def _relay_command() -> list[str] | None:
    commands = get_commands()
    if "cache_relay" in commands:
        return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "cache_relay"]
    if connection.vendor == "postgresql" and "listen_invalidations" in commands:
        return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "listen_invalidations"]
    return None


def run(options: Options) -> dict:
    """Run the torture and return the checker's summary (the ``--json`` object)."""
    tag = f"torture-{uuid.uuid4().hex[:8]}"
    private = faults.PrivateRedis().start() if options.faults or (options.processes > 1 and not _uses_redis()) else None
    env = {**os.environ, "AI_ANALYSIS_LATENCY": "0", "CACHECORE_PREWARM_ON_START": "0"}
    env.pop("AI_ANALYSIS_URL", None)  # the fast local provider
    if private is not None:
        env.update(REDIS_URL=private.url, CACHE_KEY_PREFIX=tag)
    state = _State()
    with tempfile.TemporaryDirectory(prefix="cache-torture-") as tmp:
        run_dir = Path(tmp)
        try:
            setup = subprocess.run(
                _manage("--phase", "setup", "--run-dir", run_dir, "--processes", options.processes, "--tag", tag),
                env=env,
                check=False,
            )
            if setup.returncode != 0:
                raise RuntimeError(f"the set-up phase failed (exit status {setup.returncode}); its error is above.")
            data = json.loads((run_dir / "dataset.json").read_text())
            try:
                _drive(options, state, run_dir, env, private)
            finally:
                for process, _ in state.workers.values():
                    faults.kill(process)
                if state.relay is not None:
                    faults.kill(state.relay)
                subprocess.run(_manage("--phase", "teardown", "--run-dir", run_dir), env=env, check=False)
        finally:
            if private is not None:
                private.stop()
        return summarize(options, state, records.load(run_dir), data, "private" if private else _redis_label())


def _redis_label() -> str:
    return "configured" if _uses_redis() else "local memory"


def _drive(options: Options, state: _State, run_dir: Path, env: dict, private) -> None:
    relay_command = _relay_command() if options.invalidation else None
    if relay_command is not None:
        state.relay = subprocess.Popen(relay_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.time()
    until = started + STARTUP_SECONDS + options.seconds
    longest = max(bound_of(obj) for obj in workload.objects_of(json.loads((run_dir / "dataset.json").read_text())))
    final_at = until + longest + SETTLE_MARGIN

    def spawn(slot: int, generation: int):
        args = ["--phase", "worker", "--run-dir", run_dir, "--slot", slot, "--generation", generation]
        args += ["--until", until, "--final-at", final_at, "--seed", options.seed]
        if not options.invalidation:
            args.append("--no-invalidation")
        state.workers[slot] = (subprocess.Popen(_manage(*args), env=env), generation)

    for slot in range(options.processes):
        spawn(slot, 0)
    state.started = started + STARTUP_SECONDS
    schedule = _schedule(options, state.started)
    pending_unfill = relay_back_at = None
    tallies = {}
    last_progress = 0.0
    while True:
        now = time.time()
        while schedule and schedule[0][0] <= now:
            _, kind = schedule.pop(0)
            if kind == "stall":
                private.stall()
            elif kind == "restart":
                private.restart_empty()
            elif kind == "full":
                private.fill()
                pending_unfill = now + faults.FULL_SECONDS
            elif kind == "kill-writer":
                (run_dir / f"kill-{len(state.injected) % options.processes}").touch()
            elif kind == "kill-relay":
                if state.relay is None:
                    state.problems.append("kill-relay: no relay process to kill on this database")
                    continue
                faults.kill(state.relay)
                relay_back_at = now + RELAY_RESTART_DELAY
            state.injected.append(kind)
            state.injected_at.append(round(now - state.started, 1))
        if pending_unfill is not None and now >= pending_unfill:
            private.unfill()
            pending_unfill = None
        if relay_back_at is not None and now >= relay_back_at:
            state.relay = subprocess.Popen(relay_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            relay_back_at = None
        running = 0
        for slot, (process, generation) in list(state.workers.items()):
            code = process.poll()
            if code is None:
                running += 1
            elif code == -9 and now < until - 1:  # the writer we killed: its slot goes on
                spawn(slot, generation + 1)
                running += 1
            elif code not in (0, -9):
                state.problems.append(f"worker {slot}.{generation} exited with status {code}")
                state.workers.pop(slot)  # reported once
        if options.progress is not None and now - last_progress >= 1.0:
            last_progress = now
            options.progress(_progress(run_dir, tallies, now - started, until - started, final_at - started, state))
        if not running and now > until:
            return
        if now > final_at + 120:
            state.problems.append("workers did not finish within 120 s of the final reads; killed")
            return
        time.sleep(0.1)


def _schedule(options: Options, start: float) -> list[tuple[float, str]]:
    kinds = options.faults
    return [(start + options.seconds * (i + 1) / (len(kinds) + 1), kind) for i, kind in enumerate(kinds)]


def _progress(run_dir: Path, tallies: dict, elapsed: float, until: float, final_at: float, state: _State) -> dict:
    for path in run_dir.glob("worker-*.jsonl"):
        counts, offset = records.tally(path, tallies.get(path, (None, 0))[1])
        previous = tallies.get(path, ({"reads": 0, "writes": 0, "errors": 0}, 0))[0]
        tallies[path] = ({k: previous[k] + counts[k] for k in counts}, offset)
    total = {"reads": 0, "writes": 0, "errors": 0}
    for counts, _ in tallies.values():
        for key in total:
            total[key] += counts[key]
    phase = "starting" if elapsed < STARTUP_SECONDS else "running" if elapsed < until else "settling"
    return {
        "elapsed": elapsed,
        "until": until,
        "final_at": final_at,
        "phase": phase,
        "faults": list(state.injected),
        **total,
    }


def summarize(options: Options, state: _State, loaded: dict, data: dict, redis_label: str) -> dict:
    """Return the ``--json`` object of a run from its loaded history."""
    objects = workload.objects_of(data)
    bounds = {obj: bound_of(obj) for obj in objects}
    result = checker.check(loaded["writes"], loaded["reads"], bounds)
    latencies = loaded["latencies_ms"]
    reads = sum(1 for r in loaded["reads"] if not r.final)
    writes = sum(1 for r in loaded["latencies_ms"]) - reads
    errors = loaded["errors"]
    return {
        "operations": reads + writes,
        "reads": reads,
        "writes": writes,
        "stale_beyond_bound": result["stale_beyond_bound"],
        "max_staleness_s": result["max_staleness_s"],
        "staleness_p50_s": result["staleness_p50_s"],
        "staleness_p99_s": result["staleness_p99_s"],
        "stale_reads": result["stale_reads"],
        "unmatched_reads": result["unmatched_reads"],
        "errors": len(errors) + len(state.problems),
        "lost_invalidations": result["lost_invalidations"],
        "faults_injected": state.injected,
        "p50_ms": _rounded(checker.percentile(latencies, 0.5)),
        "p99_ms": _rounded(checker.percentile(latencies, 0.99)),
        "seconds": options.seconds,
        "processes": options.processes,
        "database": connection.vendor,
        "redis": redis_label,
        "invalidation": options.invalidation,
        "verifier": loaded["verifier"],
        "bounds_s": {workload.namespace_of(o): b for o, b in sorted(bounds.items())},
        "fault_times_s": dict(zip(state.injected, state.injected_at, strict=True)),
        "stale_examples": [{**e, "at": round(e["at"] - state.started, 1)} for e in result["examples"]],
        "lost_objects": result["lost_objects"],
        "unmatched_examples": result["unmatched_examples"],
        "error_examples": [f"{e['op']}: {e['error']}" for e in errors[:5]] + state.problems[:5],
    }


def _rounded(value) -> float:
    return 0.0 if value is None else round(value, 2)
