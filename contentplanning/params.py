"""Query parameters of the content-planning API: parsed by small functions, documented once.

A DRF serializer per request costs more than an L1 hit of the whole data set (deep-copied
fields), so the hot endpoint parses its handful of parameters directly. Errors are 400s whose
``detail`` starts with the parameter's name, like the project's serializer errors.
"""

from collections.abc import Iterable
from datetime import date, timedelta

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
POSITIVE = "must be a positive integer."
BOOLEAN = "must be a boolean (true/false, 1/0, yes/no)."
DATE = "must be a date (YYYY-MM-DD)."
WEEKS_MAX = 26
WEEKS = f"must be an integer from 1 to {WEEKS_MAX}."
TOO_LATE = "must be a date that leaves room for {weeks} weeks before {last}, the last date of the calendar."
UNKNOWN_PARAMETER = "unknown parameter; allowed: {allowed}."
# DRF's renderer switch is accepted everywhere (as on the trackers endpoints).
ALWAYS_ALLOWED = frozenset({"format"})


def invalid(name: str, message: str) -> ValidationError:
    """Return the 400 error of one parameter."""
    return ValidationError({name: [message]})


def reject_unknown(query, allowed: Iterable[str]) -> None:
    """Raise a 400 naming the first query parameter that is not in ``allowed`` (a typo is never ignored)."""
    allowed = tuple(allowed)
    unknown = sorted(set(query) - set(allowed) - ALWAYS_ALLOWED)
    if unknown:
        raise invalid(unknown[0], UNKNOWN_PARAMETER.format(allowed=", ".join(sorted(allowed)) or "none"))


def _ascii_int(value: str) -> int | None:
    # int() also takes "1_0", " 7", "+7" and non-ASCII digits ("\u0663"): an id is plain digits.
    # The digit cap keeps int() clear of its 4300-digit limit; no id has 20 digits.
    if value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return None


def positive_int(value: str | None, name: str) -> int | None:
    """Return a positive integer parameter; None when absent or empty."""
    if value is None or value == "":
        return None
    number = _ascii_int(value)
    if number is None or number < 1:
        raise invalid(name, POSITIVE)
    return number


def boolean(value: str | None, name: str, default: bool = False) -> bool:
    """Return a boolean parameter (true/false, 1/0, yes/no, on/off); ``default`` when absent."""
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise invalid(name, BOOLEAN)


def iso_date(value: str | None, name: str) -> date | None:
    """Return a YYYY-MM-DD parameter as a date; None when absent or empty."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(name, DATE) from None


def weeks(value: str | None, name: str = "weeks", default: int = 4) -> int:
    """Return the number of weeks to plan (1..26)."""
    if value is None or value == "":
        return default
    number = _ascii_int(value)
    if number is None or not 1 <= number <= WEEKS_MAX:
        raise invalid(name, WEEKS)
    return number


def plan_start(start: date, weeks: int, name: str = "start") -> date:
    """Return ``start`` when ``weeks`` weeks from it fit in the calendar (date.max)."""
    if date.max - start < timedelta(weeks=weeks - 1):
        raise invalid(name, TOO_LATE.format(weeks=weeks, last=date.max.isoformat()))
    return start


# OpenAPI descriptions of the same parameters.
USER_ID = OpenApiParameter("user_id", int, description="whose data; default: the caller (staff: anyone)")
STRATEGY_ID = OpenApiParameter("strategy_id", int, description="one of the user's strategies; default: the latest")
FORCE_REFRESH = OpenApiParameter("force_refresh", bool, description="recompute and replace the cached value")
START = OpenApiParameter("start", str, description="first day to plan (YYYY-MM-DD); default: today")
WEEKS_PARAM = OpenApiParameter("weeks", int, description=f"weeks to plan, 1 to {WEEKS_MAX}; default 4")
SUBJECT = [USER_ID, STRATEGY_ID]
