"""Request guards that run before every other middleware, and the caching headers of every answer."""

from django.http import JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

CONTENT_LENGTH_INVALID = "Content-Length: must be a non-negative integer."


class RejectMalformedContentLength:
    """Answer 400 for a non-numeric Content-Length instead of letting a later middleware crash.

    django-prometheus's request middleware calls ``int()`` on the header, so such a request was a
    500 on any URL. gunicorn refuses these requests itself; this guard covers every other server.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("CONTENT_LENGTH")
        if raw not in (None, "") and not (raw.isascii() and raw.isdigit()):
            return JsonResponse({"detail": CONTENT_LENGTH_INVALID}, status=400)
        return self.get_response(request)


class PrivateResponses:
    """Tell shared caches that answers depend on the caller: ``Cache-Control: private``, ``Vary``.

    Most answers depend on who asks (session cookie or ``Authorization`` header): the scoped API,
    the pages, even /api/health (details for staff and the token). A proxy or CDN must never
    serve one user's answer to another, so every response is marked private and varies on both
    credentials, unless its view already said ``public`` or ``no-store``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        directives = response.get("Cache-Control", "").lower()
        if "public" not in directives and "no-store" not in directives:
            patch_cache_control(response, private=True)
        patch_vary_headers(response, ("Cookie", "Authorization"))
        return response
