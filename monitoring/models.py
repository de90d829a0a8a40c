"""The shared store of per-process counters, so every process can report the whole deployment."""

from django.db import models


class ProcessStats(models.Model):
    """The latest counters of one process: cache engine totals and query timing sketches.

    Each process rewrites its own row every ``MONITORING_SHARED_STATS_SECONDS`` (and at exit); a
    reader sums the rows updated within ``MONITORING_SHARED_STATS_MAX_AGE``. Rows are replaced,
    never appended, so the table holds one row per process of the last hour.
    """

    process = models.CharField(max_length=160, primary_key=True)  # host:pid:start
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    cache = models.JSONField(default=list)  # cachecore encode_totals() pairs
    performance = models.JSONField(default=dict)  # PerformanceTracker.to_snapshot(windows=False)

    class Meta:
        verbose_name = "process statistics"
        verbose_name_plural = "process statistics"

    def __str__(self):
        return self.process


class MetricSample(models.Model):
    """What one process counted during one time bucket (``MONITORING_HISTORY_RESOLUTION`` s).

    The monitoring page's charts sum the buckets of every process over the last
    ``MONITORING_HISTORY_WINDOW`` seconds; older rows are deleted, so the table stays bounded
    (window / resolution rows per process).
    """

    bucket = models.BigIntegerField(db_index=True)  # epoch seconds, a multiple of the resolution
    process = models.CharField(max_length=160)
    cache = models.JSONField(default=list)  # counter deltas, cachecore encode_totals() pairs
    sql = models.JSONField(default=dict)  # QuantileSketch.to_dict() of the bucket's SQL timings
    outbox_age = models.FloatField(null=True)  # seconds: the oldest pending invalidation, when published

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "process"], name="uniq_sample_bucket_process")]

    def __str__(self):
        return f"{self.process} @ {self.bucket}"
