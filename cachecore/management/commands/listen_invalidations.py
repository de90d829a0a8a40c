"""manage.py listen_invalidations [--max-seconds S] [--max-notifications N]"""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cachecore import invalidation, pgnotify
from cachecore.hooks import long_running_started


class Command(BaseCommand):
    help = (
        "LISTEN for PostgreSQL NOTIFY events from the cachecore triggers and invalidate the watched "
        "namespaces (reconnects with backoff; invalidates everything it watches after each reconnect)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="database alias to listen on (default: default)")
        parser.add_argument("--max-seconds", type=float, help="stop after this many seconds (bounded runs, tests)")
        parser.add_argument("--max-notifications", type=int, help="stop after this many notifications")

    def handle(self, *args, database="default", max_seconds=None, max_notifications=None, **options):
        if connections[database].vendor != "postgresql":
            raise CommandError(f"listen_invalidations needs PostgreSQL; database {database!r} is not.")
        for name, value in (("--max-seconds", max_seconds), ("--max-notifications", max_notifications)):
            if value is not None and value <= 0:
                raise CommandError(f"{name} must be greater than 0.")
        tables = invalidation.watched_tables()
        missing = sorted(set(tables) - set(pgnotify.installed_triggers(database)))
        connections[database].close()  # the listener uses its own connection; free Django's
        if missing:
            self.stderr.write(self.style.WARNING(f"No NOTIFY trigger on watched table(s): {', '.join(missing)}."))
        long_running_started("listen_invalidations")  # e.g. its own /metrics (CACHECORE_LONG_RUNNING_HOOK)
        self.stdout.write(f"Listening on {pgnotify.CHANNEL} for {len(tables)} watched table(s). Ctrl-C stops.")
        on_notify, on_connect = pgnotify.invalidation_handlers()
        listener = pgnotify.Listener(pgnotify.psycopg_connector(database), on_notify, on_connect)
        self._install_signal_handlers(listener)
        try:
            result = listener.run(max_seconds=max_seconds, max_notifications=max_notifications)
        finally:
            fired = invalidation.flush_pending()
        self.stdout.write(
            self.style.SUCCESS(
                f"Stopped: {result.notifications} notification(s), {result.connects} connection(s), "
                f"{result.lost_connections} lost; flushed {fired} pending invalidation(s)."
            )
        )

    def _install_signal_handlers(self, listener) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread (tests run us in others)

        def stop(signum, frame):
            listener.stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
