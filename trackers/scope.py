"""A user's data scope: which clients' data they may see.

Contract: ``user_client_ids(user)`` returns None for staff (everything) or the frozenset of
client ids the user belongs to (possibly empty). ``scope_key(client_ids)`` is a stable string
used in cache keys of scoped data.
"""

import hashlib

from trackers.models import ClientMembership


def user_client_ids(user) -> frozenset[int] | None:
    """Return the client ids ``user`` may see, or None when they may see everything."""
    if user.is_staff or user.is_superuser:
        return None
    return frozenset(ClientMembership.objects.filter(user_id=user.pk).values_list("client_id", flat=True))


def scope_key(client_ids: frozenset[int] | None) -> str:
    """Return a stable cache-key fragment for a client set ("all" for staff)."""
    if client_ids is None:
        return "all"
    joined = ",".join(str(i) for i in sorted(client_ids))
    return "c:" + hashlib.sha256(joined.encode()).hexdigest()[:16]
