"""Before a torture run: is its database there, reachable and migrated?

Without this, a run on a database that does not exist waited out the connection pool's timeout in
the set-up child and ended in two tracebacks; a run on an empty one failed on a missing table.
"""

from django.db import DatabaseError
from django.db.migrations.executor import MigrationExecutor


def check_database(connection) -> None:
    """Raise RuntimeError naming the database and what to do when a run could not use it.

    Probed on a copy of ``connection`` without its pool, so a refused connection reports its
    reason at once (a pool retries in the background until its timeout and reports only that).
    """
    probe = connection.copy()
    options = {k: v for k, v in connection.settings_dict.get("OPTIONS", {}).items() if k != "pool"}
    probe.settings_dict = {**connection.settings_dict, "OPTIONS": options}
    name = connection.settings_dict["NAME"]
    try:
        try:
            probe.ensure_connection()
        except DatabaseError as exc:
            reason = " ".join(str(exc).split())
            raise RuntimeError(
                f"cannot connect to the database {name!r}: {reason}. A run needs an existing, migrated database "
                "it may write to (for example: createdb <name>, then manage.py migrate)."
            ) from exc
        executor = MigrationExecutor(probe)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if unapplied:
            raise RuntimeError(
                f"the database {name!r} has {len(unapplied)} unapplied migration(s): run manage.py migrate first."
            )
    finally:
        probe.close()
