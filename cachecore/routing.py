"""The database router of read replicas: reads go where the current context says, writes never.

A context variable names the replica alias that the reads of the running code may use. Only two
things set it: the engine, around a ``compute()`` that fills the cache once a replica was found
to have replayed the namespace's last invalidation (``cachecore.replicas``), and
``replica_reads()``, which a selector uses to say "this read tolerates the replica's lag". Every
other read -- a plain ORM read in a request, so a request reads its own writes -- goes to the
primary. Inside a transaction of the primary every read stays there (it must see the
transaction's own writes), and the models of ``CACHECORE_REPLICA_PRIMARY_APPS`` (the engine's
tables, auth, sessions) are always read from the primary. Writes always go to the primary.

Installed only when replicas are configured (``DATABASE_ROUTERS`` in the settings), so a
deployment without them pays nothing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

from cachecore import conf

_read_target: ContextVar[str | None] = ContextVar("cachecore_read_target", default=None)


@contextmanager
def reading_from(alias: str | None) -> Iterator[None]:
    """Send the reads inside the block to ``alias`` (None: the primary), restoring the outer target after."""
    token = _read_target.set(alias)
    try:
        yield
    finally:
        _read_target.reset(token)


def read_target() -> str | None:
    """Return the replica alias the current reads may use, or None for the primary."""
    return _read_target.get()


def in_primary_transaction() -> bool:
    """Return True inside ``transaction.atomic()`` on the primary: its reads must stay there."""
    return connections[DEFAULT_DB_ALIAS].in_atomic_block


class ReplicaRouter:
    """Route reads to the context's replica (see the module docstring); writes and migrations to the primary."""

    def db_for_read(self, model, **hints):
        alias = _read_target.get()
        if alias is None or model._meta.app_label in conf.settings.CACHECORE_REPLICA_PRIMARY_APPS:
            return DEFAULT_DB_ALIAS
        if in_primary_transaction():
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS  # even for an instance read from a replica

    def allow_relation(self, obj1, obj2, **hints):
        aliases = {DEFAULT_DB_ALIAS, *conf.settings.CACHECORE_REPLICA_DATABASES}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True  # the same data, copied
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in conf.settings.CACHECORE_REPLICA_DATABASES:
            return False  # a replica follows the primary's schema through replication
        return None
