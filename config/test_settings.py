"""Settings for the test suite: the project's settings with test-friendly environment defaults.

The environment still decides the backends (DATABASE_URL / REDIS_URL), so the same suite runs on
the embedded default and on PostgreSQL + Redis.
"""

import os

os.environ.setdefault("ENV_FILE", "")  # never the developer's .env
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SECURE_SSL", "0")
os.environ.setdefault("AI_ANALYSIS_LATENCY", "0")
os.environ.setdefault("CACHE_KEY_PREFIX", "cwtest")
os.environ.setdefault("MONITORING_SHARED_STATS_SECONDS", "0")  # tests publish counters explicitly

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# cachecore's own test models (cachecore/tests/testapp): the engine's tests do not use the project's apps.
INSTALLED_APPS = [*INSTALLED_APPS, "cachecore.tests.testapp"]  # noqa: F405
