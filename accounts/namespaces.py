"""Names of the cachecore namespaces of the accounts app (declared in accounts/caching.py)."""

SESSIONS = "accounts.session"
AUTH_USER = "accounts.user"
