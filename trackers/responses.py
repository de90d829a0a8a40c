"""HTTP answers of the trackers API that write a stored body (trackers.stored) as it is."""

import orjson
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from rest_framework.response import Response

# The bodies depend on who asks (their client scope): browsers and proxies may keep them only
# for that user, and must revalidate (cheap: a 304 from the stored hash) before reusing them.
PRIVATE = "private, no-cache"
VARY = ("Cookie", "Authorization")


def stored_response(request, stored: dict, headers: dict):
    """Return the stored body (or a 304 when ``If-None-Match`` names its ETag) with ``headers``."""
    if request.accepted_renderer.format != "json":  # the browsable API renders the data itself
        response = Response(orjson.loads(stored["body"]), headers=headers)
    elif etag_matches(request.headers.get("If-None-Match"), stored["etag"]):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(stored["body"], content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    response["ETag"] = stored["etag"]
    response["Cache-Control"] = PRIVATE
    patch_vary_headers(response, VARY)
    return response


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Return whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    tags = parse_etags(if_none_match)
    if tags == ["*"]:
        return True
    return any(tag.removeprefix("W/") == etag for tag in tags)
