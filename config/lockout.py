"""The answer to a locked-out login (django-axes' AXES_LOCKOUT_CALLABLE): 429 with Retry-After."""

from django.conf import settings
from django.http import HttpResponse

LOCKED_OUT = "Too many failed logins for this account from your address. Try again in {seconds} seconds.\n"


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """Return the 429 a locked-out login gets, with the cool-off in ``Retry-After``."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = HttpResponse(LOCKED_OUT.format(seconds=seconds), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
