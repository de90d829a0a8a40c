"""Content planning domain: onboarding, strategies, calendars and performance."""

from django.conf import settings
from django.db import models

from cachecore.api import InvalidatingManager


class OwnerTracking:
    """Remember the owner column a row was loaded with (``loaded_owner``).

    Moving a row to another owner must invalidate the cached data of both the old and the new
    owner; the signal receivers only see the new value, so the old one is kept from load time.
    """

    owner_field = "user_id"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.loaded_owner = instance.__dict__.get(cls.owner_field)
        return instance


class OnboardingProfile(OwnerTracking, models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboarding")
    website = models.URLField(blank=True)
    industry = models.CharField(max_length=100, blank=True)
    audience = models.TextField(blank=True)
    goals = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    def __str__(self):
        return f"Onboarding of {self.user}"


class ContentStrategy(OwnerTracking, models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_strategies")
    name = models.CharField(max_length=200)
    pillars = models.JSONField(default=list, blank=True)
    target_keywords = models.JSONField(default=list, blank=True)
    competitors = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        verbose_name_plural = "content strategies"
        ordering = ["-updated_at", "id"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="strategy_user_updated_idx")]

    def __str__(self):
        return self.name


class CalendarEntry(OwnerTracking, models.Model):
    class Status(models.TextChoices):
        IDEA = "idea", "Idea"
        PLANNED = "planned", "Planned"
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    owner_field = "strategy_id"

    strategy = models.ForeignKey(ContentStrategy, on_delete=models.CASCADE, related_name="calendar_entries")
    date = models.DateField()
    channel = models.CharField(max_length=50)
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        verbose_name_plural = "calendar entries"
        ordering = ["date", "id"]
        indexes = [models.Index(fields=["strategy", "date"], name="calendar_strategy_date_idx")]

    def __str__(self):
        return f"{self.date} {self.channel}: {self.title}"


class ContentPerformance(OwnerTracking, models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_performance")
    strategy = models.ForeignKey(
        ContentStrategy, null=True, blank=True, on_delete=models.SET_NULL, related_name="performance"
    )
    date = models.DateField()
    channel = models.CharField(max_length=50)
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)

    objects = InvalidatingManager()  # queryset writes record their invalidation

    class Meta:
        verbose_name_plural = "content performance"
        ordering = ["-date", "id"]
        indexes = [models.Index(fields=["user", "date"], name="performance_user_date_idx")]

    def __str__(self):
        return f"{self.user} {self.date} {self.channel}"
