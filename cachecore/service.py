"""TieredCache.get_or_compute(): read-through over L1 -> L2 -> L3 -> compute(), single-flight.

A value is looked up tier by tier; a hit in a lower tier is written back to the upper tiers; a
miss computes once per key (per process, and per cluster through an L2 lock) and writes through.
Generations are captured *before* compute() reads the database and the value is written under
them, so a value computed from an old snapshot is never served once the bump is visible. With
read replicas, compute() reads from a replica only when it has replayed the invalidation that
made those generations (``cachecore.replicas``), otherwise from the primary.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cachecore import access, checked, coherence, conf, generations, keys, replicas, singleflight, stats, testing, tiers
from cachecore.namespaces import Namespace, get_namespace
from cachecore.verifier import verifier

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheInfo:
    """Where a value came from: tier ("l1"|"l2"|"l3"|"miss"|"disabled") and when it was computed."""

    tier: str
    is_cached: bool
    timestamp: datetime
    force_refresh: bool = False
    stale: bool = False

    def as_dict(self) -> dict:
        """Return the ``cache_info`` object of API responses."""
        return {
            "is_cached": self.is_cached,
            "tier": self.tier,
            "force_refresh": self.force_refresh,
            "timestamp": self.timestamp.isoformat(),
        }


@dataclass
class _Call:
    ns: Namespace
    params: dict
    key_hash: str
    scope: str | None
    l1_key: str
    force_refresh: bool
    durable: str | None = None  # the durable (L3) generation, captured before compute() runs
    l3_failed: bool = False  # the L3 lookup failed: do not query L3 again for this call
    l2_deferred: bool = False  # L2 is read with the cluster lock, in the same round trip


_NOT_YET = object()  # the scope of a call, before it is needed


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _capped(ttl: float | None, cap: float | None) -> float | None:
    if cap is None:
        return ttl
    return cap if ttl is None else min(ttl, cap)


class TieredCache:
    """The read-through engine; one module-level instance serves the process."""

    wall_clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    def get_or_compute(self, namespace: str, params: dict, compute, *, force_refresh: bool = False):
        """Return ``(value, CacheInfo)`` for ``params`` of ``namespace``, computing it on a miss."""
        ns = get_namespace(namespace)
        canon = keys.canonical_params(ns, params)
        if not conf.settings.CACHE_ENABLED:
            stats.record_request(ns.name, "disabled", "miss")
            started = self.wall_clock()
            return compute(), CacheInfo("disabled", False, _ts(started), force_refresh)
        key_hash = keys.param_hash(canon)
        l1_key = keys.l1_key(ns.name, key_hash)
        scope = _NOT_YET
        if not force_refresh and ns.l1_ttl != 0:
            entry = tiers.l1.get(l1_key)
            if entry is not None and ns.l1_checked:
                scope = ns.scope(canon) if ns.scope else None
                if not checked.is_current(ns, scope, entry[6]):
                    entry = None  # invalidated since (or L2 cannot tell): read on as for a miss
            if entry is not None:
                stats.record_request(ns.name, "l1", "hit")
                if ns.persistent:  # counted in memory, flushed in batches (DESIGN: hits write nothing)
                    access.record(ns.name, key_hash, self.wall_clock())
                return entry[1], CacheInfo("l1", True, entry[2], False)
            stats.record_request(ns.name, "l1", "miss")
        if scope is _NOT_YET:
            scope = ns.scope(canon) if ns.scope else None
        return self._slow_path(_Call(ns, canon, key_hash, scope, l1_key, force_refresh), compute)

    # --- below L1 ---------------------------------------------------------------------------

    def _slow_path(self, call: _Call, compute):
        # A process filling L1 must hear other processes' evictions: subscribe first (once per
        # process; the first start waits briefly for it), since subscribing drops L1 and its fence.
        coherence.ensure_started()
        # The L1 fence and the generations are captured before anything is read or computed.
        marker = tiers.l1.marker(call.ns.name, call.scope)
        reads_l2 = not call.force_refresh and call.ns.l2_ttl != 0
        gens, envelope = generations.read_generations(
            call.ns.name, call.scope, value_hash=call.key_hash if reads_l2 else None
        )
        if not call.force_refresh:
            found = self._lookup_lower(call, gens, marker, envelope)
            if found is not None:
                return found
        # A caller only joins a flight that began under the generations and L1 fence it saw
        # itself: one begun before an invalidation this caller has seen computes from the old
        # data, and its value must not be handed out afterwards.
        flight_key = (call.l1_key, call.force_refresh, gens, marker)
        flight, leader = singleflight.join(flight_key)
        if not leader:
            return self._follow(call, gens, flight, compute, marker)
        try:
            result = self._lead(call, gens, marker, compute)
        except BaseException as exc:
            flight.resolve(error=exc)
            raise
        else:
            flight.resolve(result=result)
            return result
        finally:
            singleflight.land(flight_key, flight)

    def _follow(self, call: _Call, gens, flight, compute, marker):
        stale = self._stale(call) if call.ns.stale_while_revalidate and not call.force_refresh else None
        if stale is not None:
            return stale
        if flight.wait(conf.settings.CACHECORE_LOCK_WAIT):
            stats.record_coalesced(call.ns.name)
            if flight.error is not None:
                raise flight.error
            value, info = flight.result
            return value, CacheInfo(info.tier, info.is_cached, info.timestamp, call.force_refresh, info.stale)
        return self._compute_and_store(call, gens, marker, compute)  # the leader is stuck: go alone

    def _lead(self, call: _Call, gens, marker, compute):
        # Other processes learn the result through L2; without L2 a lock would only serialise them.
        shared = gens is not None and call.ns.l2_ttl != 0
        if not shared:
            return self._compute_and_store(call, gens, marker, compute)
        lock = singleflight.ClusterLock(keys.lock_key(call.ns.name, call.key_hash))
        # The lock and the value in one round trip: a value written before the lock was free is seen.
        reads = not call.force_refresh
        acquired = lock.acquire(read=keys.value_key(call.ns.name, gens, call.key_hash) if reads else None)
        try:
            if lock.found is not None:
                return self._l2_lookup(call, gens, marker, record_miss=False, envelope=lock.found)
            if call.l2_deferred:
                stats.record_request(call.ns.name, "l2", "miss")
            if acquired is False:
                found = self._wait_for_other_process(call, gens, marker, lock)
                if found is not None:
                    return found
                if lock.held and reads:  # the holder finished or died while we waited
                    found = self._l2_lookup(call, gens, marker, record_miss=False)
                    if found is not None:
                        return found
            return self._compute_and_store(call, gens, marker, compute, lock)
        finally:
            lock.release()  # a no-op once the value's write released it

    def _wait_for_other_process(self, call: _Call, gens, marker, lock):
        """Poll L2 while another process computes; return its value, a stale one, or None to compute."""
        if call.ns.stale_while_revalidate and not call.force_refresh:
            stale = self._stale(call)
            if stale is not None:
                return stale
        deadline = time.monotonic() + conf.settings.CACHECORE_LOCK_WAIT
        delay = 0.01
        while time.monotonic() < deadline:
            self.sleep(delay)
            delay = min(delay * 2, 0.2)
            if not call.force_refresh:
                found = self._l2_lookup(call, gens, marker, record_miss=False)
                if found is not None:
                    stats.record_coalesced(call.ns.name)
                    return found
            taken = lock.acquire()
            if taken or taken is None:  # the holder finished without a value, died, or L2 went away
                return None
        return None

    def _lookup_lower(self, call: _Call, gens, marker, envelope):
        if envelope is generations.NOT_READ and gens is not None and call.ns.l2_ttl != 0 and not call.ns.persistent:
            # The generations changed since this process last read them (or it never did): the
            # leader reads the value together with the cluster lock (one round trip, not two).
            call.l2_deferred = True
            return None
        found = self._l2_lookup(call, gens, marker, record_miss=True, envelope=envelope)
        if found is None and call.ns.persistent:
            found = self._l3_lookup(call, gens, marker)
        return found

    def _l2_lookup(self, call: _Call, gens, marker, *, record_miss: bool, envelope=generations.NOT_READ):
        ns = call.ns
        if gens is None or ns.l2_ttl == 0:
            return None
        if envelope is generations.NOT_READ:
            try:
                envelope = tiers.l2_get(keys.value_key(ns.name, gens, call.key_hash))
            except tiers.TierUnavailable:
                envelope = None
        if envelope is None:
            if record_miss:
                stats.record_request(ns.name, "l2", "miss")
            return None
        created, expires, value = envelope
        stats.record_request(ns.name, "l2", "hit")
        if ns.persistent:
            access.record(ns.name, call.key_hash, self.wall_clock())
        remaining = None if expires is None else expires - self.wall_clock()
        self._fill_l1(call, value, created, _capped(ns.l1_ttl, remaining), marker, gens)
        return value, CacheInfo("l2", True, _ts(created), call.force_refresh)

    def _l3_lookup(self, call: _Call, gens, marker):
        ns = call.ns
        if ns.l3_ttl == 0:
            return None
        now = _ts(self.wall_clock())
        try:
            read = tiers.l3_get(ns.name, call.key_hash, call.scope, now)
        except tiers.TierUnavailable:
            read = tiers.L3Read(None, None)
            call.l3_failed = True
        # The row is checked against the durable generation in the database, not against L2's,
        # so it stays valid across a Redis flush, an outage's epoch bump or another process.
        call.durable = read.generation
        if read.row is None:
            stats.record_request(ns.name, "l3", "miss")
            return None
        _pk, value, created_at, expires_at = read.row
        stats.record_request(ns.name, "l3", "hit")
        access.record(ns.name, call.key_hash, now.timestamp())
        created = created_at.timestamp()
        remaining = None if expires_at >= tiers.NEVER else (expires_at - now).total_seconds()
        if gens is not None and ns.l2_ttl != 0:
            l2_ttl = _capped(ns.l2_ttl, remaining)
            expires = None if l2_ttl is None else self.wall_clock() + l2_ttl
            try:
                tiers.l2_set(
                    keys.value_key(ns.name, gens, call.key_hash), (created, expires, value), tiers.storage_ttl(l2_ttl)
                )
            except tiers.TierUnavailable:
                pass
        l1_ttl = _capped(ns.l1_ttl, remaining)
        if gens is None:
            l1_ttl = _capped(l1_ttl, conf.settings.CACHECORE_BREAKER_COOLDOWN)  # as in _compute_and_store
        self._fill_l1(call, value, created, l1_ttl, marker, gens)
        return value, CacheInfo("l3", True, created_at, call.force_refresh)

    def _capture_durable(self, call: _Call) -> None:
        # Before compute() reads the database: a row written under a token an invalidation has
        # since replaced is never read (the stale-set race, for L3).
        if call.durable is not None or call.l3_failed or not call.ns.persistent or call.ns.l3_ttl == 0:
            return
        try:
            call.durable = tiers.l3_generation(call.ns.name, call.scope)
        except tiers.TierUnavailable:
            call.durable = None  # unknown: the value is not written to L3

    def _stale(self, call: _Call):
        try:
            envelope = tiers.l2_get(keys.stale_key(call.ns.name, call.key_hash))
        except tiers.TierUnavailable:
            return None
        if envelope is None:
            return None
        created, value = envelope
        stats.record_request(call.ns.name, "l2", "stale")
        return value, CacheInfo("l2", True, _ts(created), call.force_refresh, stale=True)

    def _fill_l1(self, call: _Call, value, created: float, ttl, marker, gens, size: int | None = None) -> None:
        if call.ns.l1_ttl == 0 or (call.ns.l1_checked and gens is None):
            return  # a checked entry without generations could never be served
        # The last-resort ceiling, and while other processes' evictions may not reach this one
        # (subscriber down or not checked lately), no longer than one coherence check interval.
        ttl = _capped(ttl, conf.settings.CACHECORE_L1_MAX_TTL)
        if not call.ns.l1_checked and not coherence.is_coherent():  # a checked entry does not rely on it
            ttl = _capped(ttl, conf.settings.CACHECORE_COHERENCE_CHECK_SECONDS)
        if ttl is not None and ttl <= 0:
            return
        if size is None:
            size = len(json.dumps(value, separators=(",", ":")))
        tiers.l1.set(
            call.l1_key,
            value,
            ttl=ttl,
            created=_ts(created),  # stored as the datetime CacheInfo needs: an L1 hit converts nothing
            size=size,
            namespace=call.ns.name,
            scope=call.scope,
            marker=marker,
            generations=gens if call.ns.l1_checked else None,
        )

    # --- compute and write through ----------------------------------------------------------

    def _compute_and_store(self, call: _Call, gens, marker, compute, lock=None):
        ns = call.ns
        stats.record_request(ns.name, "miss", "miss")
        stats.record_compute(ns.name)
        self._capture_durable(call)
        # Read replicas: after the generations and the durable token were captured, pick where
        # the computation reads (a replica past the last invalidation, else the primary).
        replica = replicas.choose(ns.name, call.scope, allowed=ns.replicas)
        created = self.wall_clock()
        value = replicas.run(replica, ns.name, compute)
        try:
            # allow_nan=False: NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them;
            # a value every tier cannot store is refused before any tier is written.
            payload = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"compute() of cache namespace {ns.name!r} returned a non-JSON value: {exc}") from exc
        cap = ns.ttl_for(value) if ns.ttl_for else None
        l1_ttl, l2_ttl, l3_ttl = (_capped(t, cap) for t in (ns.l1_ttl, ns.l2_ttl, ns.l3_ttl))
        if gens is not None and l2_ttl != 0:
            expires = None if l2_ttl is None else created + l2_ttl
            value_key = keys.value_key(ns.name, gens, call.key_hash)
            writes = [(value_key, (created, expires, value), tiers.storage_ttl(l2_ttl))]
            if ns.stale_while_revalidate:
                stale_ttl = None if l2_ttl is None else l2_ttl * 10
                writes.append((keys.stale_key(ns.name, call.key_hash), (created, value), tiers.storage_ttl(stale_ttl)))
            try:
                if lock is not None and lock.held:
                    lock.store_and_release(writes)  # one round trip; waiters find the value at once
                else:
                    for key, envelope, timeout in writes:
                        tiers.l2_set(key, envelope, timeout)
            except tiers.TierUnavailable:
                pass
        if ns.persistent and l3_ttl != 0 and call.durable is not None:
            try:
                tiers.l3_set(
                    ns.name,
                    call.key_hash,
                    value=value,
                    data_hash=keys.data_hash(payload),
                    generation=call.durable,
                    params=call.params,
                    scope=call.scope,
                    created=_ts(created),
                    ttl=l3_ttl,
                )
            except tiers.TierUnavailable:
                pass
        if gens is None:
            # L2 is unreachable, so invalidations from other processes cannot reach us: keep the
            # value only briefly, so the next slow path soon probes L2 and runs its recovery.
            l1_ttl = _capped(l1_ttl, conf.settings.CACHECORE_BREAKER_COOLDOWN)
        self._fill_l1(call, value, created, l1_ttl, marker, gens, size=len(payload))
        if call.force_refresh:
            _publish_refresh(call)
        return value, CacheInfo("miss", False, _ts(created), call.force_refresh)


def _publish_refresh(call: _Call) -> None:
    # A forced refresh replaced the value here and in L2: other processes must drop their L1 copy.
    try:
        coherence.publish(call.ns.name, call.scope, key=call.l1_key)
    except tiers.TierUnavailable as exc:
        logger.warning("cachecore: force_refresh of %s not announced to other processes: %s", call.ns.name, exc)


cache = TieredCache()
verifier.engine = cache  # its re-reads of suspects go through the engine itself (not sampled again)


def _reset_for_tests() -> None:
    # Tests replace the engine's clock and sleep on the instance; put the class's back.
    cache.__dict__.pop("wall_clock", None)
    cache.__dict__.pop("sleep", None)


testing.register_reset(_reset_for_tests)


def get_or_compute(namespace: str, params: dict, compute, *, force_refresh: bool = False):
    """Return ``(value, CacheInfo)`` for ``params`` of ``namespace``, computing it on a miss."""
    value, info = cache.get_or_compute(namespace, params, compute, force_refresh=force_refresh)
    if info.is_cached:
        verifier.on_hit(namespace, params, value, info, compute)  # samples and enqueues only
    return value, info
