"""Request guards that must run before every other middleware."""

from django.http import JsonResponse

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
