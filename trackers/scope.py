"""A user's data scope: which clients' data they may see.

Contract: ``user_client_ids(user)`` returns None for staff (everything) or the frozenset of
client ids the user belongs to (possibly empty). ``scope_key(client_ids)`` is a stable string
used in cache keys of scoped data.

The client set is itself cached (namespace USER_SCOPE, one scope per user, invalidated at once
by ClientMembership writes), so a request on a warm cache learns its scope without SQL.
"""

import hashlib

from cachalot.api import cachalot_disabled

from cachecore.api import get_or_compute
from trackers.models import ClientMembership
from trackers.namespaces import USER_SCOPE


def user_client_ids(user) -> frozenset[int] | None:
    """Return the client ids ``user`` may see, or None when they may see everything."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_staff or user.is_superuser:
        return None
    ids, _ = get_or_compute(USER_SCOPE, {"user_id": user.pk}, lambda: _membership_client_ids(user.pk))
    return frozenset(ids)


# Roles that may write (post location reports) for a client; viewers only read.
WRITER_ROLES = (ClientMembership.Role.OPERATOR, ClientMembership.Role.ADMIN)


def user_writable_client_ids(user) -> frozenset[int] | None:
    """Return the client ids ``user`` may write data for, or None when they may write for all."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_staff or user.is_superuser:
        return None
    # A write path: read the memberships fresh (one query) rather than from a cache.
    with cachalot_disabled():
        memberships = ClientMembership.objects.filter(user_id=user.pk, role__in=WRITER_ROLES)
        return frozenset(memberships.values_list("client_id", flat=True))


def _membership_client_ids(user_id: int) -> list[int]:
    with cachalot_disabled():
        return sorted(ClientMembership.objects.filter(user_id=user_id).values_list("client_id", flat=True))


def scope_key(client_ids: frozenset[int] | None) -> str:
    """Return a stable cache-key fragment for a client set ("all" for staff)."""
    if client_ids is None:
        return "all"
    joined = ",".join(str(i) for i in sorted(client_ids))
    return "c:" + hashlib.sha256(joined.encode()).hexdigest()[:16]
