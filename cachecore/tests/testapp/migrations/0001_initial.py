import django.db.models.deletion
from django.db import migrations, models

import cachecore.pgnotify


class Migration(migrations.Migration):
    initial = True

    dependencies = [("cachecore", "0003_invalidation_outbox")]

    operations = [
        migrations.CreateModel(
            name="Owner",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("logo", models.URLField(blank=True)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="items", to="cachecore_testapp.owner"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Part",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("start_date", models.DateField()),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="parts", to="cachecore_testapp.item"
                    ),
                ),
            ],
        ),
        # Writes that bypass the ORM record outbox rows (PostgreSQL only; a no-op elsewhere).
        cachecore.pgnotify.InstallNotifyTriggers(
            ["cachecore_testapp_owner", "cachecore_testapp_item", "cachecore_testapp_part"]
        ),
    ]
