"""The authentication backend whose per-request user lookup reads through the cache."""

from django.contrib.auth.backends import ModelBackend

from accounts.selectors import cached_user


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, with ``get_user()`` (run on every request) served from cachecore.

    Logging in (``authenticate()``), permissions and everything else are ModelBackend's own. A
    deactivated user is refused here exactly as ModelBackend refuses them.
    """

    def get_user(self, user_id):
        """Return the active user ``user_id`` or None, without SQL on a warm cache."""
        user = cached_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
