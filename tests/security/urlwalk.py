"""Walk the URLconf: every routed pattern, the methods its view declares, a concrete URL for it.

Pure helpers for the authorisation matrix (tests/security/test_authz_matrix.py); no requests here.
"""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Function views (the admin's, /metrics) do not declare their methods; the matrix requests them
# with the methods an HTML form or a scraper uses.
FUNCTION_VIEW_METHODS = ("GET", "POST")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_ROUTE_ARG = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
_REGEX_ARG = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


@dataclass(frozen=True)
class Endpoint:
    """One routed pattern: its table key, full pattern, view and declared methods."""

    key: str
    pattern: str
    name: str | None
    methods: tuple[str, ...]
    arg_names: tuple[str, ...]


def endpoints(urlconf=None) -> list[Endpoint]:
    """Return every routed pattern of ``urlconf`` (the project's by default), in URLconf order."""
    return list(_walk(get_resolver(urlconf).url_patterns, "", None))


def _walk(patterns, prefix: str, namespace: str | None):
    for entry in patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = entry.namespace
            if namespace and inner:
                inner = f"{namespace}:{inner}"
            yield from _walk(entry.url_patterns, pattern, inner or namespace)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Endpoint(
                key=name or pattern,
                pattern=pattern,
                name=name,
                methods=view_methods(entry.callback),
                arg_names=arg_names(pattern),
            )


def view_methods(callback) -> tuple[str, ...]:
    """Return the HTTP methods a view answers: a class view's handlers, else FUNCTION_VIEW_METHODS."""
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        return FUNCTION_VIEW_METHODS
    names = [m for m in view_class.http_method_names if hasattr(view_class, m)]
    if "get" in names and "head" in view_class.http_method_names and "head" not in names:
        names.append("head")  # View.setup() answers HEAD with get()
    order = ("get", "head", "options", "post", "put", "patch", "delete", "trace")
    return tuple(m.upper() for m in order if m in names)


def arg_names(pattern: str) -> tuple[str, ...]:
    """Return the names of the path arguments of a full pattern (route or regex syntax)."""
    regex_names = tuple(m.group("name") for m in _REGEX_ARG.finditer(pattern))
    route_names = tuple(m.group("name") for m in _ROUTE_ARG.finditer(_REGEX_ARG.sub("", pattern)))
    return regex_names + route_names


def concrete_path(pattern: str, values: dict[str, str]) -> str:
    """Return the URL path of ``pattern`` with its arguments replaced by ``values``."""
    path = _REGEX_ARG.sub(lambda m: str(values[m.group("name")]), pattern)
    path = _ROUTE_ARG.sub(lambda m: str(values[m.group("name")]), path)
    path = path.replace("^", "").replace("$", "").replace("/?", "/")
    return "/" + path
