"""The three tiers behind one small interface: L1 process memory, L2 Django cache, L3 table.

- L1: a bounded LRU with per-entry TTL (``l1``). A get is a dict lookup and a clock read.
  Entries are not checked against generations on a read (except those of ``l1_checked``
  namespaces, which keep their generations for the engine to compare); instead every eviction (local
  invalidation or a coherence event) advances a sequence number under the L1 lock, and a write
  carries the sequence numbers captured before its computation started: a write whose
  computation began before an eviction of its namespace/scope is dropped (a late write of an
  old value cannot survive).
- L2: the Django cache alias ``CACHECORE_CACHE_ALIAS`` behind a circuit breaker; every error is
  turned into ``TierUnavailable`` so callers fall through to the next tier.
- L3: ``CacheEntry`` rows, only for persistent namespaces, behind their own breaker.
"""

import logging
import pickle
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.core.cache import caches
from django.db import DatabaseError, connections, transaction

from cachecore import conf
from cachecore.breaker import CircuitBreaker

logger = logging.getLogger("cachecore")

# A far-future expiry for L3 rows of namespaces without an L3 TTL (the column is NOT NULL).
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


class TierUnavailable(Exception):
    """A tier could not be used for this call (error or open breaker); try the next one."""


# --- L1 ---------------------------------------------------------------------------------------


class L1Cache:
    """A thread-safe, bounded (entries and approximate bytes) LRU with a TTL per entry."""

    clock = staticmethod(time.monotonic)
    # Eviction fences are kept per scope (one per user): past this many they are forgotten at
    # once and every pending write is fenced instead, so the dict cannot grow for the life of
    # the process.
    max_scope_fences = 10_000

    def __init__(self):
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self._seq_all = 0
        self._seq_ns: dict[str, int] = {}
        self._seq_scope: dict[tuple[str, str], int] = {}

    # Entry layout (a tuple is the cheapest thing to build and read):
    # (expires_at_monotonic | None, value, created datetime, size, namespace, scope, generations | None)

    def get(self, key: str):
        """Return the live entry tuple for ``key`` or None."""
        entry = self._data.get(key)
        if entry is None:
            return None
        expires = entry[0]
        if expires is not None and expires <= self.clock():
            self._remove_if_same(key, entry)
            return None
        try:
            self._data.move_to_end(key)
        except KeyError:  # evicted by another thread between the lookup and the touch
            pass
        return entry

    def marker(self, namespace: str, scope: str | None) -> tuple[int, int, int]:
        """Return the eviction sequence numbers a later ``set`` of this namespace/scope must match."""
        return (self._seq_all, self._seq_ns.get(namespace, 0), self._seq_scope.get((namespace, scope), 0))

    def set(self, key, value, *, ttl, created, size, namespace, scope, marker, generations=None) -> bool:
        """Store an entry unless an eviction happened since ``marker`` was taken; return whether stored.

        ``generations`` are those the value was read or computed under (kept for ``l1_checked``).
        """
        max_entries = conf.settings.CACHECORE_L1_MAX_ENTRIES
        max_bytes = conf.settings.CACHECORE_L1_MAX_BYTES
        if max_entries <= 0 or ttl == 0 or size > max_bytes // 4:
            return False
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            if marker != self.marker(namespace, scope):
                return False
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[3]
            self._data[key] = (expires, value, created, size, namespace, scope, generations)
            self._bytes += size
            while self._data and (len(self._data) > max_entries or self._bytes > max_bytes):
                _, evicted = self._data.popitem(last=False)
                self._bytes -= evicted[3]
        return True

    def _remove_if_same(self, key, entry) -> None:
        with self._lock:
            if self._data.get(key) is entry:
                del self._data[key]
                self._bytes -= entry[3]

    def delete(self, key: str) -> None:
        """Remove one entry."""
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[3]

    def evict(self, namespace: str, scope: str | None = None) -> int:
        """Drop the entries of a namespace (or of one scope of it) and block older pending writes."""
        with self._lock:
            # Readers reorder the dict without the lock (move_to_end), so iterate over a snapshot
            # taken in one C-level call rather than over the live dict.
            items = list(self._data.items())
            if scope is None:
                self._seq_ns[namespace] = self._seq_ns.get(namespace, 0) + 1
                doomed = [k for k, e in items if e[4] == namespace]
            else:
                fence = (namespace, scope)
                if fence not in self._seq_scope and len(self._seq_scope) >= self.max_scope_fences:
                    # A forgotten fence restarts at 0, which a marker taken before could match
                    # again: advancing the global sequence fails every such marker.
                    self._seq_scope.clear()
                    self._seq_all += 1
                self._seq_scope[fence] = self._seq_scope.get(fence, 0) + 1
                doomed = [k for k, e in items if e[4] == namespace and e[5] == scope]
            for key in doomed:
                self._bytes -= self._data.pop(key)[3]
        return len(doomed)

    def clear(self) -> None:
        """Drop every entry and block every pending write."""
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self._seq_all += 1

    def reset(self) -> None:
        """Clear and forget eviction history and the clock override (tests)."""
        self.clear()
        with self._lock:
            self._seq_ns.clear()
            self._seq_scope.clear()
        self.__dict__.pop("clock", None)

    def entries_by_namespace(self) -> dict[str, int]:
        """Return the number of entries per namespace."""
        with self._lock:
            entries = list(self._data.values())
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry[4]] = counts.get(entry[4], 0) + 1
        return counts

    def expired_entries(self) -> int:
        """Return how many entries have outlived their TTL but are not dropped yet (dropped on read)."""
        now = self.clock()
        with self._lock:
            deadlines = [entry[0] for entry in self._data.values()]
        return sum(1 for expires in deadlines if expires is not None and expires <= now)

    def info(self) -> dict:
        """Return size and bounds for stats()."""
        return {
            "entries": len(self._data),
            "expired": self.expired_entries(),
            "bytes": self._bytes,
            "max_entries": conf.settings.CACHECORE_L1_MAX_ENTRIES,
            "max_bytes": conf.settings.CACHECORE_L1_MAX_BYTES,
        }

    def __len__(self):
        return len(self._data)


l1 = L1Cache()


def l1_evict(namespace: str, scope: str | None = None, generation: str | None = None) -> int:
    """Evict this process's L1 entries of a namespace (or one scope); called on invalidation events.

    ``generation`` (the new generation token, when the event carries it) is accepted for
    logging; correctness does not depend on it because L1 writes are fenced by sequence numbers.
    """
    return l1.evict(namespace, scope)


def l1_clear() -> None:
    """Drop this process's whole L1 (e.g. after the invalidation channel reconnected)."""
    l1.clear()


# --- L2 ---------------------------------------------------------------------------------------

l2_breaker = CircuitBreaker("l2")
l3_breaker = CircuitBreaker("l3")


def breakers() -> dict[str, CircuitBreaker]:
    """Return the breakers by tier."""
    return {"l2": l2_breaker, "l3": l3_breaker}


def _l2_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, TimeoutError, ConnectionError]
    try:
        import redis

        errors.append(redis.RedisError)
    except ImportError:  # pragma: no cover - redis is a requirement
        pass
    try:
        from django_redis.exceptions import ConnectionInterrupted

        errors.append(ConnectionInterrupted)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


L2_ERRORS = _l2_errors()


def l2_cache():
    """Return the Django cache used as L2."""
    return caches[conf.settings.CACHECORE_CACHE_ALIAS]


_forcing = threading.local()


@contextmanager
def despite_open_breakers():
    """Attempt tier calls in this block even while a breaker is open (failures still count).

    For invalidations: a read may skip a tier it believes down, but a generation bump or an
    eviction skipped that way would leave the old value served until the retry; the relay
    rather pays the timeout and learns at once whether the tier is back.
    """
    previous = getattr(_forcing, "on", False)
    _forcing.on = True
    try:
        yield
    finally:
        _forcing.on = previous


def _guarded(tier: str, breaker, errors, fn, args, kwargs):
    # One tier call through its circuit breaker: an open breaker or a tier error both become
    # TierUnavailable, which callers treat as "skip this tier".
    if not breaker.allow() and not getattr(_forcing, "on", False):
        raise TierUnavailable(f"{tier} breaker open")
    try:
        result = fn(*args, **kwargs)
    except errors as exc:
        breaker.failure(exc)
        raise TierUnavailable(f"{tier}: {exc}") from exc
    breaker.success()
    return result


def l2_call(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` against L2 through the breaker; raise TierUnavailable on failure."""
    return _guarded("l2", l2_breaker, L2_ERRORS, fn, args, kwargs)


def l2_get(key: str, default=None):
    """Return the L2 value of ``key`` (``default`` when absent)."""
    return l2_call(l2_cache().get, key, default)


def l2_get_many(keys: list[str]) -> dict:
    """Return the present L2 values of ``keys`` (one MGET on Redis)."""
    cache = l2_cache()
    client = getattr(cache, "client", None)
    if not _plain_django_redis(client):
        return l2_call(cache.get_many, keys)
    return l2_call(_redis_get_many, cache, client, keys)


def _plain_django_redis(client) -> bool:
    # django-redis's default client with its pickle serializer and no compressor: the value
    # format the fast lane below reads. Anything else takes the cache's own get_many.
    return (
        type(client) is _DJANGO_REDIS_CLIENT
        and type(getattr(client, "_serializer", None)) is _PICKLE_SERIALIZER
        and type(getattr(client, "_compressor", None)) is _IDENTITY_COMPRESSOR
    )


try:  # the hit path's fast lane needs exactly django-redis's default client (its key and value format)
    from django_redis.client import DefaultClient as _DJANGO_REDIS_CLIENT
    from django_redis.compressors.identity import IdentityCompressor as _IDENTITY_COMPRESSOR
    from django_redis.serializers.pickle import PickleSerializer as _PICKLE_SERIALIZER
except ImportError:  # pragma: no cover - django-redis is a requirement
    _DJANGO_REDIS_CLIENT = _IDENTITY_COMPRESSOR = _PICKLE_SERIALIZER = None

_PICKLE_PROTOCOL_2_PLUS = b"\x80"


def _redis_get_many(cache, client, keys: list[str]) -> dict:
    # The same MGET django-redis's get_many sends, without its per-value int() attempt and the
    # wrappers around it.
    raw = client.get_client(write=False).mget([cache.make_key(key) for key in keys])
    return {key: decode_l2(client, value) for key, value in zip(keys, raw, strict=True) if value is not None}


def decode_l2(client, raw: bytes):
    """Decode bytes django-redis's ``client`` stored (read with redis-py directly, e.g. in a pipeline).

    A pickled value of the default serializer without compression is unpickled directly;
    anything else (an int, which django-redis stores as digits, an older protocol, another
    serializer or a compressor) goes through django-redis's own decode.
    """
    if raw[:1] == _PICKLE_PROTOCOL_2_PLUS and _plain_django_redis(client):
        return pickle.loads(raw)  # noqa: S301 - our own L2, pickled by django-redis
    return client.decode(raw)


def redis_px(timeout: float | None) -> int | None:
    """Return django-redis's expiry in milliseconds for a ``set`` of ``timeout`` seconds (None: none)."""
    return None if timeout is None else max(int(timeout * 1000), 1)


def storage_ttl(ttl: float | None) -> float:
    """Return the L2 expiry for a value cached for ``ttl`` seconds (None: the bounded maximum)."""
    bound = conf.settings.CACHECORE_L2_MAX_TTL
    return bound if ttl is None else min(ttl, bound)


def l2_set(key: str, value, timeout: float | None) -> None:
    """Store ``value`` in L2 for ``timeout`` seconds (None: no expiry)."""
    l2_call(l2_cache().set, key, value, timeout)


def l2_add(key: str, value, timeout: float | None) -> bool:
    """Store ``value`` unless ``key`` exists; return whether it was stored."""
    return bool(l2_call(l2_cache().add, key, value, timeout))


def l2_delete(key: str) -> None:
    """Delete ``key`` from L2."""
    l2_call(l2_cache().delete, key)


# --- L3 ---------------------------------------------------------------------------------------

L3_PARAM_COLUMNS = ("user_id", "strategy_id")


def l3_call(fn, *args, **kwargs):
    """Run a CacheEntry query through the L3 breaker; raise TierUnavailable on a database error.

    Inside a caller's transaction the query runs in a savepoint: a failed L3 statement then costs
    the L3 tier only, not the caller's transaction (PostgreSQL aborts a transaction at its first
    failed statement, and Django refuses queries after a failed ORM write in an atomic block).
    """
    return _guarded("l3", l3_breaker, DatabaseError, _in_savepoint, (fn, *args), kwargs)


def _in_savepoint(fn, *args, **kwargs):
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return fn(*args, **kwargs)
    return fn(*args, **kwargs)


# --- L3 durable generations -------------------------------------------------------------------
# A row is valid only under the current durable tokens of its namespace and scope (CacheGeneration
# rows, in the same database). They are compared in the same statement that reads the row, so the
# check is atomic with the read, authoritative (L2 may have lost or missed a bump) and costs no
# extra query on an L3 hit. A missing CacheGeneration row is the initial token.

INITIAL_GENERATION = "0"
_SCOPE_MAX = 200  # CacheEntry.scope and CacheGeneration.scope


def scope_column(scope: str | None) -> str:
    """Return the stored form of a scope ("" for the whole namespace; truncated like the column)."""
    return (scope or "")[:_SCOPE_MAX]


def durable_token(namespace_token: str | None, scope_token: str | None) -> str:
    """Return the token L3 rows are written under, from the namespace's and the scope's tokens."""
    return f"d:{namespace_token or INITIAL_GENERATION}.{scope_token or INITIAL_GENERATION}"


_L3_GET_SQL: dict[tuple, str] = {}


def _l3_get_sql(connection, scoped: bool) -> str:
    # Constant text, built once per backend and table names: compiling the equivalent ORM query
    # (a filter plus two Subquery annotations) costs several times more than running it.
    from cachecore.models import CacheEntry, CacheGeneration

    tables = (CacheEntry._meta.db_table, CacheGeneration._meta.db_table)
    key = (connection.vendor, scoped, tables)
    if key not in _L3_GET_SQL:
        entries, generations = (connection.ops.quote_name(table) for table in tables)
        token = f"SELECT g.token FROM {generations} g WHERE g.namespace = %s AND g.scope = "
        scope_gen = f"({token}%s)" if scoped else "''"
        _L3_GET_SQL[key] = (
            f"SELECT e.id, e.generation, e.payload, e.created_at, e.expires_at, ({token}'') AS ns_gen, "
            f"{scope_gen} AS scope_gen FROM {entries} e "
            "WHERE e.namespace = %s AND e.key_hash = %s AND e.expires_at > %s"
        )
    return _L3_GET_SQL[key]


def _l3_get(namespace: str, key_hash: str, scope: str, now: datetime):
    from django.db import router

    from cachecore.models import CacheEntry

    connection = connections[router.db_for_read(CacheEntry)]
    params = [namespace, *((namespace, scope) if scope else ()), namespace, key_hash, now]
    # (namespace, key_hash) is unique: at most one row. raw() applies the fields' converters.
    for row in CacheEntry.objects.raw(_l3_get_sql(connection, bool(scope)), params):
        return [(row.pk, row.generation, row.payload, row.created_at, row.expires_at, row.ns_gen, row.scope_gen)]
    return []


class L3Read(NamedTuple):
    """An L3 lookup: the valid row (or None) and the current durable token when the query saw it."""

    row: tuple | None  # (pk, value, created_at, expires_at)
    generation: str | None  # None when no row was found: read it with l3_generation()


def l3_get(namespace: str, key_hash: str, scope: str | None, now: datetime) -> L3Read:
    """Return the live row of (namespace, key_hash) if written under the current durable generation."""
    found = _l3_read(_l3_get, namespace, key_hash, scope_column(scope), now)
    if not found:
        return L3Read(None, None)
    pk, generation, payload, created_at, expires_at, ns_gen, scope_gen = found[0]
    current = durable_token(ns_gen, scope_gen)
    if generation != current or not isinstance(payload, dict) or "v" not in payload:
        return L3Read(None, current)
    return L3Read((pk, payload["v"], created_at, expires_at), current)


def _l3_generation(namespace: str, scope: str) -> str:
    from cachecore.models import CacheGeneration

    rows = CacheGeneration.objects.filter(namespace=namespace, scope__in={"", scope})
    tokens = dict(rows.values_list("scope", "token"))
    return durable_token(tokens.get(""), tokens.get(scope) if scope else "")


def l3_generation(namespace: str, scope: str | None = None) -> str:
    """Return the current durable token of a namespace (and scope): one query."""
    return _l3_read(_l3_generation, namespace, scope_column(scope))


def _l3_read(fn, *args):
    recoveries = l3_breaker.recoveries
    result = l3_call(fn, *args)
    if l3_breaker.recoveries != recoveries:
        # This call ended an L3 outage, and the recovery may have replayed lost durable bumps
        # after the query ran: read again so a row retired by the replay is not served.
        result = l3_call(fn, *args)
    return result


def _l3_bump(namespace: str, scope: str, token: str | None, record_lsn: bool) -> None:
    from cachecore.models import CacheGeneration

    if record_lsn:  # read replicas: the primary's WAL position goes with the token (cachecore.wal)
        from cachecore import wal

        wal.record_bump(namespace, scope, token, datetime.now(UTC), initial=INITIAL_GENERATION)
        return
    CacheGeneration.objects.bulk_create(
        [CacheGeneration(namespace=namespace, scope=scope, token=token, updated_at=datetime.now(UTC))],
        update_conflicts=True,
        unique_fields=["namespace", "scope"],
        update_fields=["token", "updated_at"],
    )


def l3_bump_generation(namespace: str, scope: str | None, token: str | None, *, record_lsn: bool = False) -> None:
    """Replace the durable token of a namespace (or one scope): every L3 row written before is retired.

    With ``record_lsn`` (read replicas configured) the primary's WAL position is stored with it,
    in the same statement; ``token=None`` then records only the position (a namespace without L3).
    """
    l3_call(_l3_bump, namespace, scope_column(scope), token, record_lsn)


def _l3_set(entry) -> None:
    from cachecore.models import CacheEntry

    CacheEntry.objects.bulk_create(
        [entry],
        update_conflicts=True,
        unique_fields=["namespace", "key_hash"],
        update_fields=[
            "user_id",
            "strategy_id",
            "scope",
            "generation",
            "data_hash",
            "payload",
            "created_at",
            "expires_at",
            "last_accessed",
            "access_count",
        ],
    )


def l3_set(namespace, key_hash, *, value, data_hash, generation, params, scope, created, ttl) -> None:
    """Upsert the row of (namespace, key_hash) with ``value`` for ``ttl`` seconds (None: no expiry)."""
    from cachecore.models import CacheEntry

    def column_id(name):
        raw = params.get(name)
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else None

    entry = CacheEntry(
        namespace=namespace,
        key_hash=key_hash,
        user_id=column_id("user_id"),
        strategy_id=column_id("strategy_id"),
        scope=scope_column(scope),
        generation=generation or "",
        data_hash=data_hash,
        payload={"v": value},  # wrapped so a cached None is stored as JSON, distinct from a miss
        created_at=created,
        expires_at=NEVER if ttl is None else created + timedelta(seconds=ttl),
        last_accessed=created,
        access_count=0,
    )
    l3_call(_l3_set, entry)


def l3_delete(namespace: str, scope: str | None = None) -> int:
    """Delete the L3 rows of a namespace (or of one scope of it); return how many were deleted."""
    from cachecore.models import CacheEntry
    from cachecore.namespaces import get_namespace

    try:
        if not get_namespace(namespace).persistent:
            return 0  # only persistent namespaces have rows; spare the DELETE
    except LookupError:
        pass  # unknown here (e.g. declared by another process): delete to be safe

    def delete():
        rows = CacheEntry.objects.filter(namespace=namespace)
        if scope is not None:
            rows = rows.filter(scope=scope_column(scope))
        return rows.delete()[0]

    try:
        return l3_call(delete)
    except TierUnavailable:
        return 0


def reset() -> None:
    """Clear L1 and close both breakers (tests)."""
    l1.reset()
    l2_breaker.reset()
    l3_breaker.reset()
    l2_breaker.__dict__.pop("clock", None)
    l3_breaker.__dict__.pop("clock", None)
