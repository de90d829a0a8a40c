"""Normalise SQL statements into fingerprints: literals stripped, lists collapsed.

Two statements that differ only in literal values, bound placeholders, the length of an
``IN (...)`` list, the number of ``VALUES`` rows or a savepoint/cursor name get the same
fingerprint, so per-statement statistics stay bounded and never contain user data.

``group`` is a much coarser label (verb and first table) for the Prometheus histogram, whose
label cardinality must stay small.
"""

import re
from functools import lru_cache

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'|E'(?:[^'\\]|\\.|'')*'")
_SAVEPOINT = re.compile(r'\b(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\s+"?[\w]+"?', re.I)
_DJANGO_CURSOR = re.compile(r'"_django_curs_[\w]+"')
_NUMBERS = re.compile(r"(?<![\w\"])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", re.I)
_PLACEHOLDERS = re.compile(r"%s|%\(\w+\)s|\$\d+")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_VALUES_ROWS = re.compile(r"\bVALUES\s*(\([^()]*\))(?:\s*,\s*\([^()]*\))+", re.I)
_SPACES = re.compile(r"\s+")

_VERB = re.compile(r"^\s*(\w+)")
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|TABLE)\s+"?([\w.]+)"?', re.I)

MAX_FINGERPRINT_LENGTH = 400


@lru_cache(maxsize=4096)
def fingerprint(sql: str) -> str:
    """Return ``sql`` with literals replaced by ``?`` and repeated lists collapsed."""
    text = _COMMENTS.sub(" ", sql)
    text = _STRINGS.sub("?", text)
    text = _SAVEPOINT.sub(lambda m: f"{m.group(1).upper()} ?", text)
    text = _DJANGO_CURSOR.sub("?", text)
    text = _NUMBERS.sub("?", text)
    text = _PLACEHOLDERS.sub("?", text)
    text = _SPACES.sub(" ", text).strip()
    text = _IN_LIST.sub("IN (?)", text)
    text = _VALUES_ROWS.sub(r"VALUES \1", text)
    if len(text) > MAX_FINGERPRINT_LENGTH:
        text = text[: MAX_FINGERPRINT_LENGTH - 1] + "…"
    return text


# Data statements are grouped by table; schema and session statements (CREATE, ALTER, PRAGMA,
# SAVEPOINT, ...) by verb only, so migrations and test set-up do not use up the label budget.
_DATA_VERBS = frozenset({"select", "insert", "update", "delete", "with"})


@lru_cache(maxsize=4096)
def group(sql: str) -> str:
    """Return a coarse label for ``sql``: verb and first table for data statements (``select trackers_tracker``)."""
    verb = _VERB.match(sql)
    name = verb.group(1).lower() if verb else "other"
    if name not in _DATA_VERBS:
        return name
    table = _TABLE.search(sql)
    return f"{name} {table.group(1).lower()}" if table else name
