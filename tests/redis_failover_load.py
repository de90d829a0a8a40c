"""Kill the Redis master under a read and write load through gunicorn, and measure what clients saw.

The pieces of ``tests/test_redis_failover.py`` (run it with ``-s`` for the figures): a gunicorn
with two workers on PostgreSQL (the test database), its cache on a private Sentinel topology
(tests/sentinel_topology.py); writer threads POST location reports (version v of a tracker = a
report timestamped ``BASE + v`` seconds), reader threads GET the tracker's detail and read the
version off its newest report. The master is SIGKILLed mid-run.

Staleness of a read: it started at ``s`` and saw version v while version v+1 had been committed
(its POST answered) at ``c < s``: stale by ``s - c``; beyond the bound when that exceeds
``staleness_bound("trackers.detail")``.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.live_server import LiveServer
from tests.sentinel_topology import SentinelTopology

TOKEN = "f" * 40
BASE = datetime(2026, 6, 1, tzinfo=UTC)
SETUP = (
    "import json; from rest_framework.authtoken.models import Token; "
    "from tests.factories import make_dataset, make_user; "
    "ds = make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run={n}, history_per_tracker=1); "
    "Token.objects.create(user=make_user('ops', staff=True), key='{token}'); "
    "print(json.dumps([[t.pk, t.serial] for t in ds.trackers]))"
)


@dataclass
class Record:
    kind: str  # "write" or "read"
    tracker: int
    version: int | None
    start: float
    end: float
    status: int  # HTTP status, 0 for a client-side error (timeout, refused)


@dataclass
class Run:
    records: list[Record] = field(default_factory=list)
    killed_at: float = 0.0
    promoted_at: float = 0.0
    first_read_on_new: float | None = None
    first_write_on_new: float | None = None
    stopped_at: float = 0.0
    final: dict = field(default_factory=dict)
    outbox_left: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)


def version_of(timestamp: str) -> int:
    """Return the version a report timestamp encodes."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int((moment - BASE).total_seconds())


def request(url: str, body: dict | None = None) -> tuple[int, dict | None]:
    """Send one request with the token; return (status, JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310 - http://127.0.0.1
    req.add_header("Authorization", f"Token {TOKEN}")
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


class FailoverLoad:
    """The topology, the server and the load threads of one run."""

    def __init__(self, directory, *, database_url: str, trackers: int = 2, readers: int = 3):
        self.directory = directory
        self.database_url = database_url
        self.trackers_n = trackers
        self.readers_n = readers
        self.topology = None
        self.server = None
        self.trackers: list[tuple[int, str]] = []
        self.versions: dict[int, int] = {}
        self.stop = threading.Event()
        self.run = Run()

    def start(self) -> "FailoverLoad":
        self.topology = SentinelTopology(self.directory).start()
        env = {**self.topology.env(0), "CACHE_KEY_PREFIX": "cwfailover", "WEB_CONCURRENCY": "2"}
        env.update(INGEST_THROTTLE_RATE="1000000/min", HEALTH_THROTTLE_RATE="1000000/min")
        # PostgreSQL, as a multi-host deployment runs: the embedded SQLite file is one host's.
        env.update(DJANGO_SETTINGS_MODULE="config.test_settings", DATABASE_URL=self.database_url)
        self.log = self.directory / "gunicorn.log"
        self.server = LiveServer(self.directory, log=self.log, **env)
        self.server.manage("migrate", "--noinput", "-v0")
        out = self.server.manage("shell", "-c", SETUP.format(n=self.trackers_n, token=TOKEN))
        self.trackers = [tuple(t) for t in json.loads(out.strip().splitlines()[-1])]
        self.server.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.server is not None:
            self.server.stop()
        if self.topology is not None:
            self.topology.stop()

    # --- the load ------------------------------------------------------------------------------
    def _writer(self, tracker_id: int, serial: str) -> None:
        version = 0
        while not self.stop.is_set():
            version += 1
            moment = (BASE + timedelta(seconds=version)).isoformat().replace("+00:00", "Z")
            report = {"serial": serial, "timestamp": moment, "latitude": 50.0, "longitude": 8.0}
            start = time.monotonic()
            status, _ = request(f"{self.server.url}/api/location-reports/", {"reports": [report]})
            end = time.monotonic()
            self.run.add(Record("write", tracker_id, version if status < 300 else None, start, end, status))
            if status >= 300:
                version -= 1  # not committed (or unknown: the same timestamp would be refused): retry it
            self.stop.wait(0.05)
        self.versions[tracker_id] = version

    def read(self, tracker_id: int) -> Record:
        start = time.monotonic()
        status, body = request(f"{self.server.url}/api/trackers/{tracker_id}/")
        version = version_of(body["trail"][0]["timestamp"]) if status == 200 and body["trail"] else None
        return Record("read", tracker_id, version, start, time.monotonic(), status)

    def _reader(self, index: int) -> None:
        n = index
        while not self.stop.is_set():
            tracker_id = self.trackers[n % len(self.trackers)][0]
            self.run.add(self.read(tracker_id))
            n += 1
            self.stop.wait(0.02)

    def _watch_new_master(self, port: int) -> None:
        # The first L2 read and the first applied invalidation on the promoted master.
        client = self.topology_client(port)
        base = _command_calls(client)
        while not self.stop.is_set() and (self.run.first_read_on_new is None or self.run.first_write_on_new is None):
            now, calls = time.monotonic(), _command_calls(client)
            if self.run.first_read_on_new is None and calls["reads"] > base["reads"]:
                self.run.first_read_on_new = now
            if self.run.first_write_on_new is None and calls["writes"] > base["writes"]:
                self.run.first_write_on_new = now
            time.sleep(0.02)

    def topology_client(self, port: int):
        import redis

        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def run_load(self, *, before: float = 3.0, after: float = 10.0) -> Run:
        """Load, kill the master after ``before`` s, keep loading ``after`` s past the promotion."""
        threads = [threading.Thread(target=self._writer, args=t, daemon=True) for t in self.trackers]
        threads += [threading.Thread(target=self._reader, args=(i,), daemon=True) for i in range(self.readers_n)]
        for thread in threads:
            thread.start()
        time.sleep(before)
        self.run.killed_at = time.monotonic()
        old_port = self.topology.kill_master()
        new_port = self.topology.wait_for_failover(old_port)
        self.run.promoted_at = time.monotonic()
        watcher = threading.Thread(target=self._watch_new_master, args=(new_port,), daemon=True)
        watcher.start()
        time.sleep(after)
        self.stop.set()
        for thread in [*threads, watcher]:
            thread.join(20)
        self.run.stopped_at = time.monotonic()
        return self.run

    def settle(self, bound: float) -> Run:
        """Read every tracker until it shows its last write, then wait for the outbox to drain.

        Both within ``bound`` + 5 s. A reader may see the last write before every row of it is
        applied (a key that shares the write's table was applied later, for its own rows), while
        the write's own rows still wait out their debounce: the count is taken once they could
        all be applied, not at the first read that looks right.
        """
        deadline = time.monotonic() + bound + 5
        pending = dict(self.versions)
        while pending and time.monotonic() < deadline:
            for tracker_id, version in list(pending.items()):
                record = self.read(tracker_id)
                if record.version == version:
                    self.run.final[tracker_id] = time.monotonic() - self.run.stopped_at
                    del pending[tracker_id]
            time.sleep(0.1)
        for tracker_id in pending:
            self.run.final[tracker_id] = None
        self.run.outbox_left = outbox_count()
        while self.run.outbox_left and time.monotonic() < deadline:
            time.sleep(0.2)
            self.run.outbox_left = outbox_count()
        return self.run


def outbox_count() -> int:
    """Return the rows left in the outbox (the server shares the test database)."""
    from cachecore.models import InvalidationOutbox

    return InvalidationOutbox.objects.count()


def _command_calls(client) -> dict:
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    # MGET: the engine's L2 reads (generations with the value); EVALSHA/EVAL: the sequenced publish
    # that ends an applied invalidation. (Throttles and sessions use GET/SET: not counted.)
    return {"reads": calls.get("mget", 0), "writes": calls.get("evalsha", 0) + calls.get("eval", 0)}


def summarize(run: Run, bound: float) -> dict:
    """Return the figures of a run (seconds relative to the SIGKILL of the master)."""
    commits: dict[int, dict[int, float]] = {}
    for r in run.records:
        if r.kind == "write" and r.version is not None:
            commits.setdefault(r.tracker, {})[r.version] = r.end
    reads = [r for r in run.records if r.kind == "read"]
    stale_after, stale_during, max_stale_after = 0, 0, 0.0
    for r in reads:
        if r.version is None:
            continue
        newer = commits.get(r.tracker, {}).get(r.version + 1)
        staleness = r.start - newer if newer is not None and newer < r.start else 0.0
        if staleness > bound:
            if r.start >= run.promoted_at:
                stale_after += 1
            else:
                stale_during += 1
        if r.start >= run.promoted_at:
            max_stale_after = max(max_stale_after, staleness)
    server_errors = sum(1 for r in run.records if r.status >= 500)
    client_errors = sum(1 for r in run.records if r.status == 0)
    during = [r for r in run.records if r.kind == "write" and r.version and run.killed_at <= r.end <= run.promoted_at]
    slowest = max((r.end - r.start for r in run.records), default=0.0)

    def since_kill(moment):
        return None if moment is None else round(moment - run.killed_at, 2)

    return {
        "requests": len(run.records),
        "reads": len(reads),
        "writes": len(run.records) - len(reads),
        "server_errors_5xx": server_errors,
        "client_side_errors": client_errors,
        "other_non_2xx": sum(1 for r in run.records if 300 <= r.status < 500),
        "slowest_request_s": round(slowest, 2),
        "promoted_after_s": since_kill(run.promoted_at),
        "first_l2_read_on_new_master_s": since_kill(run.first_read_on_new),
        "first_invalidation_on_new_master_s": since_kill(run.first_write_on_new),
        "staleness_bound_s": bound,
        "stale_beyond_bound_after_failover": stale_after,
        "stale_beyond_bound_during_failover": stale_during,
        "max_staleness_after_failover_s": round(max_stale_after, 2),
        "writes_committed_during_failover": len(during),
        "last_write_visible_after_load_stopped_s": {
            str(k): None if v is None else round(v, 2) for k, v in run.final.items()
        },
        "outbox_rows_left": run.outbox_left,
    }
