"""DRF exception handler: every error body is {"detail": ...} naming what was wrong."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

BODY_TOO_LARGE = "body: larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE); send less per request."
TOO_MANY_FIELDS = "parameters: more than {limit} query or form fields (DATA_UPLOAD_MAX_NUMBER_FIELDS)."


def exception_handler(exc, context):
    """Return DRF's response, flattening field errors into a ``detail`` that names the field."""
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer is a bare HTML 400; a client needs to know it should send less.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": BODY_TOO_LARGE.format(limit=limit)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent):
        # Raised on the first read of request.GET (DRF reads it to negotiate ?format=): with
        # DEBUG on, DRF's own error path then fails too, a 500.
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Response({"detail": TOO_MANY_FIELDS.format(limit=limit)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" not in data:
        response.data = {"detail": " ".join(f"{name}: {text}" for name, text in field_messages(data)), "errors": data}
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(e) for e in data)}
    return response


def field_messages(errors, name: str = ""):
    """Yield ``(dotted field name, messages)`` of nested serializer errors (``reports.0.serial``)."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from field_messages(value, f"{name}.{key}" if name else str(key))
    elif isinstance(errors, list) and any(isinstance(e, dict | list) for e in errors):
        # A list serializer's errors: one entry per item, empty for the valid ones.
        for index, value in enumerate(errors):
            if value:
                yield from field_messages(value, f"{name}.{index}" if name else str(index))
    elif isinstance(errors, list):
        yield name, "; ".join(str(e) for e in errors)
    else:
        yield name, str(errors)
