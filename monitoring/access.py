"""Who may see operator data: staff sessions, the monitoring bearer token, allowed addresses."""

import hmac
import ipaddress
from functools import lru_cache

from monitoring.conf import app_settings

BEARER = "bearer"


def bearer_token(request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != BEARER:
        return None
    return token.strip()


def token_is_valid(token: str | None) -> bool:
    """Return whether ``token`` equals MONITORING_TOKEN (constant time; never true when unset)."""
    expected = app_settings().token
    if not expected or not token:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


def is_staff(user) -> bool:
    """Return whether ``user`` is an active staff member."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


@lru_cache(maxsize=32)
def _networks(entries: tuple) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def address_allowed(address: str | None) -> bool:
    """Return whether ``address`` is in METRICS_ALLOWED_IPS (addresses or CIDR networks)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(app_settings().metrics_allowed_ips))
