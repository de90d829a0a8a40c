"""Settings of the cache engine, read once from django.conf.settings and reloaded on change.

Every cachecore module reads ``conf.settings.NAME`` (DRF style): one place with the defaults,
and ``override_settings`` in tests works because the cache is dropped on ``setting_changed``.
"""

from django.conf import settings as django_settings
from django.core.signals import setting_changed

DEFAULTS = {
    # The rollback switch: False computes every value and caches nothing.
    "CACHE_ENABLED": True,
    # L1 (process memory) bounds: entries and approximate bytes of the JSON-encoded values.
    "CACHECORE_L1_MAX_ENTRIES": 5000,
    "CACHECORE_L1_MAX_BYTES": 64 * 1024 * 1024,
    # The Django cache alias used as L2 (and for generations and the cluster lock).
    "CACHECORE_CACHE_ALIAS": "default",
    # Single-flight: the cluster lock expires after LOCK_TIMEOUT so a crashed holder cannot block
    # forever; a waiter waits at most LOCK_WAIT for the holder's result, then computes itself.
    "CACHECORE_LOCK_TIMEOUT": 30.0,
    "CACHECORE_LOCK_WAIT": 10.0,
    # Circuit breaker per tier: open after THRESHOLD consecutive errors, probe after COOLDOWN s.
    "CACHECORE_BREAKER_THRESHOLD": 3,
    "CACHECORE_BREAKER_COOLDOWN": 5.0,
    # L3 access counts are flushed at most every ACCESS_FLUSH_SECONDS (0 = only explicitly/at exit).
    "CACHECORE_ACCESS_FLUSH_SECONDS": 5.0,
    "CACHECORE_ACCESS_BATCH_SIZE": 500,
    # "No TTL" values and per-scope generations still expire from L2 after this many seconds:
    # every invalidation leaves the old generation's keys behind (they cannot be enumerated),
    # so without a bound Redis would keep them forever. Expiry only costs a recompute.
    "CACHECORE_L2_MAX_TTL": 7 * 24 * 3600,
    # Invalidation (read by the invalidation side of the engine).
    "CACHECORE_DEBOUNCE_SECONDS": 2.0,
    "CACHECORE_MAX_WAIT_SECONDS": 10.0,
    "CACHECORE_PREWARM_ON_START": False,
    "CACHECORE_CHANNEL": "cachecore:invalidate",
    # Labels ("app.Model") of watched models whose default manager the project does not own (e.g.
    # auth.User): their queryset bulk writes knowingly record nothing, so check W003 skips them.
    "CACHECORE_UNRECORDED_BULK_WRITES": (),
    # The relay applying the invalidation outbox: a background thread in every process that uses
    # the cache (off: only `manage.py cache_relay` applies rows), its poll interval when nothing
    # wakes it, the rows it reads per pass, how long a relay's lease on rows lasts (a relay that
    # dies delays its rows by at most this), and whether it LISTENs for NOTIFY on PostgreSQL.
    "CACHECORE_RELAY_THREAD": True,
    "CACHECORE_RELAY_POLL_SECONDS": 1.0,
    "CACHECORE_RELAY_BATCH": 1000,
    "CACHECORE_RELAY_LEASE_SECONDS": 2.0,
    "CACHECORE_RELAY_LISTEN": True,
    # L1 coherence: how often a subscriber compares the eviction counter with what it received
    # (a lost message is noticed within two checks); also the longest L1 lifetime of a value
    # while the subscriber is not connected.
    "CACHECORE_COHERENCE_CHECK_SECONDS": 0.5,
    # Redis replication (cachecore/replication.py): an invalidation counts as applied only when
    # min(this many, the connected) replicas acknowledged it within WAIT_TIMEOUT seconds (0 = do
    # not wait; config/settings.py makes it 1 with Sentinel).
    "CACHECORE_REDIS_WAIT_REPLICAS": 0,
    "CACHECORE_REDIS_WAIT_TIMEOUT": 0.2,
    # The last-resort ceiling of every L1 entry's lifetime, whatever the namespace says.
    "CACHECORE_L1_MAX_TTL": 300.0,
    # Dotted path of a callable ``hook(role: str)`` that a long-running command of the engine
    # (cache_relay) calls once at start, e.g. to serve its own /metrics; "" = none.
    "CACHECORE_LONG_RUNNING_HOOK": "",
    # The sampling verifier: the fraction of hits (0..1) recomputed in the background and
    # compared by data hash (0 = off; Namespace(verify_rate=) overrides it), and the bound of its
    # queue (a sampled hit that finds the queue full is dropped and counted).
    "CACHECORE_VERIFY_RATE": 0.0,
    "CACHECORE_VERIFY_QUEUE_SIZE": 100,
    # Read replicas (docs/read-replicas.md): the database aliases of streaming replicas of the
    # primary ("default"); empty = none, and the engine does no replica work at all. A computation
    # that fills the cache runs on a replica only when it has replayed the namespace's (and
    # scope's) last invalidation; when it has not, the engine waits up to REPLICA_MAX_WAIT seconds
    # for it, then computes on the primary (a counted fallback).
    "CACHECORE_REPLICA_DATABASES": (),
    "CACHECORE_REPLICA_MAX_WAIT": 0.0,
    # App labels whose models are always read from the primary, even inside a replica
    # computation: the engine's own tables, and logins, sessions and permissions (a login must
    # see its session at once, whatever the replica's lag).
    "CACHECORE_REPLICA_PRIMARY_APPS": ("cachecore", "auth", "sessions", "contenttypes", "admin"),
}


class CacheSettings:
    """Lazily read cachecore settings; attribute access returns the setting or its default."""

    def __init__(self):
        self._cache = {}

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown cachecore setting: {name}")
        try:
            return self._cache[name]
        except KeyError:
            value = getattr(django_settings, name, DEFAULTS[name])
            self._cache[name] = value
            return value

    def reload(self):
        """Forget the cached values so the next access reads django.conf.settings again."""
        self._cache.clear()


settings = CacheSettings()


def _reload(*, setting, **kwargs):
    if setting in DEFAULTS:
        settings.reload()


setting_changed.connect(_reload)
