"""The PostgreSQL path for writes that bypass the ORM: NOTIFY triggers and their listener.

``InstallNotifyTriggers(tables)`` is a migration operation that installs one statement-level
trigger per table calling ``pg_notify('cachecore_invalidate', '{"table": ..., "op": ...}')``
(a no-op on other databases). ``Listener`` holds its own psycopg 3 connection, LISTENs, and
hands each notification to a callback; it reconnects with backoff and, after every (re)connect,
calls ``on_connect`` because notifications sent while it was away are gone.
``invalidation_handlers()`` wires it to the watch registry, the debouncer and cachalot.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.migrations.operations.base import Operation

from cachecore import invalidation
from cachecore.backoff import Backoff
from cachecore.cachalot import invalidate_cachalot

logger = logging.getLogger(__name__)

CHANNEL = "cachecore_invalidate"
FUNCTION = "cachecore_notify"
TRIGGER = "cachecore_notify"

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP)::text);
    RETURN NULL;
END
$$
"""
FUNCTION_IN_USE = "SELECT count(*) FROM pg_trigger WHERE tgfoid = to_regproc(%s) AND NOT tgisinternal"


# -- the migration operation -------------------------------------------------------------------


class InstallNotifyTriggers(Operation):
    """Install statement-level NOTIFY triggers on ``tables`` (PostgreSQL only; reversible)."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, tables):
        self.tables = tuple(tables)

    def deconstruct(self):
        return (self.__class__.__qualname__, [list(self.tables)], {})

    def state_forwards(self, app_label, state):
        pass  # triggers are not part of Django's model state

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(CREATE_FUNCTION)
        for table in self.tables:
            quoted = schema_editor.quote_name(table)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quoted}")
            schema_editor.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {quoted} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in self.tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {schema_editor.quote_name(table)}")
        # The function is shared by every migration using this operation: drop it with its last trigger.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FUNCTION_IN_USE, [FUNCTION])
            in_use = cursor.fetchone()[0]
        if not in_use:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")

    def describe(self):
        return f"Install cachecore NOTIFY triggers on {', '.join(self.tables)}"

    @property
    def migration_name_fragment(self):
        return "notify_triggers"


def installed_triggers(using: str = "default") -> list[str]:
    """Return the tables that carry the cachecore NOTIFY trigger (PostgreSQL; [] elsewhere)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal ORDER BY c.relname",
            [TRIGGER],
        )
        return [row[0] for row in cursor.fetchall()]


# -- the listener ------------------------------------------------------------------------------


def parse_payload(payload: str) -> tuple[str, str] | None:
    """Return (table, op) from a notification payload, or None when it is malformed."""
    try:
        data = json.loads(payload)
        return str(data["table"]), str(data.get("op", ""))
    except (ValueError, TypeError, KeyError):
        logger.warning("cachecore: ignoring malformed notification payload %r", payload)
        return None


def connection_params(using: str = "default") -> dict:
    """Return psycopg.connect() keyword arguments for the Django database ``using``."""
    params = connections[using].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return params


@dataclass
class ListenerStats:
    """What a listener run did (returned by Listener.run, shown by the command)."""

    connects: int = 0
    notifications: int = 0
    lost_connections: int = 0


class Listener:
    """LISTEN on CHANNEL over a dedicated connection; reconnect with backoff until stopped."""

    poll_seconds = 0.5
    keepalive_seconds = 30.0
    clock = staticmethod(time.monotonic)

    def __init__(
        self,
        connect: Callable[[], object],
        on_notify: Callable[[str, str], None],
        on_connect: Callable[[bool], None],
        *,
        channel: str = CHANNEL,
        backoff: Backoff | None = None,
        stop: threading.Event | None = None,
    ):
        self._connect = connect
        self._on_notify = on_notify
        self._on_connect = on_connect
        self.channel = channel
        self._backoff = backoff or Backoff(initial=0.2, maximum=10.0)
        self.stop_event = stop or threading.Event()
        self.stats = ListenerStats()
        self.backend_pid: int | None = None
        self.listening = threading.Event()

    def stop(self) -> None:
        """Ask run() to return after the current poll."""
        self.stop_event.set()

    def run(self, *, max_seconds: float | None = None, max_notifications: int | None = None) -> ListenerStats:
        """Listen until stopped, ``max_seconds`` elapsed or ``max_notifications`` handled."""
        deadline = None if max_seconds is None else self.clock() + max_seconds
        self._limit = max_notifications
        while not self._done(deadline):
            conn = None
            try:
                conn = self._connect()
                self._listen(conn, deadline)
            except Exception as exc:  # noqa: BLE001 - psycopg or socket errors: reconnect after a pause
                self.listening.clear()
                if self._done(deadline):
                    break
                self.stats.lost_connections += conn is not None
                logger.warning("cachecore: invalidation listener lost its connection (%s); reconnecting", exc)
                self.stop_event.wait(self._pause(deadline))
            finally:
                self.listening.clear()
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001 - already broken; nothing to save
                        logger.debug("cachecore: closing the listener connection failed", exc_info=True)
        return self.stats

    def _done(self, deadline) -> bool:
        if self.stop_event.is_set():
            return True
        if self._limit is not None and self.stats.notifications >= self._limit:
            return True
        return deadline is not None and self.clock() >= deadline

    def _pause(self, deadline) -> float:
        pause = self._backoff.next()
        return pause if deadline is None else max(0.0, min(pause, deadline - self.clock()))

    @staticmethod
    def _callback(fn, *args) -> None:
        # A failing handler is a bug to log, not a reason to drop the connection and reconnect.
        try:
            fn(*args)
        except Exception:
            logger.exception("cachecore: invalidation listener handler failed for %s", args)

    def _listen(self, conn, deadline) -> None:
        conn.execute(f"LISTEN {self.channel}")
        self.backend_pid = conn.info.backend_pid
        first = self.stats.connects == 0
        self.stats.connects += 1
        self._backoff.reset()
        # LISTEN is active before the catch-up invalidation, so nothing falls in between.
        self._callback(self._on_connect, first)
        self.listening.set()
        last_activity = self.clock()
        while not self._done(deadline):
            received = False
            for notify in conn.notifies(timeout=self.poll_seconds):
                received = True
                self.stats.notifications += 1
                parsed = parse_payload(notify.payload)
                if parsed is not None:
                    self._callback(self._on_notify, *parsed)
                if self._done(deadline):
                    return
            now = self.clock()
            if received:
                last_activity = now
            elif now - last_activity >= self.keepalive_seconds:
                conn.execute("SELECT 1")  # a dead server shows up here rather than never
                last_activity = now


# -- wiring to the engine ----------------------------------------------------------------------


def invalidation_handlers(tables: dict[str, tuple[str, ...]] | None = None):
    """Return (on_notify, on_connect) that map tables to namespaces through the watch registry."""

    def current() -> dict[str, tuple[str, ...]]:
        return tables if tables is not None else invalidation.watched_tables()

    def on_notify(table: str, op: str) -> None:
        names = current().get(table, ())
        for name in names:
            invalidation.enqueue(name, source="listener")
        invalidate_cachalot([table])
        if not names:
            logger.debug("cachecore: notification for unwatched table %s (%s)", table, op)

    def on_connect(first: bool) -> None:
        watched = current()
        names = sorted({name for names in watched.values() for name in names})
        for name in names:
            invalidation.invalidate_now(name, source="listener_reconnect")
        invalidate_cachalot(watched)
        logger.info(
            "cachecore: listening on %s for %d table(s); %s invalidated %d namespace(s)",
            CHANNEL,
            len(watched),
            "connected and" if first else "reconnected and",
            len(names),
        )

    return on_notify, on_connect


def psycopg_connector(using: str = "default") -> Callable[[], object]:
    """Return a function opening a fresh autocommit psycopg 3 connection to ``using``."""
    import psycopg

    params = connection_params(using)

    def connect():
        return psycopg.connect(**params, autocommit=True)

    return connect
