"""A database session engine whose reads go through cachecore (``SESSION_ENGINE``).

Django's ``cached_db`` engine trusts whatever its cache holds: a logout while Redis is away
deletes the row but not the cached copy, which then comes back with Redis. Here the cached copy
is a cachecore entry scoped to its session: saving or deleting the ``Session`` row retires it
(an invalidation that cachecore keeps until it has reached Redis), an outage's recovery retires
it too, and a copy never outlives the session's expiry.
"""

import copy
import time

from django.contrib.sessions.backends.db import SessionStore as DBStore

from accounts.selectors import cached_session
from cachecore.api import uncached_reads


class SessionStore(DBStore):
    """Database-backed sessions read through the cache; writes go to the database only."""

    # The clock is a class attribute so tests can replace it (DRF's throttle style).
    timer = staticmethod(time.time)

    def load(self):
        """Return the session's data, or {} (and forget the key) when it is unknown or expired."""
        record = cached_session(self.session_key, self._record_from_db)
        if record is None or record["expires"] <= self.timer():
            self._session_key = None
            return {}
        # The record may be the L1 copy every request shares: the session mutates its own.
        return copy.deepcopy(record["data"])

    def _record_from_db(self) -> dict | None:
        with uncached_reads():
            session = self._get_session_from_db()
        if session is None:
            return None
        return {"data": self.decode(session.session_data), "expires": session.expire_date.timestamp()}
