"""The cachecore namespaces that let a warm authenticated request run without SQL.

Imported by ``AccountsConfig.ready()``: declaring a namespace touches no database.

- ``accounts.session``: one entry per session key (its decoded data and expiry), scoped to that
  session, so a logout, a login's key rotation or any save retires exactly that entry.
- ``accounts.user``: the user row ``request.user`` is built from, scoped per user, retired by
  every save or delete of the user and by changes of their groups.

Both are ``l1_checked``: an L1 copy is served only after L2 confirms that its generations are
still current, because access rights (a logout, a deactivation, a password change) must hold on
the very next request in every process, and another process's L1 learns of an invalidation over
pub/sub only a moment after the commit. ``accounts.middleware.PrefetchAuth`` reads the
generations of the session, its user and every other per-user checked namespace (the trackers
client set) in one MGET when a request starts: a warm request costs one Redis round trip for all
of its auth data, and moves and decodes none of it.
Invalidation fires at commit, without debounce.
"""

import hashlib
import time

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from accounts.namespaces import AUTH_USER, SESSIONS
from cachecore.api import Namespace, register_namespace, watch_model

# Seconds a cached user row may live in L2 without any write (writes retire it at once).
AUTH_USER_TTL = 300
# Seconds a cached session may live in L2; never past the session's own expiry (session_ttl).
SESSION_TTL = 3600


def user_scope(user_id) -> str:
    """Return the cache scope of one user's auth entry."""
    return f"user:{user_id}"


def session_scope(session_key: str) -> str:
    """Return the cache scope of one session (hashed: Redis key names never carry a session key)."""
    return "session:" + hashlib.sha256(str(session_key).encode()).hexdigest()[:32]


def session_ttl(record) -> float:
    """Cap a cached session's TTL at its expiry; an unknown session is not cached at all."""
    if record is None:
        return 0
    return max(record["expires"] - time.time(), 0)


register_namespace(
    Namespace(
        name=SESSIONS,
        params=("session_key",),
        scope=lambda params: session_scope(params["session_key"]),
        l1_ttl=SESSION_TTL,
        l2_ttl=SESSION_TTL,
        l1_checked=True,
        debounce=0,
        ttl_for=session_ttl,
        replicas=False,  # sessions are always read from the primary (docs/read-replicas.md)
    )
)
register_namespace(
    Namespace(
        name=AUTH_USER,
        params=("user_id",),
        scope=lambda params: user_scope(params["user_id"]),
        l1_ttl=AUTH_USER_TTL,
        l2_ttl=AUTH_USER_TTL,
        l1_checked=True,
        debounce=0,
        replicas=False,  # users are always read from the primary (docs/read-replicas.md)
    )
)


def _session_scope_of(session) -> str:
    return session_scope(session.session_key)


def _user_scope_of(user) -> str:
    return user_scope(user.pk)


def register_signal_handlers() -> None:
    """Connect the writes that retire cached sessions and users (m2m: the user's groups too)."""
    watch_model(Session, [SESSIONS], scope=_session_scope_of)
    watch_model(get_user_model(), [AUTH_USER], scope=_user_scope_of)
