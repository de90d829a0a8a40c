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
    under that token.
    """

    namespace = models.CharField(max_length=100)
    scope = models.CharField(max_length=200, blank=True, default="")
    token = models.CharField(max_length=32)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "cache generation"
        verbose_name_plural = "cache generations"
        constraints = [models.UniqueConstraint(fields=["namespace", "scope"], name="uniq_cachegeneration_ns_scope")]

    def __str__(self):
        return f"{self.namespace}:{self.scope or '*'}={self.token}"
