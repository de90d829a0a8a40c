"""A JSON renderer for DRF backed by orjson: the same bytes as DRF's JSONRenderer, faster.

A warm dashboard page is a cached dict rendered to JSON on every hit; for a 500-tracker page the
stdlib encoder dominates the request. orjson renders it several times faster; values it does not
know (Decimal, lazy translation strings, datetimes — passed through so their format stays DRF's
``...Z``) go to DRF's own encoder, and anything orjson refuses falls back to DRF's renderer.
One difference: a NaN or infinite float renders as ``null`` where DRF's strict mode raises.
"""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_drf_default = JSONEncoder().default


class ORJSONRenderer(JSONRenderer):
    """Render JSON with orjson; indented output (``; indent=N``) and odd values use DRF's path."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        """Return ``data`` as UTF-8 JSON bytes."""
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(data, default=_drf_default, option=_OPTIONS)
        except TypeError:  # e.g. integers beyond 64 bits
            return super().render(data, accepted_media_type, renderer_context)
