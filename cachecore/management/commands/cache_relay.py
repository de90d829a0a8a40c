"""manage.py cache_relay [--max-seconds S] [--database ALIAS]"""

import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cachecore import outbox, relay
from cachecore.conf import settings
from cachecore.hooks import long_running_started


class Command(BaseCommand):
    help = (
        "Run a dedicated relay: apply the invalidation outbox (bump generations, publish evictions, "
        "delete applied rows) until stopped. Woken by NOTIFY on PostgreSQL, by polling elsewhere. "
        "Safe beside the relay threads of web processes and other cache_relay processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="database alias of the outbox (default: default)")
        parser.add_argument("--max-seconds", type=float, help="stop after this many seconds (bounded runs, tests)")

    def handle(self, *args, database="default", max_seconds=None, **options):
        if database not in connections:
            raise CommandError(f"Unknown database alias {database!r}.")
        if max_seconds is not None and max_seconds <= 0:
            raise CommandError("--max-seconds must be greater than 0.")
        pending = outbox.status(using=database)
        listen = connections[database].vendor == "postgresql" and settings.CACHECORE_RELAY_LISTEN
        how = "LISTEN/NOTIFY + polling" if listen else "polling"
        self.stdout.write(
            f"Relay running on database {database!r} ({how} every {settings.CACHECORE_RELAY_POLL_SECONDS:g} s); "
            f"{pending['pending']} row(s) pending. Ctrl-C stops.",
        )
        self.stdout.flush()
        long_running_started("cache_relay")  # e.g. its own /metrics (CACHECORE_LONG_RUNNING_HOOK)
        loop = relay.RelayThread(relay.Relay(using=database), listen=listen)
        stop = threading.Event()
        self._install_signal_handlers(stop)
        # The loop runs in a daemon thread and this one only waits: --max-seconds and signals are
        # honoured even when a database or Redis call of the loop hangs on a dead connection.
        loop.start()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            stop.wait(1.0 if left is None else min(1.0, left))
        loop.stop(timeout=5)
        stats = loop.relay.stats
        left = outbox.status(using=database)["pending"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Stopped: {stats.passes} pass(es), {stats.applied} invalidation(s) applied, "
                f"{stats.deleted} row(s) deleted, {stats.failed} failed, {stats.errors} error(s); "
                f"{left} row(s) pending."
            )
        )

    def _install_signal_handlers(self, stop: threading.Event) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread (tests run us in others)

        def handler(signum, frame):
            stop.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
