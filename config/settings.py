"""Cachewarden settings: one module, everything read from the environment once.

Unset ``DATABASE_URL`` / ``REDIS_URL`` give the embedded default (SQLite file, local-memory
cache) that runs anywhere; see the configuration table in README.md.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.env import SettingsError, env_bool, env_float, env_int, env_list, env_str, load_env_file
from config.redis_sentinel import sentinel_config

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = load_env_file(BASE_DIR / ".env")  # git-ignored; the environment wins over it

# --- Core -----------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise SettingsError(
            "SECRET_KEY must be set when DEBUG is off. Run `make venv` (or `make run`) once to write a "
            "local .env with DEBUG=1 and a generated key, or export SECRET_KEY=<a long random string>."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - DEBUG only
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files (pinned), never a CDN
    "cachalot",
    "django_prometheus",
    "axes",
    "cachecore",
    "accounts",
    "trackers",
    "contentplanning",
    "monitoring",
    "demo",
]

MIDDLEWARE = [
    "config.middleware.RejectMalformedContentLength",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.PrivateResponses",
    "accounts.middleware.PrefetchAuth",  # before the session: one MGET for the auth data
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a locked-out login into the 429 answer
]
if not env_bool("PROMETHEUS_MIDDLEWARE", True):
    MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("django_prometheus.")]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Unset DATABASE_URL -> SQLite file in the project. postgres://... -> psycopg 3 with Django's
# connection pool (CONN_MAX_AGE must stay 0 with a pool). The django_prometheus wrappers count
# queries per database for /metrics.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
    except ValueError as exc:  # dj-database-url: an unknown scheme or a malformed URL
        raise SettingsError(f"DATABASE_URL must be a postgres:// URL (got {DATABASE_URL!r}: {exc}).") from exc
else:
    # BEGIN IMMEDIATE: a transaction takes SQLite's write lock when it starts, so concurrent
    # writers (runserver's threads, several workers) queue within the busy timeout. With the
    # default deferred BEGIN, a transaction that read first fails at once with "database is
    # locked" when it tries to write while another one does (Django's recommendation for SQLite).
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "db.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
if _db["ENGINE"] not in _ENGINES:
    raise SettingsError(f"DATABASE_URL must be a postgres:// URL (got engine {_db['ENGINE']}).")
_db["ENGINE"] = _ENGINES[_db["ENGINE"]]
IS_POSTGRES = _db["ENGINE"].endswith("postgresql")
if IS_POSTGRES and env_bool("DATABASE_POOL", True):
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 1),
        "max_size": env_int("DATABASE_POOL_MAX", 10),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }
if IS_POSTGRES:
    # A silently dead connection (dropped NAT entry, dead host) fails within ~25 s instead of
    # blocking a worker or a relay forever: TCP keepalives and libpq's tcp_user_timeout (ms).
    _db.setdefault("OPTIONS", {}).update(
        {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
    )
    _db["OPTIONS"].setdefault("tcp_user_timeout", 15000)
if not IS_POSTGRES:
    _db.setdefault("OPTIONS", {}).update({"timeout": 20})
# Separate test database names let several test runs share one server (TEST_DATABASE_NAME).
if IS_POSTGRES and env_str("TEST_DATABASE_NAME"):
    _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DATABASES = {"default": _db}
# Read replicas (docs/read-replicas.md): DATABASE_REPLICA_URLS=postgres://...,postgres://... adds
# aliases replica_1, replica_2, ... with the primary's options; cachecore's router sends the
# computations that fill the cache (and reads marked with replica_reads()) to them, only when a
# replica has replayed the namespace's last invalidation. Unset: no router, nothing changes.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
if DATABASE_REPLICA_URLS and not IS_POSTGRES:
    raise SettingsError("DATABASE_REPLICA_URLS needs a postgres:// DATABASE_URL (replicas stream from its primary).")
for _number, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    try:
        _replica = dj_database_url.parse(_url, conn_max_age=0)
    except ValueError as exc:
        message = f"DATABASE_REPLICA_URLS entry {_number} must be a postgres:// URL ({_url!r}: {exc})."
        raise SettingsError(message) from exc
    if _replica["ENGINE"] != "django.db.backends.postgresql" or not _replica.get("NAME"):
        raise SettingsError(
            f"DATABASE_REPLICA_URLS entry {_number} must be a postgres://host:port/database URL (got {_url!r})."
        )
    _replica["ENGINE"] = _db["ENGINE"]
    _replica["OPTIONS"] = {**_db.get("OPTIONS", {}), **_replica.get("OPTIONS", {})}
    _replica["TEST"] = {"MIRROR": "default"}  # tests never create a database on a replica
    DATABASES[f"replica_{_number}"] = _replica
CACHECORE_REPLICA_DATABASES = tuple(alias for alias in DATABASES if alias != "default")
CACHECORE_REPLICA_MAX_WAIT = env_float("CACHECORE_REPLICA_MAX_WAIT", 0.0)
# Always read from the primary, even inside a replica computation: the engine's tables, logins,
# sessions, tokens and lockouts (a login must see its session at once).
CACHECORE_REPLICA_PRIMARY_APPS = ("cachecore", "auth", "sessions", "contenttypes", "admin", "authtoken", "axes")
DATABASE_ROUTERS = ["cachecore.routing.ReplicaRouter"] if CACHECORE_REPLICA_DATABASES else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (L2 and cachalot) ----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Sentinel: REDIS_URL is then redis://[:password@]<service>/<db> (config/redis_sentinel.py).
REDIS_SENTINELS, REDIS_SENTINEL_SERVICE = sentinel_config(
    REDIS_URL, env_str("REDIS_SENTINELS"), env_str("REDIS_SENTINEL_SERVICE")
)
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "cw")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 0.5),
                "SOCKET_TIMEOUT": env_float("REDIS_SOCKET_TIMEOUT", 0.5),
                "SERIALIZER": "django_redis.serializers.pickle.PickleSerializer",
            },
        }
    }
    if REDIS_SENTINELS:
        # The master is asked from the Sentinels at every (re)connection: L2, the generations, the
        # locks and the coherence subscriber (all on this alias's client) follow a failover.
        _sentinel_timeout = CACHES["default"]["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"]
        CACHES["default"]["OPTIONS"].update(
            {
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": REDIS_SENTINELS,
                "SENTINEL_KWARGS": {"socket_connect_timeout": _sentinel_timeout, "socket_timeout": _sentinel_timeout},
            }
        )
    # django-cachalot invalidates inside every ORM write to the tables it caches: on its own alias
    # that ignores Redis errors, so a full or stalled Redis never makes a write fail (a missed
    # cachalot invalidation is bounded by CACHALOT_TIMEOUT; cachecore's own values never read
    # through cachalot).
    CACHES["cachalot"] = {
        **CACHES["default"],
        "OPTIONS": {**CACHES["default"]["OPTIONS"], "IGNORE_EXCEPTIONS": True},
    }
    CACHALOT_CACHE = "cachalot"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cachewarden-default",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# The rollback switch: CACHE_ENABLED=0 computes every value and caches nothing.
CACHE_ENABLED = env_bool("CACHE_ENABLED", True)

# django-cachalot: only the small reference tables, never trackers, history or the cache table.
CACHALOT_ENABLED = CACHE_ENABLED
CACHALOT_ONLY_CACHABLE_TABLES = frozenset(
    {
        "trackers_client",
        "trackers_brand",
        "trackers_productionrun",
        "trackers_storagelocation",
        "trackers_deliverylocation",
        "trackers_image",
    }
)
CACHALOT_UNCACHABLE_TABLES = frozenset({"django_migrations", "cachecore_cacheentry"})
CACHALOT_TIMEOUT = env_int("CACHALOT_TIMEOUT", 300)

# --- cachecore --------------------------------------------------------------------------------
CACHECORE_L1_MAX_ENTRIES = env_int("CACHECORE_L1_MAX_ENTRIES", 5000)
CACHECORE_L1_MAX_BYTES = env_int("CACHECORE_L1_MAX_BYTES", 64 * 1024 * 1024)
CACHECORE_LOCK_TIMEOUT = env_float("CACHECORE_LOCK_TIMEOUT", 30.0)
CACHECORE_LOCK_WAIT = env_float("CACHECORE_LOCK_WAIT", 10.0)
CACHECORE_BREAKER_THRESHOLD = env_int("CACHECORE_BREAKER_THRESHOLD", 3)
CACHECORE_BREAKER_COOLDOWN = env_float("CACHECORE_BREAKER_COOLDOWN", 5.0)
CACHECORE_ACCESS_FLUSH_SECONDS = env_float("CACHECORE_ACCESS_FLUSH_SECONDS", 5.0)
CACHECORE_ACCESS_BATCH_SIZE = env_int("CACHECORE_ACCESS_BATCH_SIZE", 500)
CACHECORE_L2_MAX_TTL = env_int("CACHECORE_L2_MAX_TTL", 7 * 24 * 3600)
CACHECORE_DEBOUNCE_SECONDS = env_float("CACHECORE_DEBOUNCE_SECONDS", 2.0)
CACHECORE_MAX_WAIT_SECONDS = env_float("CACHECORE_MAX_WAIT_SECONDS", 10.0)
CACHECORE_PREWARM_ON_START = env_bool("CACHECORE_PREWARM_ON_START", False)
CACHECORE_VERIFY_RATE = env_float("CACHECORE_VERIFY_RATE", 0.0)
CACHECORE_VERIFY_QUEUE_SIZE = env_int("CACHECORE_VERIFY_QUEUE_SIZE", 100)
CACHECORE_CHANNEL = env_str("CACHECORE_CHANNEL", f"{CACHE_KEY_PREFIX}:cachecore:invalidate")
CACHECORE_RELAY_THREAD = env_bool("CACHECORE_RELAY_THREAD", True)
CACHECORE_RELAY_POLL_SECONDS = env_float("CACHECORE_RELAY_POLL_SECONDS", 1.0)
CACHECORE_RELAY_LEASE_SECONDS = env_float("CACHECORE_RELAY_LEASE_SECONDS", 2.0)
CACHECORE_COHERENCE_CHECK_SECONDS = env_float("CACHECORE_COHERENCE_CHECK_SECONDS", 0.5)
CACHECORE_L1_MAX_TTL = env_float("CACHECORE_L1_MAX_TTL", 300.0)
# An invalidation is applied once this many Redis replicas have it (cachecore/replication.py):
# by default one with Sentinel, whose failover would otherwise lose a bump made just before it.
CACHECORE_REDIS_WAIT_REPLICAS = env_int("CACHECORE_REDIS_WAIT_REPLICAS", 1 if REDIS_SENTINELS else 0)
CACHECORE_REDIS_WAIT_TIMEOUT = env_float("CACHECORE_REDIS_WAIT_TIMEOUT", 0.2)
# What a long-running cachecore command (cache_relay) calls at start: here,
# serve its own /metrics when METRICS_PORT is set (cachecore never imports monitoring itself).
CACHECORE_LONG_RUNNING_HOOK = "monitoring.exporter.serve_metrics"

# --- trackers ---------------------------------------------------------------------------------
TRACKERS_LAZY_THRESHOLD = env_int("TRACKERS_LAZY_THRESHOLD", 500)
TRACKERS_PAGE_SIZE = env_int("TRACKERS_PAGE_SIZE", 50)
TRACKERS_MAX_PAGE_SIZE = env_int("TRACKERS_MAX_PAGE_SIZE", 500)
TRACKERS_INGEST_MAX_BATCH = env_int("TRACKERS_INGEST_MAX_BATCH", 1000)
TRACKERS_LIST_TTL = env_int("TRACKERS_LIST_TTL", 300)
TRACKERS_STATS_TTL = env_int("TRACKERS_STATS_TTL", 300)
TRACKERS_STALE_AFTER_HOURS = env_int("TRACKERS_STALE_AFTER_HOURS", 24)
TRACKERS_INGEST_FUTURE_TOLERANCE_SECONDS = env_int("TRACKERS_INGEST_FUTURE_TOLERANCE_SECONDS", 300)
TRACKERS_LOST_AFTER_HOURS = env_int("TRACKERS_LOST_AFTER_HOURS", 48)
TRACKERS_SYNC_BATCH_SIZE = env_int("TRACKERS_SYNC_BATCH_SIZE", 5000)
TRACKERS_SYNC_SET_BATCH_SIZE = env_int("TRACKERS_SYNC_SET_BATCH_SIZE", 1_000_000)

# --- contentplanning --------------------------------------------------------------------------
AI_ANALYSIS_URL = env_str("AI_ANALYSIS_URL")
AI_ANALYSIS_TIMEOUT = env_float("AI_ANALYSIS_TIMEOUT", 10.0)
AI_ANALYSIS_LATENCY = env_float("AI_ANALYSIS_LATENCY", 0.0)
CONTENTPLANNING_DEGRADED_TTL = env_int("CONTENTPLANNING_DEGRADED_TTL", 60)
CONTENTPLANNING_PREWARM_USERS = env_int("CONTENTPLANNING_PREWARM_USERS", 50)
CONTENTPLANNING_PREWARM_WORKERS = env_int("CONTENTPLANNING_PREWARM_WORKERS", 8)

# --- monitoring -------------------------------------------------------------------------------
MONITORING_TOKEN = env_str("MONITORING_TOKEN")
MONITORING_SLOW_MS = env_float("MONITORING_SLOW_MS", 100.0)
MONITORING_CRITICAL_MS = env_float("MONITORING_CRITICAL_MS", 500.0)
HEALTH_THROTTLE_RATE = env_str("HEALTH_THROTTLE_RATE", "120/min")
# Where abuse is cheap (docs/security.md): DRF scoped throttles, per user (per address when anonymous).
INGEST_THROTTLE_RATE = env_str("INGEST_THROTTLE_RATE", "120/min")
CACHE_MANAGEMENT_THROTTLE_RATE = env_str("CACHE_MANAGEMENT_THROTTLE_RATE", "30/min")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
METRICS_PORT = env_int("METRICS_PORT", 0)  # a long-running command's own /metrics (0: off)
METRICS_ADDR = env_str("METRICS_ADDR", "127.0.0.1")
MONITORING_MEMORY_LIMIT_BYTES = env_int("MONITORING_MEMORY_LIMIT_BYTES", 0)
MONITORING_PROCESS_METRICS_SECONDS = env_float("MONITORING_PROCESS_METRICS_SECONDS", 5.0)
MONITORING_EXCELLENT_MS = env_float("MONITORING_EXCELLENT_MS", 20.0)
MONITORING_QUERY_TIMING = env_bool("MONITORING_QUERY_TIMING", True)
MONITORING_BASELINE_WINDOW = env_int("MONITORING_BASELINE_WINDOW", 200)
MONITORING_RECENT_WINDOW = env_int("MONITORING_RECENT_WINDOW", 50)
MONITORING_REGRESSION_FACTOR = env_float("MONITORING_REGRESSION_FACTOR", 2.0)
MONITORING_REGRESSION_MIN_MS = env_float("MONITORING_REGRESSION_MIN_MS", 1.0)
MONITORING_MAX_NAMES = env_int("MONITORING_MAX_NAMES", 500)
MONITORING_MAX_METRIC_GROUPS = env_int("MONITORING_MAX_METRIC_GROUPS", 200)
MONITORING_SNAPSHOT_DIR = env_str("MONITORING_SNAPSHOT_DIR")
MONITORING_PAGE_REFRESH_SECONDS = env_int("MONITORING_PAGE_REFRESH_SECONDS", 5)
MONITORING_SHARED_STATS_SECONDS = env_float("MONITORING_SHARED_STATS_SECONDS", 10.0)
MONITORING_SHARED_STATS_MAX_AGE = env_float("MONITORING_SHARED_STATS_MAX_AGE", 3600.0)
MONITORING_HISTORY_RESOLUTION = env_int("MONITORING_HISTORY_RESOLUTION", 10)
MONITORING_HISTORY_WINDOW = env_int("MONITORING_HISTORY_WINDOW", 3600)
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- DRF --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "config.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.ContentNegotiation",  # names a bad ?format=
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",  # DRF's, with too-deep nesting a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "health": HEALTH_THROTTLE_RATE,
        "ingest": INGEST_THROTTLE_RATE,
        "cache_management": CACHE_MANAGEMENT_THROTTLE_RATE,
    },
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    # Throttles key anonymous callers by address: X-Forwarded-For is trusted only from NUM_PROXIES
    # proxies (0: never), so a client cannot pick a new identity per request.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cachewarden API",
    "DESCRIPTION": "Tracker dashboard, reference data, comprehensive user data and health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Offline: the UI's files come from the pinned drf-spectacular-sidecar package, and Swagger UI
    # must not send the schema to its public validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions and the per-request user lookup read through cachecore (accounts/): a warm
# authenticated request runs no SQL, and logout, deactivation, password or membership changes
# still hold on the next request in every process (docs/accounts.md).
SESSION_ENGINE = "accounts.sessions"
# Their managers are Django's: a queryset update() of these tables records no invalidation (the
# cached entries then heal within their TTL; docs/accounts.md), so check cachecore.W003 skips them.
CACHECORE_UNRECORDED_BULK_WRITES = ("auth.User", "sessions.Session")
# Login lockout (django-axes): LOGIN_FAILURE_LIMIT failed logins of one username from one address
# lock that pair out for LOGIN_COOLOFF_SECONDS; the site and admin login forms then answer 429
# with Retry-After (config/lockout.py). A successful login resets the count. Then the cached
# model backend (accounts/) authenticates.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.CachedModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOGIN_COOLOFF_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGIN_URL = "login"  # the site login (trackers/page_urls.py); the admin login admits staff only
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]  # project-wide assets (the favicon)

# --- Security (check --deploy) ----------------------------------------------------------------
# HTTPS is terminated by the proxy in front of gunicorn; these follow SECURE_SSL.
SECURE_SSL = env_bool("SECURE_SSL", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_SSL_REDIRECT = SECURE_SSL and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
