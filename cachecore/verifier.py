"""The sampling verifier: recompute a fraction of cache hits in the background and compare.

Off by default (``CACHECORE_VERIFY_RATE`` 0; ``Namespace(verify_rate=...)`` overrides it per
namespace). ``on_hit()`` runs on the request thread and only decides and enqueues: one random
draw, and a ``put_nowait`` on a bounded queue that drops (and counts) when full. One daemon
worker thread per process recomputes each sampled value, compares data hashes and re-reads
suspects once the allowed staleness has passed (the verdict is in ``consistency.py``).

Counts are per process, per namespace: ``report()`` (the health endpoint's ``consistency``
section) and the observers' ``on_verified(namespace, inconsistent)`` and
``on_verify_dropped(namespace)`` hooks (the Prometheus counters).
"""

import heapq
import logging
import os
import queue
import random
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections

from cachecore import conf, consistency, keys, stats, testing
from cachecore.cachalot import uncached_reads
from cachecore.namespaces import Namespace, get_namespace

logger = logging.getLogger("cachecore.verifier")

MAX_SUSPECTS = 1000  # keys awaiting a re-read; beyond this a new mismatch is dropped and counted
MAX_LOGGED_KEYS = 10_000  # an inconsistent key is logged once; the set is bounded


def allowed_staleness(ns: Namespace) -> float:
    """Return how long a value of ``ns`` may stay stale after its source changed (seconds)."""
    from cachecore.relay import staleness_bound  # the one definition of the bound (issue 10)

    return staleness_bound(ns.name)


def sample_rate(ns: Namespace) -> float:
    """Return the fraction of hits of ``ns`` that are verified."""
    return ns.verify_rate if ns.verify_rate is not None else conf.settings.CACHECORE_VERIFY_RATE


@dataclass(frozen=True)
class _Job:
    namespace: str
    params: dict
    value: object
    compute: object


@dataclass
class _Counts:
    verified: int = 0
    inconsistent: int = 0
    dropped: int = 0
    errors: int = 0


class Verifier:
    """Samples hits, verifies them on one background thread, and counts the verdicts."""

    clock = staticmethod(time.monotonic)
    start_worker = True  # tests set False and call drain(), so nothing runs behind their back

    def __init__(self, *, rng: random.Random | None = None):
        self.rng = rng or random.Random()
        self.engine = None  # the TieredCache that re-reads suspects; set by cachecore.service
        self._lock = threading.Lock()
        self._counts: dict[str, _Counts] = {}
        self._suspects: dict[tuple[str, str], tuple[consistency.Suspect, object]] = {}
        self._due: list[tuple[float, tuple[str, str]]] = []  # heap of (due, suspect key)
        self._logged: set[str] = set()
        self._queue: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self._pid = None

    # --- the request thread ---------------------------------------------------------------

    def on_hit(self, namespace: str, params: dict, value, info, compute) -> None:
        """Maybe enqueue a served hit for verification; never blocks, never computes."""
        ns = get_namespace(namespace)
        rate = sample_rate(ns)
        if rate <= 0 or info.stale:  # a stale-while-revalidate answer is knowingly stale
            return
        if rate < 1 and self.rng.random() >= rate:
            return
        try:
            self._jobs().put_nowait(_Job(namespace, params, value, compute))
        except queue.Full:
            self._count(namespace, "dropped")
            self._notify("on_verify_dropped", namespace)
            return
        self._ensure_worker()

    def _jobs(self) -> queue.Queue:
        jobs = self._queue
        if jobs is None or self._pid != os.getpid():
            with self._lock:
                if self._queue is None or self._pid != os.getpid():  # a forked child starts afresh
                    self._queue = queue.Queue(maxsize=max(1, conf.settings.CACHECORE_VERIFY_QUEUE_SIZE))
                    self._worker = None
                    self._pid = os.getpid()
                jobs = self._queue
        return jobs

    def _ensure_worker(self) -> None:
        if not self.start_worker or (self._worker is not None and self._worker.is_alive()):
            return
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="cachecore-verifier", daemon=True)
                self._worker.start()

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        jobs = self._jobs()
        while True:
            try:
                job = jobs.get(timeout=self._next_due_in())
            except queue.Empty:
                job = None
            if job is not None:
                self._safely(job.namespace, self.verify, job)
            self.recheck_due()
            close_old_connections()  # this thread's connection obeys CONN_MAX_AGE like a request's

    def drain(self) -> None:
        """Verify every queued hit and re-read every due suspect on this thread (tests, commands)."""
        jobs = self._jobs()
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                break
            self._safely(job.namespace, self.verify, job)
        self.recheck_due()

    def recheck_due(self) -> None:
        """Re-read the suspects whose allowed staleness has passed."""
        for suspect, compute in self._pop_due():
            self._safely(suspect.namespace, self.recheck, suspect, compute)

    def _safely(self, namespace: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a failed verification must not stop the worker
            self._count(namespace, "errors")
            logger.exception("cachecore verifier: verifying a hit of %s failed", namespace)

    def verify(self, job: _Job) -> None:
        """Compare one sampled hit with a fresh compute; a mismatch becomes a suspect."""
        ns = get_namespace(job.namespace)
        params = keys.canonical_params(ns, job.params)
        served = consistency.value_hash(job.value)
        fresh = self._fresh_hash(job.compute)
        self._count(ns.name, "verified")
        self._notify("on_verified", ns.name, False)
        if consistency.first_verdict(served, fresh) == consistency.SUSPECT:
            self._suspect(ns, params, served, fresh, job.compute)

    def recheck(self, suspect: consistency.Suspect, compute) -> None:
        """Read a suspect again through the cache and judge it."""
        ns = get_namespace(suspect.namespace)
        value, _info = self.engine.get_or_compute(ns.name, suspect.params, compute)
        served = consistency.value_hash(value)
        fresh = self._fresh_hash(compute)  # after the read: the source at least as new as it
        verdict = consistency.recheck_verdict(suspect, served, fresh)
        if verdict == consistency.INCONSISTENT:
            self._inconsistent(ns, suspect, fresh)
        elif verdict == consistency.SUSPECT:
            self._suspect(ns, suspect.params, served, fresh, compute)

    def _fresh_hash(self, compute) -> str:
        with uncached_reads():
            return consistency.value_hash(compute())

    def _suspect(self, ns: Namespace, params: dict, served: str, fresh: str, compute) -> None:
        now = self.clock()
        key = (ns.name, keys.param_hash(params))
        suspect = consistency.Suspect(ns.name, params, served, fresh, now, now + allowed_staleness(ns))
        with self._lock:
            if key not in self._suspects and len(self._suspects) >= MAX_SUSPECTS:
                dropped = True
            else:
                dropped = False
                self._suspects[key] = (suspect, compute)
                heapq.heappush(self._due, (suspect.due, key))
        if dropped:
            self._count(ns.name, "dropped")
            self._notify("on_verify_dropped", ns.name)

    def _pop_due(self) -> list:
        now = self.clock()
        due = []
        with self._lock:
            while self._due and self._due[0][0] <= now:
                when, key = heapq.heappop(self._due)
                entry = self._suspects.get(key)
                if entry is not None and entry[0].due == when:  # else replaced by a newer suspicion
                    due.append(self._suspects.pop(key))
        return due

    def _next_due_in(self) -> float | None:
        with self._lock:
            if not self._due:
                return None
            return max(0.0, self._due[0][0] - self.clock())

    def _inconsistent(self, ns: Namespace, suspect: consistency.Suspect, fresh: str) -> None:
        self._count(ns.name, "inconsistent")
        self._notify("on_verified", ns.name, True)
        key = f"{ns.name}:{keys.param_hash(suspect.params)}"
        with self._lock:
            first = key not in self._logged and len(self._logged) < MAX_LOGGED_KEYS
            if first:
                self._logged.add(key)
        if first:
            logger.warning(
                "cachecore verifier: inconsistent read of %s: served %s, source %s, for more than %.1f s",
                key,
                suspect.served_hash,
                fresh,
                allowed_staleness(ns),
            )

    # --- counts -----------------------------------------------------------------------------

    def _count(self, namespace: str, field: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(namespace, _Counts())
            setattr(counts, field, getattr(counts, field) + 1)

    @staticmethod
    def _notify(hook: str, *args) -> None:
        for observer in stats.observers():
            fn = getattr(observer, hook, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - an observer must never break the verifier
                logger.exception("cachecore verifier observer %r failed in %s", observer, hook)

    def report(self, namespaces) -> dict:
        """Return this process's counts per namespace (those sampled, and those with counts)."""
        with self._lock:
            counts = {name: _Counts(**vars(c)) for name, c in self._counts.items()}
            suspects: dict[str, int] = {}
            for name, _ in self._suspects:
                suspects[name] = suspects.get(name, 0) + 1
        rows = {}
        for ns in namespaces:
            rate = sample_rate(ns)
            if rate <= 0 and ns.name not in counts:
                continue
            c = counts.get(ns.name, _Counts())
            rows[ns.name] = {
                "sample_rate": rate,
                "verified": c.verified,
                "inconsistent": c.inconsistent,
                "rate": round(c.inconsistent / c.verified, 6) if c.verified else None,
                "dropped": c.dropped,
                "errors": c.errors,
                "suspects": suspects.get(ns.name, 0),
                "allowed_staleness": allowed_staleness(ns),
            }
        jobs = self._queue
        return {
            "queue": {"length": jobs.qsize() if jobs else 0, "capacity": conf.settings.CACHECORE_VERIFY_QUEUE_SIZE},
            "namespaces": rows,
        }

    def reset(self) -> None:
        """Forget counts, suspects, logged keys and queued jobs (tests)."""
        with self._lock:
            self._counts.clear()
            self._suspects.clear()
            self._due.clear()
            self._logged.clear()
            self._queue = None
            self._pid = None


verifier = Verifier()


def consistency_report() -> dict:
    """Return the sampling verifier's counts of this process (the health ``consistency`` section)."""
    from cachecore.namespaces import all_namespaces

    return verifier.report(all_namespaces())


testing.register_reset(verifier.reset)
