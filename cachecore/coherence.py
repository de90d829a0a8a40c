"""Cross-process L1 coherence over Redis pub/sub.

Every invalidation is published on ``CACHECORE_CHANNEL``; every process runs one lazily started
daemon thread subscribed to it that evicts its own L1 entries for the event's namespace/scope.
On every (re)connect the subscriber drops the whole L1, because events published while it was
not subscribed are lost. When L2 is not Redis (the embedded default, one process) this is a
no-op: the invalidating process evicts its own L1 directly.
"""

import json
import logging
import os
import socket
import threading
import uuid

from django.conf import settings as django_settings
from django.core.signals import setting_changed

from cachecore import tiers
from cachecore.backoff import Backoff
from cachecore.conf import settings

logger = logging.getLogger(__name__)

_origin: tuple[int, str] | None = None


def origin() -> str:
    """Return this process's id in events (regenerated after a fork)."""
    global _origin
    pid = os.getpid()
    if _origin is None or _origin[0] != pid:
        _origin = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _origin[1]


def redis_client():
    """Return the redis-py client behind the L2 cache alias, or None when L2 is not Redis."""
    alias = settings.CACHECORE_CACHE_ALIAS
    backend = django_settings.CACHES.get(alias, {}).get("BACKEND", "")
    if not backend.startswith("django_redis."):
        return None
    from django_redis import get_redis_connection

    return get_redis_connection(alias)


def encode_event(namespace: str | None, scope: str | None = None, generation=None) -> str:
    """Return the JSON event for one invalidation (namespace None means every namespace)."""
    event = {"origin": origin(), "namespace": namespace, "scope": scope}
    if generation is not None:
        event["generation"] = generation
    return json.dumps(event, separators=(",", ":"), default=str)


def publish(namespace: str | None, scope: str | None = None, generation=None) -> int:
    """Tell every other process to evict its L1 for ``namespace``/``scope``; return receivers."""
    client = redis_client()
    if client is None:
        return 0
    # Through L2's circuit breaker: while Redis is down an invalidation does not pay a timeout here.
    return tiers.l2_call(client.publish, settings.CACHECORE_CHANNEL, encode_event(namespace, scope, generation))


def apply_event(raw) -> bool:
    """Evict local L1 entries named by one published event; return whether anything was done."""
    try:
        event = json.loads(raw)
        if event.get("origin") == origin():
            return False  # this process already evicted its own L1 when it invalidated
        namespace = event["namespace"]
    except (ValueError, TypeError, KeyError, AttributeError):
        logger.warning("cachecore: ignoring malformed invalidation event %r", raw)
        return False
    if namespace is None:
        tiers.l1_clear()
    else:
        tiers.l1_evict(namespace, event.get("scope"), generation=event.get("generation"))
    return True


class Subscriber:
    """A daemon thread that applies invalidation events to L1 and resubscribes after failures."""

    poll_seconds = 0.5
    # A connection that dies silently is noticed by this ping (plus the socket timeout); while it
    # goes unnoticed the process may miss events, so keep the window short: a PING is cheap.
    ping_seconds = 3.0

    def __init__(
        self,
        client_factory,
        channel: str,
        *,
        on_event=apply_event,
        on_connect=tiers.l1_clear,
        on_disconnect=tiers.l1_clear,
        backoff=None,
    ):
        self._client_factory = client_factory
        self.channel = channel
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._backoff = backoff or Backoff(initial=0.1, maximum=5.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubsub = None
        self.connected = threading.Event()
        self.connects = 0
        self.events = 0
        self._outage_logged = False

    def start(self) -> "Subscriber":
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cachecore-coherence", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close its connection."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.connected.clear()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect after a pause
                self.connected.clear()
                self._disconnected()
                if not self._outage_logged:
                    logger.warning("cachecore: invalidation subscriber lost Redis (%s); reconnecting", exc)
                    self._outage_logged = True
            finally:
                self._close()
            self._stop.wait(self._backoff.next())

    def _listen(self) -> None:
        self._pubsub = self._client_factory().pubsub(ignore_subscribe_messages=False)
        self._pubsub.subscribe(self.channel)
        idle = 0.0
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=self.poll_seconds)
            if message is None:
                idle += self.poll_seconds
                if idle >= self.ping_seconds:  # a half-open connection shows up as an error here
                    self._pubsub.ping()
                    idle = 0.0
                continue
            idle = 0.0
            kind = message.get("type")
            if kind == "subscribe":
                self._connected()
            elif kind == "message":
                self.events += 1
                self._on_event(message["data"])

    def _connected(self) -> None:
        # Events published while we were not subscribed are gone: drop everything we hold.
        self._on_connect()
        self.connects += 1
        self._backoff.reset()
        if self._outage_logged:
            logger.warning("cachecore: invalidation subscriber reconnected; local L1 dropped")
        self._outage_logged = False
        self.connected.set()

    def _disconnected(self) -> None:
        # From now on other processes' events are lost (for as long as the outage lasts, while
        # L1 hits never touch Redis): drop L1 now rather than only after reconnecting.
        try:
            self._on_disconnect()
        except Exception:  # noqa: BLE001 - the thread must survive to reconnect
            logger.exception("cachecore: dropping L1 after losing the invalidation channel failed")

    def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - already broken; nothing to save
                logger.debug("cachecore: closing the subscriber connection failed", exc_info=True)


FIRST_CONNECT_WAIT = 0.5
_subscriber: Subscriber | None = None
_subscriber_pid: int | None = None
_lock = threading.Lock()


def ensure_started() -> Subscriber | None:
    """Start this process's subscriber when L2 is Redis (cheap after the first call)."""
    global _subscriber, _subscriber_pid
    if _subscriber_pid == os.getpid():
        return _subscriber
    with _lock:
        if _subscriber_pid != os.getpid():
            # A forked child inherits the parent's object but not its thread: start afresh.
            _subscriber = None
            if redis_client() is not None:
                _subscriber = Subscriber(redis_client, settings.CACHECORE_CHANNEL).start()
                # Wait (once per process, briefly) for the subscription, so its L1 drop on connect
                # happens before this process fills L1 rather than in the middle of its first requests.
                _subscriber.connected.wait(FIRST_CONNECT_WAIT)
            _subscriber_pid = os.getpid()
    return _subscriber


def subscriber() -> Subscriber | None:
    """Return this process's subscriber if one was started."""
    return _subscriber if _subscriber_pid == os.getpid() else None


def is_coherent() -> bool:
    """Return whether L1 may be trusted across processes (single process, or subscribed)."""
    if redis_client() is None:
        return True
    sub = subscriber()
    return sub is not None and sub.connected.is_set()


def info() -> dict:
    """Return the subscriber's state for stats and health pages."""
    sub = subscriber()
    return {
        "enabled": redis_client() is not None,
        "running": bool(sub and sub.alive),
        "connected": bool(sub and sub.connected.is_set()),
        "connects": sub.connects if sub else 0,
        "events": sub.events if sub else 0,
        "channel": settings.CACHECORE_CHANNEL,
    }


def stop() -> None:
    """Stop this process's subscriber (tests, settings changes); the next use starts a new one."""
    global _subscriber, _subscriber_pid
    with _lock:
        sub, _subscriber, _subscriber_pid = subscriber(), None, None
    if sub is not None:
        sub.stop()


def _on_setting_changed(*, setting, **kwargs):
    if setting in ("CACHES", "CACHECORE_CHANNEL", "CACHECORE_CACHE_ALIAS"):
        stop()


setting_changed.connect(_on_setting_changed)
