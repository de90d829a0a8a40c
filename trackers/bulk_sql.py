"""A table of many rows as ONE bound parameter per column, so a statement's text never varies.

PostgreSQL gets ``unnest(%s::type[], ...)`` (one array per column); SQLite gets ``json_each(%s)``
over one JSON array of rows. Either way the SQL text is the same for 1 row or 10,000: one plan,
one fingerprint in monitoring, no bind-parameter limits, no statement text growing with the batch.
"""

import json
from collections.abc import Sequence

from django.db import connection


def rows_cte(name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence]) -> tuple[str, list]:
    """Return ``name (col, ...) AS (SELECT ...)`` for a WITH clause, and its parameters.

    ``columns`` are ``(column name, PostgreSQL type)`` pairs; ``rows`` hold values already adapted
    for the database (``connection.ops.adapt_datetimefield_value`` for datetimes).
    """
    names = ", ".join(column for column, _ in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"CAST(%s AS {pg_type}[])" for _, pg_type in columns)
        return f"{name} ({names}) AS (SELECT * FROM unnest({arrays}))", [
            list(values) for values in zip(*rows, strict=True)
        ]
    extracts = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    return f"{name} ({names}) AS (SELECT {extracts} FROM json_each(%s))", [json.dumps([list(r) for r in rows])]
