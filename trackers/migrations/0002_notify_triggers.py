# Installs the cachecore NOTIFY triggers (PostgreSQL only; a no-op elsewhere) so writes that
# bypass the ORM (raw SQL, other services) record outbox rows (cachecore relays apply them).

from django.db import migrations

from cachecore.pgnotify import InstallNotifyTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("trackers", "0001_initial"),
    ]

    operations = [
        InstallNotifyTriggers(
            [
                "trackers_client",
                "trackers_brand",
                "trackers_productionrun",
                "trackers_storagelocation",
                "trackers_deliverylocation",
                "trackers_image",
                "trackers_tracker",
                "trackers_locationhistory",
            ]
        ),
    ]
