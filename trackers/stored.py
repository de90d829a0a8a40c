"""Stored response bodies: a list endpoint's JSON, encoded once on a miss, with its ETag.

The cached value of a list endpoint is ``{"body": <JSON text>, "etag": <quoted hash>}``: a hit
writes the stored text as it is (no serializer, no JSON encoding), and ``If-None-Match`` is
answered from the stored hash without touching the body. The text is encoded by the API's own
renderer, so the bytes are exactly what DRF would have sent.
"""

import hashlib

from config.renderers import ORJSONRenderer

_renderer = ORJSONRenderer()


def store(data) -> dict:
    """Return the stored form of a JSON-able response body."""
    body = _renderer.render(data).decode()
    return {"body": body, "etag": etag_of(body)}


def etag_of(body: str) -> str:
    """Return the strong ETag of a body: a quoted 128-bit BLAKE2b digest."""
    return '"' + hashlib.blake2b(body.encode(), digest_size=16).hexdigest() + '"'
