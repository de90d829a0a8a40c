"""manage.py cleanup_cache [--dry-run] [--namespace N] [--batch-size B]"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from cachecore import maintenance


class Command(BaseCommand):
    help = "Delete expired rows of the L3 cache table in batches (never a row that is still valid)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count the expired rows, delete nothing")
        parser.add_argument("--namespace", help="only rows of this namespace")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per DELETE (default 1000)")

    def handle(self, *args, dry_run, namespace, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not maintenance.table_exists():
            raise CommandError(
                f"Cache table {maintenance.table_name()} does not exist; run manage.py create_cache_table."
            )
        try:
            result = maintenance.cleanup_expired(namespace=namespace, batch_size=batch_size, dry_run=dry_run)
        except DatabaseError as exc:
            raise CommandError(f"Cleanup failed: {exc}") from exc
        where = f" in namespace {namespace}" if namespace else ""
        if dry_run:
            self.stdout.write(f"Dry run: {result.expired} expired row(s){where} would be deleted.")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {result.deleted} expired row(s){where} in {result.batches} batch(es).")
        )
