"""Redis Sentinel configuration: parse and check ``REDIS_SENTINELS`` / ``REDIS_SENTINEL_SERVICE`` (pure).

With Sentinel, ``REDIS_URL`` names the monitored service (the master's name in Sentinel) as its host,
``redis://[:password@]<service>/<db>``; the master's address is asked from the Sentinels at every
(re)connection, so clients follow a failover. ``config/settings.py`` calls ``sentinel_config`` once;
``redis_client`` builds a plain redis-py client the same way for code outside django-redis (the
health probe, the test suite's reachability check).
"""

from urllib.parse import urlparse

from config.env import SettingsError


def parse_sentinels(raw: str) -> list[tuple[str, int]]:
    """Return ``host:port,host:port,...`` as a list of (host, port); SettingsError names REDIS_SENTINELS."""
    sentinels = []
    for item in (part.strip() for part in (raw or "").split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")  # [::1]:26379
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"REDIS_SENTINELS must be host:port[,host:port...] (got {item!r} in {raw!r}).")
        sentinels.append((host, int(port)))
    return sentinels


def sentinel_config(redis_url: str, sentinels_raw: str, service: str) -> tuple[list[tuple[str, int]], str]:
    """Return (sentinels, service) checked against ``REDIS_URL``; ([], "") when Sentinel is not used."""
    sentinels = parse_sentinels(sentinels_raw)
    service = (service or "").strip()
    if not sentinels and not service:
        return [], ""
    if not sentinels:
        raise SettingsError("REDIS_SENTINEL_SERVICE is set but REDIS_SENTINELS is not (host:port[,host:port...]).")
    if not service:
        raise SettingsError("REDIS_SENTINELS is set but REDIS_SENTINEL_SERVICE (the master's name) is not.")
    if service != service.lower():
        # django-redis and redis-py take the service from the URL's host, which URLs lower-case.
        raise SettingsError(f"REDIS_SENTINEL_SERVICE must be lower case (got {service!r}): rename the master.")
    if not redis_url:
        raise SettingsError(
            f"REDIS_SENTINELS is set but REDIS_URL is not: set REDIS_URL=redis://[:password@]{service}/<db>."
        )
    parsed = urlparse(redis_url)
    if parsed.scheme not in ("redis", "rediss") or parsed.hostname != service or parsed.port is not None:
        raise SettingsError(
            f"REDIS_URL must name the Sentinel service as its host, without a port, when REDIS_SENTINELS is set: "
            f"redis://[:password@]{service}/<db> (got host {parsed.hostname!r}"
            f"{f' and port {parsed.port}' if parsed.port else ''})."
        )
    return sentinels, service


def redis_client(url: str, sentinels=(), *, timeout: float, **kwargs):
    """Return a redis-py client of ``url``: the master found through ``sentinels`` when given, else direct."""
    import redis
    from redis.connection import parse_url

    if not sentinels:
        return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout, **kwargs)
    from redis.sentinel import Sentinel

    options = parse_url(url)  # db, password, username of the master; its host is the service name
    service = options.pop("host")
    options.pop("port", None)
    sentinel = Sentinel(
        list(sentinels),
        sentinel_kwargs={"socket_connect_timeout": timeout, "socket_timeout": timeout},
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    return sentinel.master_for(service, **options, **kwargs)
