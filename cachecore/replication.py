"""Wait until Redis's replicas have an invalidation before its outbox row is deleted (I/O).

Redis replicates asynchronously: a generation bump acknowledged by a master that dies a moment
later may never reach the replica that Sentinel promotes, which would bring back the old
generation and every value cached under it, with the outbox row already deleted. With
``CACHECORE_REDIS_WAIT_REPLICAS`` = n > 0 (the default with ``REDIS_SENTINELS``), applying a
batch of invalidations (``relay.apply_keys``) ends with one fence: one write and ``WAIT`` on the
same connection. Replication is one
ordered stream, so a replica that acknowledges the fence has every earlier write, the bump and
the sequenced publish included. When fewer than min(n, replicas connected now) acknowledge within
``CACHECORE_REDIS_WAIT_TIMEOUT`` the invalidation counts as not applied: its row stays and a
relay retries it. With no replica connected there is none to wait for (and none that Sentinel
could promote without a full resynchronisation first); a Redis that refuses writes for memory
(the bump then only deleted the old generation) is not waited for either.
"""

from cachecore import coherence, tiers
from cachecore.conf import settings


class NotReplicated(tiers.TierUnavailable):
    """Fewer Redis replicas than required acknowledged the invalidation in time."""


def fence_key() -> str:
    """Return the Redis key the fence writes (next to the channel's sequence counter)."""
    return f"{settings.CACHECORE_CHANNEL}:fence"


def wait_for_replicas() -> int:
    """Return how many replicas have every write so far; raise NotReplicated when too few do."""
    needed = int(settings.CACHECORE_REDIS_WAIT_REPLICAS)
    client = coherence.redis_client() if needed > 0 else None
    if client is None:
        return 0
    timeout_ms = max(1, int(float(settings.CACHECORE_REDIS_WAIT_TIMEOUT) * 1000))
    wanted, acknowledged = tiers.l2_call(_fence, client, needed, timeout_ms)
    if acknowledged < wanted:
        raise NotReplicated(f"{acknowledged} of {wanted} Redis replica(s) acknowledged within {timeout_ms} ms")
    return acknowledged


def _fence(client, needed: int, timeout_ms: int) -> tuple[int, int]:
    connected = int(client.info("replication").get("connected_slaves", 0))
    wanted = min(needed, connected)
    if wanted == 0:
        return 0, 0
    pipe = client.pipeline(transaction=False)  # one connection: WAIT covers the fence write
    pipe.incr(fence_key())
    pipe.wait(wanted, timeout_ms)
    try:
        return wanted, int(pipe.execute()[1])
    except Exception as exc:  # noqa: BLE001 - only a refusal for memory is expected here
        if not coherence.is_oom(exc):
            raise
    # Redis is full (maxmemory + noeviction): the bump could only delete the old generation and
    # nothing more can be written; waiting cannot succeed, and keeping the row would retry forever.
    return 0, 0
