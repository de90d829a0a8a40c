"""PrefetchAuth: one Redis round trip for all of a warm request's auth data.

Placed before ``SessionMiddleware``. When this process's L1 holds the request's session (and so
knows its user), the generations of the session, the user and every other ``l1_checked``
namespace keyed by ``user_id`` alone (the trackers client set) are read in one MGET; the lookups
that follow (``SessionStore.load``, ``CachedModelBackend.get_user``, the view's scope) then serve
their L1 copies without another round trip, each only if its generations are still current.
A request without a session cookie, or whose session this process has not seen, costs nothing.
"""

from django.conf import settings

from accounts.selectors import auth_lookups, per_user_namespaces
from cachecore.api import prefetched_generations


class PrefetchAuth:
    """Prefetch the generations of the request's cached session, user and per-user data."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Namespaces are declared in AppConfig.ready(), before the handler builds its middleware.
        self.per_user = per_user_namespaces()

    def __call__(self, request):
        lookups = auth_lookups(request.COOKIES.get(settings.SESSION_COOKIE_NAME), self.per_user)
        if not lookups:
            return self.get_response(request)
        with prefetched_generations(lookups):
            return self.get_response(request)
