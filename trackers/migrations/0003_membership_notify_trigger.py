# Membership edits that bypass the ORM (raw SQL, another service) must refresh a user's cached
# client set too: the trigger records an outbox row (PostgreSQL only).

from django.db import migrations

from cachecore.pgnotify import InstallNotifyTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("trackers", "0002_notify_triggers"),
    ]

    operations = [InstallNotifyTriggers(["trackers_clientmembership"])]
