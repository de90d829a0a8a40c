"""Trackers domain: clients, brands, production runs, locations, images, trackers, history."""

from django.conf import settings
from django.db import models

from cachecore.api import InvalidatingManager


class Client(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ClientMembership(models.Model):
    """A user's membership of a client; it decides which data the user may see."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        OPERATOR = "operator", "Operator"
        ADMIN = "admin", "Client admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_memberships")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="uniq_membership_user_client")]

    def __str__(self):
        return f"{self.user} @ {self.client} ({self.role})"

    @classmethod
    def from_db(cls, db, field_names, values):
        # A membership moved to another user changes the rights of both users: the invalidation
        # receivers see the new user only, so the user the row was loaded with is kept.
        instance = super().from_db(db, field_names, values)
        instance.loaded_user_id = instance.__dict__.get("user_id")
        return instance


class Brand(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=200)
    logo = models.URLField(blank=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["client", "name"], name="uniq_brand_client_name")]

    def __str__(self):
        return self.name


class ProductionRun(models.Model):
    # No FK index of Django's own: productionrun_brand_idx below is the same index, named.
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="production_runs", db_index=False)
    name = models.CharField(max_length=200)
    start_date = models.DateField()

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        ordering = ["-start_date", "id"]
        indexes = [models.Index(fields=["brand"], name="productionrun_brand_idx")]

    def __str__(self):
        return self.name


class Place(models.Model):
    """A named place with coordinates (storage and delivery locations share this shape)."""

    name = models.CharField(max_length=200)
    city = models.CharField(max_length=100, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name


class StorageLocation(Place):
    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta(Place.Meta):
        pass


class DeliveryLocation(Place):
    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta(Place.Meta):
        pass


class Image(models.Model):
    title = models.CharField(max_length=200)
    url = models.URLField()

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class TrackerStatus(models.TextChoices):
    IN_STORAGE = "in_storage", "In storage"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    LOST = "lost", "Lost"
    INACTIVE = "inactive", "Inactive"


class Tracker(models.Model):
    """A physical tracker; its latest_* fields are the current state kept by the state sync."""

    serial = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # No FK index of Django's own: tracker_run_idx below is the same index, named.
    production_run = models.ForeignKey(ProductionRun, on_delete=models.CASCADE, related_name="trackers", db_index=False)
    current_status = models.CharField(max_length=20, choices=TrackerStatus.choices, default=TrackerStatus.INACTIVE)
    last_report_received = models.DateTimeField(null=True, blank=True)
    storage_location = models.ForeignKey(StorageLocation, null=True, blank=True, on_delete=models.SET_NULL)
    delivery_location = models.ForeignKey(DeliveryLocation, null=True, blank=True, on_delete=models.SET_NULL)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL)
    # Current state, maintained by sync_tracker_state from LocationHistory (null before a sync).
    latest_latitude = models.FloatField(null=True, blank=True)
    latest_longitude = models.FloatField(null=True, blank=True)
    latest_timestamp = models.DateTimeField(null=True, blank=True)
    latest_nearest_city = models.CharField(max_length=100, blank=True)
    latest_confidence = models.FloatField(null=True, blank=True)
    latest_history_id = models.BigIntegerField(null=True, blank=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        ordering = [models.F("last_report_received").desc(nulls_last=True), "id"]
        indexes = [
            models.Index(fields=["production_run"], name="tracker_run_idx"),
            # Also serves filters on current_status alone (its leading column): no separate index.
            models.Index(fields=["current_status", "production_run"], name="tracker_status_run_idx"),
            # tracker_dashboard_order_idx (last_report_received DESC NULLS LAST, id), the dashboard's
            # order, is created by migration 0004 with SQL per database (SQLite has no NULLS LAST in
            # an index, and needs none: its DESC puts NULLs last): an index Django's state cannot say.
            # A later migration that alters this table on SQLite rebuilds it without that index:
            # test_indexes.py then fails, and that migration must create it again.
        ]

    def __str__(self):
        return f"{self.serial} {self.name}"


class LocationHistory(models.Model):
    # No FK index: the (tracker, timestamp) unique constraint's index starts with tracker_id and
    # serves every lookup by tracker, and "latest report of a tracker" (ORDER BY timestamp DESC
    # LIMIT 1) as a backward scan, so a (tracker, -timestamp) index would duplicate it too.
    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="history", db_index=False)
    timestamp = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    nearest_city = models.CharField(max_length=100, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        verbose_name_plural = "location history"
        constraints = [models.UniqueConstraint(fields=["tracker", "timestamp"], name="uniq_history_tracker_timestamp")]

    def __str__(self):
        return f"{self.tracker_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class SyncWatermark(models.Model):
    """How far a sync has read: the highest LocationHistory id it has applied."""

    name = models.CharField(max_length=100, unique=True)
    last_history_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    last_run_rows = models.IntegerField(default=0)
    last_run_trackers = models.IntegerField(default=0)
    last_run_seconds = models.FloatField(default=0.0)

    def __str__(self):
        return f"{self.name}: {self.last_history_id}"
