"""The L3 tier: a database table of cache entries with TTL and access tracking."""

from django.db import models


class CacheEntry(models.Model):
    """One cached value of a persistent namespace, addressed by (namespace, key_hash)."""

    namespace = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64)
    user_id = models.BigIntegerField(null=True, blank=True)
    strategy_id = models.BigIntegerField(null=True, blank=True)
    scope = models.CharField(max_length=200, blank=True, default="")
    generation = models.CharField(max_length=64, blank=True, default="")
    data_hash = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_accessed = models.DateTimeField()
    access_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"
        constraints = [models.UniqueConstraint(fields=["namespace", "key_hash"], name="uniq_cacheentry_ns_key")]
        indexes = [
            models.Index(fields=["expires_at"], name="cacheentry_expires_idx"),
            models.Index(fields=["-access_count"], name="cacheentry_access_idx"),
            models.Index(fields=["namespace", "user_id", "strategy_id"], name="cacheentry_ns_user_idx"),
            models.Index(fields=["namespace", "scope"], name="cacheentry_ns_scope_idx"),
        ]

    def __str__(self):
        return f"{self.namespace}:{self.key_hash[:12]}"


class CacheGeneration(models.Model):
    """The durable generation token of a persistent namespace (scope "") or of one scope of it.

    L3 rows are valid only under the current tokens, so the cache table survives the loss of L2
    (a Redis flush or restart, another process's local-memory L2): the tokens live here, next to
    the rows, and an invalidation replaces them before it deletes the rows. Rows are never
    deleted: a missing row reads as the initial token, so removing one could revive a row written
    under that token. With read replicas every namespace has rows here, carrying the WAL
    position of its last invalidation (namespaces without L3 keep the initial token).
    """

    namespace = models.CharField(max_length=100)
    scope = models.CharField(max_length=200, blank=True, default="")
    token = models.CharField(max_length=32)
    updated_at = models.DateTimeField()
    # With read replicas: the primary's WAL position when the last invalidation of this namespace
    # or scope was applied (cachecore.wal); a replica that has not replayed it computes nothing.
    lsn = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "cache generation"
        verbose_name_plural = "cache generations"
        constraints = [models.UniqueConstraint(fields=["namespace", "scope"], name="uniq_cachegeneration_ns_scope")]

    def __str__(self):
        return f"{self.namespace}:{self.scope or '*'}={self.token}"


class InvalidationOutbox(models.Model):
    """One invalidation recorded in the writer's own transaction, waiting for a relay to apply it.

    A row names either a namespace (and a scope, "" for the whole namespace) written by the
    engine's receivers and ``invalidate()``, or a database table (``table``) written by the
    PostgreSQL trigger for writes that bypass the ORM; the relay maps a table to the namespaces
    watching it. A rolled-back transaction leaves no row; a committed one keeps its row until a
    relay has applied it (generation bumped, eviction published), whatever happens to the writer.
    """

    namespace = models.CharField(max_length=100, blank=True, default="")
    scope = models.CharField(max_length=200, blank=True, default="")
    table = models.CharField(max_length=100, blank=True, default="")
    source = models.CharField(max_length=30, blank=True, default="")
    created_at = models.DateTimeField()
    # The writer's transaction id (trigger rows only): one row per table and transaction.
    txid = models.BigIntegerField(null=True, blank=True)
    # A relay's lease while it applies the row (see cachecore.outbox.claim).
    claimed_by = models.CharField(max_length=60, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "pending invalidation"
        verbose_name_plural = "pending invalidations"
        indexes = [
            models.Index(fields=["created_at"], name="cacheoutbox_created_idx"),
            models.Index(fields=["txid", "table"], name="cacheoutbox_txid_idx"),
        ]

    def __str__(self):
        target = f"table {self.table}" if self.table else f"{self.namespace}:{self.scope or '*'}"
        return f"{target} ({self.source})"
