"""DRF exception handler: every error body is {"detail": ...} naming what was wrong."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Return DRF's response, flattening field errors into a ``detail`` that names the field."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" not in data:
        parts = []
        for field, errors in data.items():
            text = (
                errors
                if isinstance(errors, str)
                else "; ".join(str(e) for e in errors)
                if isinstance(errors, list)
                else str(errors)
            )
            parts.append(f"{field}: {text}")
        response.data = {"detail": " ".join(parts), "errors": data}
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(e) for e in data)}
    return response
