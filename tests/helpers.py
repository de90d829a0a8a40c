"""Test helpers shared by every app's tests."""

import threading

from django.db import connections
from django.test.utils import CaptureQueriesContext


class QueryCounter(CaptureQueriesContext):
    """Record the queries run on a connection; ``len(counter)`` is the count.

    Usage::

        with QueryCounter() as q:
            client.get(url)
        assert len(q) == 3, q.sql
    """

    def __init__(self, using: str = "default"):
        super().__init__(connections[using])

    @property
    def sql(self) -> str:
        """Return the captured statements, one per line, for assertion messages."""
        return "\n".join(q["sql"] for q in self.captured_queries)


class RedisRoundTrips:
    """Record the Redis round trips this thread makes (a command, or a whole pipeline, is one).

    Counts ``send_packed_command`` of redis-py's connections made from the thread that entered
    the block (the pub/sub subscriber and the relay run in their own threads). ``len(counter)`` is
    the count; ``commands`` lists the first word of each, for assertion messages.

    Usage::

        with RedisRoundTrips() as trips:
            client.get(url)
        assert len(trips) == 1, trips.commands
    """

    def __enter__(self):
        from redis.connection import AbstractConnection

        self.commands: list[str] = []
        self._thread = threading.get_ident()
        self._class = AbstractConnection
        self._real = real = AbstractConnection.send_packed_command
        counter = self

        def send_packed_command(conn, command, *args, **kwargs):
            if threading.get_ident() == counter._thread:
                counter.commands.append(_first_word(command))
            return real(conn, command, *args, **kwargs)

        AbstractConnection.send_packed_command = send_packed_command
        return self

    def __exit__(self, *exc):
        self._class.send_packed_command = self._real
        return False

    def __len__(self) -> int:
        return len(self.commands)


def _first_word(packed) -> str:
    # A packed command is RESP bytes (or a list of chunks): "*N\r\n$len\r\nMGET\r\n...".
    chunk = packed[0] if isinstance(packed, list | tuple) else packed
    parts = bytes(chunk).split(b"\r\n")
    return parts[2].decode(errors="replace") if len(parts) > 2 else "?"
