"""Reads of the accounts app: a user row and a session record, through their cachecore namespaces.

A user is cached as the plain values of its concrete fields and rebuilt with ``Model.from_db``,
so ``request.user`` is a normal saved instance (``save()`` updates, ``get_session_auth_hash()``
works) that cost no SQL on a warm cache. The row includes the password hash because Django's
session check (``HASH_SESSION_KEY``) is derived from it; it is kept where sessions are kept.
"""

from datetime import datetime
from functools import partial

from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.db.models import DateTimeField

from accounts.namespaces import AUTH_USER, SESSIONS
from cachecore.api import all_namespaces, get_or_compute, peek_l1, uncached_reads


def _concrete_fields(model) -> list:
    return list(model._meta.concrete_fields)


def _user_row(user_id) -> list | None:
    model = get_user_model()
    names = [f.attname for f in _concrete_fields(model)]
    with uncached_reads():
        row = model._default_manager.filter(pk=user_id).values_list(*names).first()
    if row is None:
        return None
    return [value.isoformat() if isinstance(value, datetime) else value for value in row]


def cached_user(user_id):
    """Return the user with primary key ``user_id`` (no SQL on a warm cache), or None."""
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except ValidationError:  # a session naming a malformed id: nobody
        return None
    row, _ = get_or_compute(AUTH_USER, {"user_id": pk}, partial(_user_row, pk))
    if row is None:
        return None
    fields = _concrete_fields(model)
    values = [
        datetime.fromisoformat(value) if isinstance(field, DateTimeField) and value is not None else value
        for field, value in zip(fields, row, strict=True)
    ]
    return model.from_db(DEFAULT_DB_ALIAS, [f.attname for f in fields], values)


def cached_session(session_key: str, load_from_db) -> dict | None:
    """Return ``{"data", "expires"}`` of a session (no SQL on a warm cache), or None when unknown."""
    record, _ = get_or_compute(SESSIONS, {"session_key": session_key}, load_from_db)
    return record


def auth_lookups(session_key: str | None, per_user: list[str]) -> list[tuple[str, dict]]:
    """Return the cached lookups a request with this session cookie makes, as far as L1 knows them.

    Empty when this process's L1 does not hold the session (the lookups then read L2 as usual);
    otherwise the session, and when it is logged in, the namespaces ``per_user`` (those of
    ``per_user_namespaces()``) for its user. Only a hint: each lookup still checks its own entry.
    """
    if not session_key:
        return []
    session = (SESSIONS, {"session_key": session_key})
    record = peek_l1(*session)
    if record is None:
        return []
    user_id = record["data"].get(SESSION_KEY)
    try:
        pk = get_user_model()._meta.pk.to_python(user_id) if user_id is not None else None
    except ValidationError:
        pk = None
    if pk is None:
        return [session]
    return [session, *((name, {"user_id": pk}) for name in per_user)]


def per_user_namespaces() -> list[str]:
    """Return the ``l1_checked`` namespaces keyed by ``user_id`` alone (the user row, the trackers client set)."""
    return [ns.name for ns in all_namespaces() if ns.l1_checked and ns.params == ("user_id",)]
