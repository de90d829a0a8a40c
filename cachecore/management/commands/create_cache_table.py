"""manage.py create_cache_table [--action create|status|drop]"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from cachecore import maintenance


class Command(BaseCommand):
    help = "Create, inspect or drop the L3 cache table (idempotent; uses Django's schema editor)."

    def add_arguments(self, parser):
        parser.add_argument("--action", choices=["create", "status", "drop"], default="create")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default: default)")

    def handle(self, *args, action, database, **options):
        try:
            getattr(self, f"_{action}")(database)
        except DatabaseError as exc:
            raise CommandError(f"Could not {action} the cache table: {exc}") from exc

    def _create(self, database):
        table = maintenance.table_name()
        if maintenance.create_table(using=database):
            self.stdout.write(self.style.SUCCESS(f"Created cache table {table}."))
        else:
            self.stdout.write(f"Cache table {table} already exists; nothing to do.")

    def _drop(self, database):
        table = maintenance.table_name()
        if maintenance.drop_table(using=database):
            self.stdout.write(self.style.WARNING(f"Dropped cache table {table}."))
        else:
            self.stdout.write(f"Cache table {table} does not exist; nothing to do.")

    def _status(self, database):
        status = maintenance.table_status(using=database)
        if not status.exists:
            self.stdout.write(self.style.WARNING(f"Cache table {status.table}: missing"))
            return
        self.stdout.write(
            f"Cache table {status.table}: exists, {status.rows} row(s), {status.expired} expired, "
            f"{status.rows - status.expired} valid"
        )
