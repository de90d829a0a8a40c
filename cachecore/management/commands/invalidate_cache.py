"""manage.py invalidate_cache NAMESPACE [--scope S] | --all"""

from django.core.management.base import BaseCommand, CommandError

from cachecore import invalidation
from cachecore.namespaces import all_namespaces

NEED_TARGET = "Name a namespace to invalidate, or pass --all."
BOTH_TARGETS = "Pass either a namespace or --all, not both."
SCOPE_WITH_ALL = "--scope needs a namespace; it cannot be combined with --all."
NOT_APPLIED = (
    "Redis or the database could not be reached: the invalidation is recorded in the outbox and a "
    "relay will apply it as soon as they can be (see manage.py cache_relay)."
)


class Command(BaseCommand):
    help = "Invalidate a cache namespace (or one scope of it, or every namespace) now, on every tier."

    def add_arguments(self, parser):
        parser.add_argument("namespace", nargs="?", help="the namespace to invalidate")
        parser.add_argument("--scope", help="invalidate only this scope of the namespace (e.g. user:7)")
        parser.add_argument("--all", action="store_true", help="invalidate every registered namespace")

    def handle(self, *args, namespace=None, scope=None, all=False, **options):
        if all and namespace:
            raise CommandError(BOTH_TARGETS)
        if all and scope:
            raise CommandError(SCOPE_WITH_ALL)
        if all:
            wanted = [ns.name for ns in all_namespaces()]
            names = invalidation.invalidate_all(source="command")
            missed = [name for name in wanted if name not in names]
            if missed:
                raise CommandError(f"{NOT_APPLIED} Not applied yet: {', '.join(missed)}.")
            self.stdout.write(self.style.SUCCESS(f"Invalidated {len(names)} namespace(s): {', '.join(names)}"))
            return
        if not namespace:
            raise CommandError(NEED_TARGET)
        known = [ns.name for ns in all_namespaces()]
        if namespace not in known:
            raise CommandError(f"Unknown namespace {namespace!r}. Known: {', '.join(known) or 'none registered'}.")
        try:
            applied = invalidation.invalidate_now(namespace, scope, source="command")
        except ValueError as exc:  # an empty scope, or a scope of a namespace kept without scopes
            raise CommandError(f"--scope: {exc}") from exc
        what = f"{namespace} (scope {scope})" if scope else namespace
        if not applied:
            raise CommandError(f"{NOT_APPLIED} Not applied yet: {what}.")
        self.stdout.write(self.style.SUCCESS(f"Invalidated {what}."))
