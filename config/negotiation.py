"""Content negotiation: DRF's, with an unknown ``?format=`` named in the 404's detail."""

from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation

UNKNOWN_FORMAT = "format: {format!r} is not offered here; choose from {choices}."


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation; ``?format=xml`` is a 404 whose detail names ``format`` and the choices."""

    def filter_renderers(self, renderers, format):
        """Return the renderers of ``format`` or raise NotFound naming the parameter."""
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            # 404 as DRF does (a format is part of the resource's address), but with a reason.
            choices = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise NotFound(UNKNOWN_FORMAT.format(format=format, choices=choices))
        return matching
