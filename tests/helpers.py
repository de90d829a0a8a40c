"""Test helpers shared by every app's tests."""

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
