"""The PostgreSQL path for writes that bypass the ORM: outbox triggers, and NOTIFY to wake relays.

``InstallNotifyTriggers(tables)`` is a migration operation that installs one statement-level
trigger per table (a no-op on other databases). The trigger function inserts one outbox row per
table and transaction (``txid_current()``) in the writer's transaction, so a raw SQL write, or a
write by another service, cannot commit without its invalidation; it then sends
``pg_notify('cachecore_invalidate', <table>)``, which only wakes the relays (the row is the data).
``UpdateNotifyFunction`` (re)installs the function body in a later migration.

``Listener`` holds its own psycopg 3 connection (with TCP keepalives and a user timeout, so a
silently dead connection is noticed), LISTENs, and hands each notification to a callback; it
reconnects with backoff. Nothing is lost while it is away: the rows wait in the outbox.
"""

import json
import logging
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.migrations.operations.base import Operation

from cachecore.backoff import Backoff

logger = logging.getLogger(__name__)

CHANNEL = "cachecore_invalidate"
FUNCTION = "cachecore_notify"
TRIGGER = "cachecore_notify"

OUTBOX_TABLE = "cachecore_invalidationoutbox"
# One outbox row per (table, transaction): the (txid, table) index makes the check cheap. The
# to_regclass() guard lets migrations that write to watched tables run before the outbox exists.
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('{OUTBOX_TABLE}') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {OUTBOX_TABLE} WHERE txid = txid_current() AND "table" = TG_TABLE_NAME
    ) THEN
        INSERT INTO {OUTBOX_TABLE} (namespace, scope, "table", source, created_at, txid, claimed_by)
        VALUES ('', '', TG_TABLE_NAME, 'trigger:' || lower(TG_OP), clock_timestamp(), txid_current(), '');
    END IF;
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END
$$
"""
# The first wave's body (NOTIFY only), restored when the outbox migration is reversed.
NOTIFY_ONLY_FUNCTION = f"""
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


class UpdateNotifyFunction(Operation):
    """(Re)install the trigger function with the outbox body (PostgreSQL only; reversible)."""

    reversible = True
    reduces_to_sql = True

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {})

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(CREATE_FUNCTION)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(NOTIFY_ONLY_FUNCTION)

    def describe(self):
        return "Make the cachecore trigger function write outbox rows"


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


def parse_payload(payload: str) -> str | None:
    """Return the table named by a notification (a plain table name, or the first wave's JSON)."""
    payload = (payload or "").strip()
    if payload.startswith("{"):
        try:
            return str(json.loads(payload)["table"])
        except (ValueError, TypeError, KeyError):
            logger.warning("cachecore: ignoring malformed notification payload %r", payload)
            return None
    return payload or None


def connection_params(using: str = "default") -> dict:
    """Return psycopg.connect() keyword arguments for the Django database ``using``."""
    params = connections[using].get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    # A listener waits on its socket for a long time: without keepalives a silently dead peer
    # (a dropped NAT entry, a frozen proxy) would keep it waiting forever.
    for name, value in KEEPALIVE_PARAMS.items():
        params.setdefault(name, value)
    return params


# libpq parameters: probe an idle connection after 10 s, every 5 s, give up after 3 probes, and
# fail a write not acknowledged within 15 s (tcp_user_timeout, milliseconds).
KEEPALIVE_PARAMS = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
    "connect_timeout": 10,
}


@dataclass
class ListenerStats:
    """What a listener run did (returned by Listener.run, shown by the command)."""

    connects: int = 0
    notifications: int = 0
    lost_connections: int = 0


class Listener:
    """LISTEN on CHANNEL over a dedicated connection; reconnect with backoff until stopped."""

    poll_seconds = 0.5
    keepalive_seconds = 5.0
    ping_timeout = 5.0
    clock = staticmethod(time.monotonic)

    def __init__(
        self,
        connect: Callable[[], object],
        on_notify: Callable[[str], None],
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
        # LISTEN is active before on_connect (a relay pass), so no row falls in between.
        self._callback(self._on_connect, first)
        self.listening.set()
        last_activity = self.clock()
        while not self._done(deadline):
            received = False
            for notify in conn.notifies(timeout=self.poll_seconds):
                received = True
                self.stats.notifications += 1
                table = parse_payload(notify.payload)
                if table is not None:
                    self._callback(self._on_notify, table)
                if self._done(deadline):
                    return
            now = self.clock()
            if received:
                last_activity = now
            elif now - last_activity >= self.keepalive_seconds:
                # A dead server (or a frozen proxy, which TCP keepalives cannot see through: its
                # kernel still acknowledges) shows up here within ping_timeout, never "never".
                ping(conn, self.ping_timeout)
                last_activity = now


def ping(conn, timeout: float) -> None:
    """Run ``SELECT 1`` on a psycopg connection, raising TimeoutError after ``timeout`` seconds.

    psycopg waits for a result without a client-side limit; this sends the query and waits on
    the socket itself, so a connection whose peer stopped answering is detected.
    """
    from psycopg import OperationalError, pq

    pgconn = conn.pgconn
    deadline = time.monotonic() + timeout
    pgconn.send_query(b"SELECT 1")
    while pgconn.flush():
        _wait(pgconn.socket, deadline, write=True)
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        _wait(pgconn.socket, deadline)
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise OperationalError(f"keepalive query failed: {result.error_message.decode(errors='replace')}")


def _wait(fd: int, deadline: float, *, write: bool = False) -> None:
    left = deadline - time.monotonic()
    ready = select.select([], [fd], [], max(left, 0)) if write else select.select([fd], [], [], max(left, 0))
    if not any(ready):
        raise TimeoutError("the database did not answer the keepalive query in time")


# -- connecting --------------------------------------------------------------------------------


def psycopg_connector(using: str = "default") -> Callable[[], object]:
    """Return a function opening a fresh autocommit psycopg 3 connection to ``using``."""
    import psycopg

    params = connection_params(using)

    def connect():
        return psycopg.connect(**params, autocommit=True)

    return connect
