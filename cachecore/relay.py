"""The relay: applies the invalidation outbox to the tiers, at least once.

One pass (``Relay.run_once``) reads the pending rows, maps trigger rows (a table written by raw
SQL) to the namespaces watching it, coalesces them with ``debounce.plan`` (delays measured from
the rows' own timestamps), leases the due rows, and for every due (namespace, scope):

1. bumps the durable (L3) token in its own autocommitted statement,
2. bumps the L2 generation and evicts local L1,
3. publishes the sequenced eviction to the other processes,
4. with ``CACHECORE_REDIS_WAIT_REPLICAS`` (Sentinel), waits until Redis's replicas have all of it
   (``replication.py``: a failover must not lose a bump whose row is gone),

and only then deletes the rows. A key whose step failed keeps its rows, which are retried after
a backoff; applying a row twice only bumps a generation twice. Several relays may run at once:
a row is leased by one conditional UPDATE (atomic on PostgreSQL and SQLite alike), so two relays
do not apply the same row at the same time, and a relay that dies lets its lease expire.

A lease rather than ``SELECT ... FOR UPDATE SKIP LOCKED`` in one transaction: the durable bump
must be committed before the L2 bump (a reader that sees the new L2 generation must not find the
old durable token valid), which a relay holding its row locks in an open transaction on the same
connection cannot do.

``RelayThread`` runs passes in the background of every process that uses the cache; the
``cache_relay`` command starts the same thread and waits for its deadline or a signal.
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.db import close_old_connections, connections
from django.db.utils import DatabaseError
from django.utils import timezone

from cachecore import coherence, debounce, generations, outbox, replication, stats, tiers
from cachecore.backoff import Backoff
from cachecore.cachalot import invalidate_cachalot
from cachecore.conf import settings
from cachecore.watches import timing as _timing
from cachecore.watches import watched_tables as _watched_tables

logger = logging.getLogger(__name__)

Key = debounce.Key


@dataclass
class PassResult:
    """What one pass did."""

    applied: int = 0  # keys applied
    failed: int = 0  # keys whose application failed (their rows stay)
    deleted: int = 0  # outbox rows deleted
    seen: int = 0  # rows read
    next_due: float | None = None  # POSIX time at which a waiting key becomes due
    more: bool = False  # the batch was full: pass again at once


@dataclass
class RelayStats:
    """Totals of one relay since it started (shown by the command and the health page)."""

    passes: int = 0
    applied: int = 0
    failed: int = 0
    deleted: int = 0
    errors: int = 0
    last_pass: float | None = None


class RowsApplied(NamedTuple):
    """What ``Relay.apply_rows`` did: ``done`` when every row was applied here and deleted."""

    done: bool
    elsewhere: tuple[int, ...]  # ids another relay holds (it applies them)


class Relay:
    """Applies outbox rows; safe to run in several processes and threads at once."""

    clock = staticmethod(time.time)

    def __init__(self, *, using: str | None = None):
        self.using = using
        self.owner = f"{coherence.origin()}:{uuid.uuid4().hex[:6]}"[:60]
        self.stats = RelayStats()
        self._lock = threading.Lock()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> PassResult:
        """Apply every due row (every row with ``force``); return what was done."""
        with self._lock:
            return self._pass(force)

    def _pass(self, force: bool) -> PassResult:
        now = self.clock()
        batch = int(settings.CACHECORE_RELAY_BATCH)
        rows = outbox.fetch(batch, using=self.using, now=timezone.now())
        result = PassResult(seen=len(rows), more=len(rows) >= batch)
        self.stats.passes += 1
        self.stats.last_pass = now
        if not rows:
            return result
        tables = _watched_tables()
        items = [_item(row, tables) for row in rows]
        planned = debounce.plan(items, _timing, now, force=force)
        result.next_due = planned.next_due
        if not planned.rows:
            return result
        held = outbox.claim(planned.rows, self.owner, _lease(), using=self.using)
        if not held:
            return result
        if len(held) != len(planned.rows):  # another relay holds some rows: apply only ours
            planned = debounce.plan([i for i in items if i.row_id in held], _timing, now, force=True)
        failed, result.deleted = self._apply_held(planned, held, rows)
        result.applied, result.failed = len(planned.keys) - len(failed), len(failed)
        return result

    def _apply_held(self, planned: debounce.Plan, held: set[int], rows=()) -> tuple[set[Key], int]:
        """Apply planned rows this relay holds: delete those applied, give back the others.

        Returns the keys that failed and how many rows were deleted. When anything raises, every
        held lease is given back, so the next pass (of any relay) retries the rows at once.
        """
        try:
            failed = self.apply(planned.keys)
            done = debounce.rows_to_delete(planned.rows, failed)
            _invalidate_cachalot_tables(rows, set(done))
            deleted = outbox.delete(done, owner=self.owner, using=self.using)
        except BaseException:
            self._give_back(held)
            raise
        retry = [row_id for row_id in planned.rows if row_id not in set(done)]
        if retry:
            outbox.release(retry, self.owner, using=self.using)
        self.stats.applied += len(planned.keys) - len(failed)
        self.stats.failed += len(failed)
        self.stats.deleted += deleted
        return failed, deleted

    def _give_back(self, ids) -> None:
        try:
            outbox.release(ids, self.owner, using=self.using)
        except Exception:  # noqa: BLE001 - the database is what failed: the leases expire by themselves
            logger.debug("cachecore: giving back leases after a failed pass failed", exc_info=True)

    def drain(self, *, max_passes: int = 1000) -> int:
        """Apply every pending row now, batch after batch; return how many keys were applied."""
        applied = 0
        for _ in range(max_passes):
            result = self.run_once(force=True)
            applied += result.applied
            if not result.more or not result.deleted:
                break
        return applied

    def apply_rows(self, items: Iterable[debounce.Item]) -> "RowsApplied":
        """Apply rows known to the caller (a committing writer) now, without reading them first.

        The rows are leased like a pass leases them, so a relay applying them at the same moment
        keeps them (and the writer leaves them to it). Returns whether every row was applied here
        and deleted, and the ids another relay holds.
        """
        items = list(items)
        held = outbox.claim([item.row_id for item in items], self.owner, _lease(), using=self.using)
        mine = [item for item in items if item.row_id in held]
        elsewhere = tuple(item.row_id for item in items if item.row_id not in held)
        if not mine:
            return RowsApplied(False, elsewhere)
        planned = debounce.plan(mine, _timing, self.clock(), force=True)
        failed, _deleted = self._apply_held(planned, held)
        return RowsApplied(not failed and not elsewhere, elsewhere)

    def wait_applied(self, ids, *, timeout: float | None = None, poll: float = 0.005) -> bool:
        """Wait until the rows ``ids`` (held by another relay) are gone; return whether they went.

        For a committing writer whose rows a relay claimed first: that relay's pass applies them
        within moments, and the writer's caller expects its write to hold everywhere once the
        commit returns. Bounded by the lease (after it, any relay may retry the rows).
        """
        deadline = time.monotonic() + (_lease().total_seconds() if timeout is None else timeout)
        while True:
            if not outbox.existing(ids, using=self.using):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

    # -- applying keys -----------------------------------------------------------------------

    def apply(self, keys: dict[Key, list[str]]) -> set[Key]:
        """Apply each key to every tier; return the keys that failed (and must be retried)."""
        return apply_keys(keys)


def apply_key(namespace: str, scope: str | None, *, sources=("api",)) -> bool:
    """Retire a namespace (or scope) in L3, L2 and every process's L1; return True on success."""
    return not apply_keys({(namespace, scope): list(sources)})


def apply_keys(keys: dict[Key, list[str]]) -> set[Key]:
    """Retire each (namespace, scope) in L3, L2 and every process's L1; return the keys that failed.

    Per key the durable token goes first, so a process that sees the new L2 generation finds the
    old L3 rows retired too. When the durable bump fails the L2 bump and the eviction still run
    (readers stop serving the old L2 value at once) and the key fails: its row stays, and its
    retry bumps both again, retiring whatever an old L3 row put back into L2 meanwhile. With
    ``CACHECORE_REDIS_WAIT_REPLICAS`` one replication fence follows the whole batch (replication
    is one ordered stream: a replica that has the fence has every bump before it); when it fails,
    every key of the batch fails.
    """
    with tiers.despite_open_breakers():
        problems = {key: _bump(*key) for key in keys}
        bumped = [key for key, found in problems.items() if not found]
        if bumped:
            fence = _replication_fence()
            for key in bumped if fence else ():
                problems[key].append(fence)
    failed: set[Key] = set()
    for key, found in problems.items():
        namespace, scope = key
        if found:
            logger.warning("cachecore: invalidation of %s (scope %s) not applied yet: %s", namespace, scope, found)
            stats.record_invalidation_failure(namespace)
            failed.add(key)
        else:
            sources = keys[key]
            stats.record_invalidation(namespace, sources[0] if sources else "unknown")
    return failed


def _bump(namespace: str, scope: str | None) -> list[str]:
    # The durable token, then the L2 generation and the eviction; return what failed.
    failed: list[str] = []
    try:
        generations.bump_durable(namespace, scope)
    except generations.BumpFailed as exc:
        failed.append(str(exc))
    except Exception:
        logger.exception("cachecore: durable bump of %s (scope %s) failed", namespace, scope)
        failed.append("durable bump")
    try:
        token = generations.bump_l2(namespace, scope)
        coherence.publish(namespace, scope, token or None)
    except (generations.BumpFailed, tiers.TierUnavailable) as exc:
        failed.append(str(exc))
    except Exception:
        logger.exception("cachecore: invalidation of %s (scope %s) failed", namespace, scope)
        failed.append("l2 bump or publish")
    return failed


def _replication_fence() -> str:
    # A failover must not lose a bump once its row is gone: "" when the replicas have everything.
    try:
        replication.wait_for_replicas()
    except tiers.TierUnavailable as exc:  # NotReplicated included
        return str(exc)
    except Exception:
        logger.exception("cachecore: waiting for the Redis replicas failed")
        return "replication fence"
    return ""


def _item(row: outbox.Row, tables: dict[str, tuple[str, ...]]) -> debounce.Item:
    if row.table:
        keys = tuple((name, None) for name in tables.get(row.table, ()))
    else:
        keys = ((row.namespace, row.scope or None),)
    return debounce.Item(row.id, row.created_at.timestamp(), row.source, keys)


def _invalidate_cachalot_tables(rows: list[outbox.Row], done: set[int]) -> None:
    tables = {row.table for row in rows if row.table and row.id in done}
    if tables:
        try:
            invalidate_cachalot(tables)
        except Exception:  # noqa: BLE001 - cachalot's own cache is a best-effort layer above ours
            logger.exception("cachecore: cachalot invalidation of %s failed", sorted(tables))


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.CACHECORE_RELAY_LEASE_SECONDS))


def staleness_bound(namespace: str) -> float:
    """Return the documented bound in seconds between a commit and every process seeing it.

    Trailing delay + max wait (coalescing) + the relay delay: its poll interval (a relay that was
    not woken) and its lease (a relay that died holding the rows) + the coherence check interval
    (a lost eviction message is noticed by then).
    """
    delay, max_wait = _timing(namespace)
    return (
        max(delay, 0.0)
        + max(max_wait, 0.0)
        + float(settings.CACHECORE_RELAY_POLL_SECONDS)
        + float(settings.CACHECORE_RELAY_LEASE_SECONDS)
        + float(settings.CACHECORE_COHERENCE_CHECK_SECONDS)
    )


# -- the background loop -----------------------------------------------------------------------


class RelayThread:
    """Run relay passes until stopped: woken by local commits, NOTIFY (PostgreSQL) or the poll timer."""

    def __init__(self, relay: Relay | None = None, *, poll: float | None = None, listen: bool | None = None):
        self.relay = relay or Relay()
        self.poll = float(settings.CACHECORE_RELAY_POLL_SECONDS if poll is None else poll)
        self._listen = settings.CACHECORE_RELAY_LISTEN if listen is None else listen
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener = None
        self._backoff = Backoff(initial=0.2, maximum=5.0)
        self.errors = 0

    def start(self) -> "RelayThread":
        """Start the loop (and the NOTIFY listener on PostgreSQL) in daemon threads."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cachecore-relay", daemon=True)
            self._thread.start()
            if self._listen:
                self._start_listener()
        return self

    def wake(self) -> None:
        """Make the loop pass now (a local commit recorded rows)."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the loop and the listener."""
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.step())
            self._wake.clear()

    def step(self) -> float:
        """Make one pass; return how long to wait before the next one."""
        try:
            result = self.relay.run_once()
        except DatabaseError as exc:
            self.errors += 1
            self.relay.stats.errors += 1
            logger.warning("cachecore: relay pass failed (%s); retrying", exc)
            _drop_connections()
            return self._backoff.next()
        except Exception:
            self.errors += 1
            self.relay.stats.errors += 1
            logger.exception("cachecore: relay pass failed; retrying")
            return self._backoff.next()
        finally:
            close_old_connections()
        if result.failed:
            return self._backoff.next()  # Redis trouble: retry the kept rows with backoff
        self._backoff.reset()
        if result.more and result.deleted:
            return 0.0  # a full batch was applied: more rows may be waiting
        wait = self.poll
        if result.next_due is not None:
            wait = min(wait, max(0.0, result.next_due - self.relay.clock()) + 0.001)
        return wait

    def _start_listener(self) -> None:
        conn = connections[self.relay.using or "default"]
        if conn.vendor != "postgresql" or self._listener is not None:
            return
        from cachecore import pgnotify

        self._listener = pgnotify.Listener(
            pgnotify.psycopg_connector(self.relay.using or "default"),
            on_notify=lambda table: self.wake(),
            on_connect=lambda first: self.wake(),
            stop=self._stop,
        )
        threading.Thread(target=self._listener.run, name="cachecore-relay-listen", daemon=True).start()


def _drop_connections() -> None:
    # A broken connection (killed backend, dead server) must be replaced, not reused.
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - it is already broken
            logger.debug("cachecore: closing a broken connection failed", exc_info=True)


# -- the process's relay ---------------------------------------------------------------------

_relay = Relay()
_thread: RelayThread | None = None
_thread_pid: int | None = None
_manual = False
_recorded = False  # this process committed rows: try to apply what is left at exit
_start_lock = threading.Lock()


def get_relay() -> Relay:
    """Return this process's relay (used by the background thread and synchronous applies)."""
    return _relay


def ensure_started() -> RelayThread | None:
    """Start this process's background relay once (not in manual mode, nor when disabled)."""
    global _thread, _thread_pid
    if _thread_pid == os.getpid() or _manual or not settings.CACHECORE_RELAY_THREAD:
        return _thread if _thread_pid == os.getpid() else None
    with _start_lock:
        if _thread_pid != os.getpid():
            # A forked child inherits the parent's object but not its thread: start afresh.
            _thread = RelayThread(_relay).start()
            _thread_pid = os.getpid()
    return _thread


def wake() -> None:
    """Tell the background relay that rows were committed (starting it if needed)."""
    global _recorded
    _recorded = True
    thread = ensure_started()
    if thread is not None:
        thread.wake()


def thread_info() -> dict:
    """Return the background relay's state for stats and health pages."""
    running = _thread is not None and _thread_pid == os.getpid() and _thread.alive
    s = _relay.stats
    return {
        "running": running,
        "passes": s.passes,
        "applied": s.applied,
        "failed": s.failed,
        "errors": s.errors,
        "last_pass_age_seconds": None if s.last_pass is None else round(max(0.0, time.time() - s.last_pass), 3),
    }


def set_manual(manual: bool) -> None:
    """Manual mode (tests): no background thread; ``flush_pending()`` applies the outbox."""
    global _manual, _thread, _thread_pid
    _manual = manual
    if manual and _thread is not None:
        thread, _thread, _thread_pid = _thread, None, None
        thread.stop()


def flush_at_exit() -> None:
    """Apply what is pending before the process exits (rows left over wait for the next relay).

    Only in a process that recorded invalidations (a command that never wrote does not touch the
    database at exit), and not in manual mode (tests).
    """
    if not _recorded or _manual:
        return
    try:
        applied = _relay.drain()
        if applied:
            logger.info("cachecore: applied %d pending invalidation(s) at exit", applied)
    except Exception:  # noqa: BLE001 - the rows are durable: another relay applies them
        logger.warning("cachecore: applying pending invalidations at exit failed", exc_info=True)
