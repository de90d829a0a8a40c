"""The trackers migrations install cachecore's outbox triggers on the tables whose writes matter."""

import pytest
from django.db import connection

from cachecore import pgnotify

NOTIFIED_TABLES = [
    "trackers_brand",
    "trackers_client",
    "trackers_deliverylocation",
    "trackers_image",
    "trackers_locationhistory",
    "trackers_productionrun",
    "trackers_storagelocation",
    "trackers_tracker",
]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestTrackersTriggers:
    def test_migration_installed_the_triggers(self):
        assert set(NOTIFIED_TABLES) <= set(pgnotify.installed_triggers())

    def test_membership_edits_are_notified_too(self):
        # trackers 0003: a raw SQL membership change must refresh the user's cached client set.
        assert "trackers_clientmembership" in pgnotify.installed_triggers()

    def test_the_trackers_migration_reverses_and_reapplies(self):
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(connection)
        migration = loader.get_migration("trackers", "0002_notify_triggers")
        with connection.schema_editor() as editor:
            migration.unapply(loader.project_state(("trackers", "0002_notify_triggers")), editor)
        remaining = pgnotify.installed_triggers()
        assert not set(NOTIFIED_TABLES) & set(remaining)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regproc('cachecore_notify') IS NULL")
            # The shared function goes with its last trigger (other apps' migrations may keep it).
            assert cursor.fetchone()[0] is (not remaining)
        with connection.schema_editor() as editor:
            migration.apply(loader.project_state(("trackers", "0001_initial")), editor)
        assert set(NOTIFIED_TABLES) <= set(pgnotify.installed_triggers())
