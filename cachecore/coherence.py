"""Cross-process L1 coherence over Redis pub/sub, sequenced so that a lost message is noticed.

Every invalidation (and every ``force_refresh``) is published on ``CACHECORE_CHANNEL`` with a
sequence number taken from one Redis counter in the same atomic script (``<seq> <json>``); every
process runs one lazily started daemon thread subscribed to it that evicts its own L1 entries for
the event's namespace/scope/key. The subscriber drops its whole L1 when it

- sees a gap in the sequence (a message was lost),
- connects or reconnects (messages published meanwhile are lost),
- loses its connection, or
- finds in its periodic check (every ``CACHECORE_COHERENCE_CHECK_SECONDS``) that the counter
  moved past what it received one check earlier, or went backwards (Redis restarted empty).

With Redis Sentinel the periodic check also asks the Sentinels for the master (which makes the
connection pool drop its connections to a former master) and resubscribes when it moved; a
subscription made on another master than the previous one bumps the cluster epoch: writes made
on the former master after the promotion (a planned switchover leaves it writable for seconds)
are discarded when it is demoted, and some of them may have been generation bumps.

While the subscriber is not connected and checked recently, ``is_coherent()`` is False and the
engine keeps new L1 values no longer than one check interval. When L2 is not Redis (the embedded
default, one process) this is a no-op: the invalidating process evicts its own L1 directly.
"""

import json
import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings as django_settings
from django.core.signals import setting_changed

from cachecore import testing, tiers
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


def encode_event(namespace: str | None, scope: str | None = None, generation=None, key: str | None = None) -> str:
    """Return the JSON event for one invalidation (namespace None means every namespace).

    With ``key`` the event evicts that one L1 key only (a ``force_refresh`` replaced its value).
    """
    event = {"origin": origin(), "namespace": namespace, "scope": scope}
    if generation is not None:
        event["generation"] = generation
    if key is not None:
        event["key"] = key
    return json.dumps(event, separators=(",", ":"), default=str)


def sequence_key(channel: str | None = None) -> str:
    """Return the Redis key of the channel's sequence counter."""
    return f"{channel or settings.CACHECORE_CHANNEL}:seq"


# INCR and PUBLISH in one script: messages leave Redis in sequence order, and no number is
# taken without its message being published.
_PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], seq .. ' ' .. ARGV[2])
return seq
"""
_scripts: dict[int, object] = {}


def _publish_sequenced(client, channel: str, body: str) -> int:
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_PUBLISH_SCRIPT)
    try:
        return int(script(keys=[sequence_key(channel)], args=[channel, body], client=client))
    except Exception as exc:  # noqa: BLE001 - only an OOM refusal has a fallback
        if not is_oom(exc):
            raise
    # Redis is full (maxmemory + noeviction) and refuses the INCR, but PUBLISH allocates nothing
    # lasting and is allowed: send the message unsequenced ("-"), so it still evicts.
    client.publish(channel, f"- {body}")
    return 0


def is_oom(exc: Exception) -> bool:
    """Return whether ``exc`` is Redis refusing a write for memory (maxmemory with noeviction)."""
    from redis.exceptions import OutOfMemoryError

    return isinstance(exc, OutOfMemoryError) or "OOM" in str(exc) or "maxmemory" in str(exc)


def publish(namespace: str | None, scope: str | None = None, generation=None, key: str | None = None) -> int:
    """Tell every other process to evict its L1 for ``namespace``/``scope`` (or one ``key``).

    Returns the message's sequence number (0 when L2 is not Redis, or unsequenced); raises
    TierUnavailable when Redis could not take it, so the caller can retry.
    """
    client = redis_client()
    if client is None:
        return 0
    # Through L2's circuit breaker: while Redis is down an invalidation does not pay a timeout here.
    body = encode_event(namespace, scope, generation, key)
    return tiers.l2_call(_publish_sequenced, client, settings.CACHECORE_CHANNEL, body)


def decode_message(raw) -> tuple[int | None, str]:
    """Split a published message into (sequence number or None, JSON event)."""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    head, _, body = text.partition(" ")
    if head.isdigit():
        return int(head), body
    if head == "-":
        return None, body
    return None, text  # an unsequenced event (older publisher)


def apply_event(raw) -> bool:
    """Evict local L1 entries named by one published event (JSON); return whether anything was done."""
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
    elif event.get("key"):
        tiers.l1.delete(str(event["key"]))
    else:
        tiers.l1_evict(namespace, event.get("scope"), generation=event.get("generation"))
    return True


class Subscriber:
    """A daemon thread that applies eviction events to L1, tracks their sequence and resubscribes."""

    poll_seconds = 0.25
    clock = staticmethod(time.monotonic)

    def __init__(
        self,
        client_factory,
        channel: str,
        *,
        on_event=apply_event,
        on_drop=tiers.l1_clear,
        on_master_change=None,
        check_seconds: float | None = None,
        backoff=None,
    ):
        self._client_factory = client_factory
        self.channel = channel
        self._on_event = on_event
        self._on_drop = on_drop
        self._on_master_change = on_master_change or after_master_change
        self.master: tuple[str, int] | None = None  # the server the subscription was made on
        self.master_changes = 0
        self.check_seconds = float(
            settings.CACHECORE_COHERENCE_CHECK_SECONDS if check_seconds is None else check_seconds
        )
        self._backoff = backoff or Backoff(initial=0.1, maximum=5.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubsub = None
        self.connected = threading.Event()
        self.attempted = threading.Event()  # the first connection attempt ended (either way)
        self.connects = 0
        self.events = 0
        self.drops: dict[str, int] = {}
        self.last_seq: int | None = None  # the highest sequence number received (or read at connect)
        self._previous_counter: int | None = None  # the counter read at the previous check
        self.last_check: float | None = None
        self._outage_logged = False
        self._check_lock = threading.Lock()

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

    def is_current(self) -> bool:
        """Return whether the subscription is up and its last sequence check is recent."""
        last = self.last_check
        # Two intervals and some slack: a busy process's thread may be scheduled late.
        return self.connected.is_set() and last is not None and self.clock() - last <= 2 * self.check_seconds + 2.0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect after a pause
                # Dropped once, when the connection is lost; while it stays down new L1 values
                # live one check interval (is_coherent() is False), so failed attempts drop nothing.
                was_connected = self.connected.is_set()
                self.connected.clear()
                self.attempted.set()
                if was_connected:
                    self._drop("disconnected")
                if not self._outage_logged:
                    logger.warning("cachecore: invalidation subscriber lost Redis (%s); reconnecting", exc)
                    self._outage_logged = True
            finally:
                self._close()
            self._stop.wait(self._backoff.next())

    def _listen(self) -> None:
        client = self._client_factory()
        self._pubsub = client.pubsub(ignore_subscribe_messages=False)
        self._pubsub.subscribe(self.channel)
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=self.poll_seconds)
            if message is not None:
                kind = message.get("type")
                if kind == "subscribe":
                    self._connected(client)
                elif kind == "message":
                    self._message(message["data"])
            if self.connected.is_set() and (
                self.last_check is None or self.clock() - self.last_check >= self.check_seconds
            ):
                # The counter read goes over the regular connection: a dead server shows up here too.
                self._check(_read_counter(client, self.channel))
                self._pubsub.ping()
                self._follow_master(client)

    def _connected(self, client) -> None:
        # Subscribed first, counter read second: every message numbered above it will arrive.
        # Events published while we were not subscribed are gone: drop everything we hold.
        counter = _read_counter(client, self.channel)
        address = _server_address(self._pubsub)
        if self.master is not None and address is not None and address != self.master:
            self.master_changes += 1
            self._call(self._on_master_change, "master change")
        self.master = address or self.master
        self.last_seq = counter
        self._previous_counter = counter
        self.last_check = self.clock()
        self._drop("connect")
        self.connects += 1
        self._backoff.reset()
        if self._outage_logged:
            logger.warning("cachecore: invalidation subscriber reconnected; local L1 dropped")
        self._outage_logged = False
        self.connected.set()
        self.attempted.set()

    def _message(self, raw) -> None:
        self.events += 1
        seq, body = decode_message(raw)
        if seq is not None:
            last = self.last_seq
            if last is not None and seq > last + 1:
                self._drop("gap")  # a message numbered in between never reached us
            if last is None or seq > last:
                self.last_seq = seq
        self._on_event(body)

    def resync(self) -> None:
        """Take the counter as it is now as received, dropping nothing (tests flush Redis between tests)."""
        with self._check_lock:
            counter = _read_counter(self._client_factory(), self.channel)
            self.last_seq = self._previous_counter = counter
            self.last_check = self.clock()

    def _check(self, counter: int) -> None:
        """Compare the counter with what was received; drop L1 when a message must have been lost."""
        last = self.last_seq or 0
        if counter < last:
            # The counter went backwards: Redis restarted or was flushed; anything may be missed.
            self._drop("reset")
            self.last_seq = counter
        elif self._previous_counter is not None and last < self._previous_counter:
            # Messages numbered up to the previous reading had a whole interval to arrive.
            self._drop("lost")
            self.last_seq = self._previous_counter
        self._previous_counter = counter
        self.last_check = self.clock()

    def _follow_master(self, client) -> None:
        """Resubscribe when the Sentinels name another master than the one subscribed to."""
        address = master_address(client)
        if address is not None and self.master is not None and address != self.master:
            raise MasterMoved(f"the Sentinels name {address[0]}:{address[1]} as the master")

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        self._call(self._on_drop, f"dropping L1 ({reason})")

    @staticmethod
    def _call(fn, what: str) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the thread must survive to reconnect
            logger.exception("cachecore: %s failed", what)

    def _close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - already broken; nothing to save
                logger.debug("cachecore: closing the subscriber connection failed", exc_info=True)


class MasterMoved(Exception):
    """The Sentinels name another master than the one this subscription was made on."""


def master_address(client) -> tuple[str, int] | None:
    """Return the master the Sentinels name now (None without Sentinel, or when none answers).

    Asking through the client's pool also makes it drop its connections to a former master.
    """
    pool = getattr(client, "connection_pool", None)
    if not getattr(pool, "is_master", False) or not hasattr(pool, "get_master_address"):
        return None
    try:
        host, port = pool.get_master_address()
    except Exception:  # noqa: BLE001 - Sentinels unreachable: the master's own health is checked apart
        return None
    return str(host), int(port)


def _server_address(pubsub) -> tuple[str, int] | None:
    connection = getattr(pubsub, "connection", None)
    host, port = getattr(connection, "host", None), getattr(connection, "port", None)
    return (str(host), int(port)) if host is not None and port is not None else None


def after_master_change() -> None:
    """Retire every L2 value (epoch bump): bumps made on the former master may be lost."""
    from cachecore import generations

    with tiers.despite_open_breakers():
        generations.bump_epoch()


def _read_counter(client, channel: str) -> int:
    value = client.get(sequence_key(channel))
    return int(value) if value is not None else 0


FIRST_CONNECT_WAIT = 2.0
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
                _subscriber.attempted.wait(FIRST_CONNECT_WAIT)
            _subscriber_pid = os.getpid()
    return _subscriber


def subscriber() -> Subscriber | None:
    """Return this process's subscriber if one was started."""
    return _subscriber if _subscriber_pid == os.getpid() else None


def is_coherent() -> bool:
    """Return whether L1 may be trusted across processes (single process, or subscribed and checked)."""
    sub = subscriber()
    if sub is not None:  # only started when L2 is Redis: no settings lookup on the fill path
        return sub.is_current()
    return redis_client() is None


def info() -> dict:
    """Return the subscriber's state for stats and health pages."""
    sub = subscriber()
    return {
        "enabled": redis_client() is not None,
        "running": bool(sub and sub.alive),
        "connected": bool(sub and sub.connected.is_set()),
        "connects": sub.connects if sub else 0,
        "events": sub.events if sub else 0,
        "last_seq": sub.last_seq if sub else None,
        "drops": dict(sub.drops) if sub else {},
        "master_changes": sub.master_changes if sub else 0,
        "channel": settings.CACHECORE_CHANNEL,
    }


def stop() -> None:
    """Stop this process's subscriber (tests, settings changes); the next use starts a new one."""
    global _subscriber, _subscriber_pid
    with _lock:
        sub, _subscriber, _subscriber_pid = subscriber(), None, None
    if sub is not None:
        sub.stop()


def _resync_for_tests() -> None:
    # Registered with cachecore.testing: the suite empties Redis between tests, which a running
    # subscriber would rightly take for a restart and answer by dropping L1 in the next test.
    sub = subscriber()
    if sub is not None and sub.connected.is_set():
        try:
            sub.resync()
        except Exception:  # noqa: BLE001 - Redis gone: the subscriber will notice by itself
            logger.debug("cachecore: coherence resync failed", exc_info=True)


testing.register_reset(_resync_for_tests)


def _on_setting_changed(*, setting, **kwargs):
    if setting in ("CACHES", "CACHECORE_CHANNEL", "CACHECORE_CACHE_ALIAS"):
        stop()


setting_changed.connect(_on_setting_changed)
