"""Configuration from the environment: embedded default, PostgreSQL/Redis URLs, SECRET_KEY rule."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; c = settings.CACHES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'options': db.get('OPTIONS', {}), "
    "'cache': c['BACKEND'], 'location': c.get('LOCATION'), 'debug': settings.DEBUG, "
    "'cache_enabled': settings.CACHE_ENABLED, 'hosts': settings.ALLOWED_HOSTS}))"
)
CLEARED = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_SERVICE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CACHE_ENABLED",
    "TEST_DATABASE_NAME",
)


def load_settings(**env):
    """Import the real settings module in a fresh interpreter with exactly ``env`` set."""
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True)
    return proc


def test_embedded_default_is_sqlite_and_local_memory():
    proc = load_settings(DEBUG="1")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["engine"].endswith("sqlite3")
    assert cfg["name"] == str(ROOT / "db.sqlite3")
    assert cfg["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert cfg["cache_enabled"] is True


def test_database_url_selects_postgres_with_a_pool():
    proc = load_settings(DEBUG="1", DATABASE_URL="postgres://u:p@db.example:5433/app")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["engine"].endswith("postgresql")
    assert cfg["name"] == "app"
    assert cfg["options"]["pool"]["max_size"] == 10


def test_redis_url_selects_django_redis():
    proc = load_settings(DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/3")
    cfg = json.loads(proc.stdout)
    assert cfg["cache"] == "django_redis.cache.RedisCache"
    assert cfg["location"] == "redis://127.0.0.1:6379/3"


def test_secret_key_is_required_when_debug_is_off():
    proc = load_settings(DEBUG="0")
    assert proc.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in proc.stderr


def test_secret_key_and_hosts_from_the_environment():
    proc = load_settings(DEBUG="0", SECRET_KEY="x" * 50, ALLOWED_HOSTS="a.example, b.example", CACHE_ENABLED="0")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["debug"] is False
    assert cfg["hosts"] == ["a.example", "b.example"]
    assert cfg["cache_enabled"] is False


def test_a_malformed_boolean_is_a_clear_error():
    proc = load_settings(DEBUG="maybe")
    assert proc.returncode != 0
    assert "DEBUG must be one of" in proc.stderr


def test_unsupported_database_url_is_refused():
    proc = load_settings(DEBUG="1", DATABASE_URL="mysql://u@h/db")
    assert proc.returncode != 0
    assert "DATABASE_URL must be a postgres:// URL" in proc.stderr


REPLICA_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'aliases': list(settings.DATABASES), 'routers': settings.DATABASE_ROUTERS, "
    "'replicas': list(settings.CACHECORE_REPLICA_DATABASES), "
    "'replica': {k: settings.DATABASES['replica_2'][k] for k in ('ENGINE', 'HOST', 'PORT', 'NAME', 'TEST')}}))"
)


def test_replica_urls_add_one_alias_each_and_the_router():
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        DATABASE_URL="postgres://u@primary.example/app",
        DATABASE_REPLICA_URLS="postgres://u@r1.example/app, postgres://u@r2.example:5433/app",
    )
    proc = subprocess.run([sys.executable, "-c", REPLICA_PROBE], cwd=ROOT, env=base, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["aliases"] == ["default", "replica_1", "replica_2"]
    assert cfg["replicas"] == ["replica_1", "replica_2"]
    assert cfg["routers"] == ["cachecore.routing.ReplicaRouter"]
    assert cfg["replica"]["ENGINE"] == "django_prometheus.db.backends.postgresql"
    assert (cfg["replica"]["HOST"], cfg["replica"]["PORT"], cfg["replica"]["NAME"]) == ("r2.example", 5433, "app")
    assert cfg["replica"]["TEST"]["MIRROR"] == "default"


def test_a_bad_replica_url_names_the_variable():
    proc = load_settings(
        DEBUG="1", DATABASE_URL="postgres://u@h/app", DATABASE_REPLICA_URLS="postgres://u@r1/app,mysql://u@r2/app"
    )
    assert proc.returncode != 0
    assert "DATABASE_REPLICA_URLS entry 2 must be a postgres://" in proc.stderr


def test_replicas_need_a_postgres_primary():
    proc = load_settings(DEBUG="1", DATABASE_REPLICA_URLS="postgres://u@r1/app")
    assert proc.returncode != 0
    assert "DATABASE_REPLICA_URLS needs a postgres:// DATABASE_URL" in proc.stderr
