"""Small models for cachecore's tests: an owner with items and parts, and an unwatched note.

Shaped like what the engine meets in a project (a parent, children with a foreign key, a model
nothing watches); watches are registered by the tests themselves.
"""

from django.db import models

from cachecore.invalidation import InvalidatingManager


class Owner(models.Model):
    name = models.CharField(max_length=100, unique=True)

    objects = InvalidatingManager()


class Item(models.Model):
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=100)
    logo = models.URLField(blank=True)

    objects = InvalidatingManager()


class Part(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="parts")
    name = models.CharField(max_length=100)
    start_date = models.DateField()

    objects = InvalidatingManager()


class Note(models.Model):
    """A model no test watches by default (its deletes keep Django's fast path)."""

    name = models.CharField(max_length=100, unique=True)
