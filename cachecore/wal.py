"""WAL positions of the primary and its replicas (PostgreSQL only): the I/O of the replica rule.

Positions are plain integers (``pg_lsn - '0/0'``), comparable across servers of one cluster.

- ``record_bump``: the durable generation row of a (namespace, scope) takes the primary's WAL
  insert position, in the same statement that (for persistent namespaces) replaces its token.
  The insert position rather than ``pg_current_wal_lsn()`` (the write position): it is past the
  commit record of every transaction visible to the statement, even under
  ``synchronous_commit = off``, and the statement's own record follows it, so a replica always
  gets past it. The stored value only grows (``GREATEST``), so two relays finishing in either
  order leave the later position.
- ``invalidation_lsn``: the position of the last invalidation of a namespace or of one of its
  scopes (the larger of the namespace-wide and the scope's row), read from the primary.
- ``replayed_lsn``: how far a replica has replayed (None from a server that is not in recovery,
  e.g. a promoted replica: it has everything it will ever get).
"""

from django.db import DEFAULT_DB_ALIAS, connections

_RECORD_SQL: dict[tuple[str, bool], str] = {}
_CURRENT = "(pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"


def _table() -> str:
    from cachecore.models import CacheGeneration

    return connections[DEFAULT_DB_ALIAS].ops.quote_name(CacheGeneration._meta.db_table)


def _record_sql(replace_token: bool) -> str:
    table = _table()
    key = (table, replace_token)
    if key not in _RECORD_SQL:
        token = "EXCLUDED.token" if replace_token else f"{table}.token"
        _RECORD_SQL[key] = (
            f"INSERT INTO {table} (namespace, scope, token, updated_at, lsn) VALUES (%s, %s, %s, %s, {_CURRENT}) "
            f"ON CONFLICT (namespace, scope) DO UPDATE SET token = {token}, updated_at = EXCLUDED.updated_at, "
            f"lsn = GREATEST(COALESCE({table}.lsn, 0), EXCLUDED.lsn)"
        )
    return _RECORD_SQL[key]


def record_bump(namespace: str, scope: str, token: str | None, now, *, initial: str) -> None:
    """Store the primary's WAL position with the durable generation (replacing the token unless None)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_record_sql(token is not None), [namespace, scope, token or initial, now])


def invalidation_lsn(namespace: str, scope: str) -> int | None:
    """Return the primary's WAL position at the last invalidation of the namespace or scope (None: none recorded)."""
    sql = f"SELECT max(lsn) FROM {_table()} WHERE namespace = %s AND scope IN ('', %s)"
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(sql, [namespace, scope])
        row = cursor.fetchone()
    return None if row is None else row[0]


def replayed_lsn(alias: str) -> int | None:
    """Return how far the replica ``alias`` has replayed the primary's WAL (None: it is not in recovery)."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint")
        return cursor.fetchone()[0]


def current_lsn() -> int:
    """Return the primary's WAL insert position now (tests and the benchmark)."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT {_CURRENT}")
        return cursor.fetchone()[0]
