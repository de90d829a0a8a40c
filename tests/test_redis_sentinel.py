"""Redis Sentinel configuration: REDIS_SENTINELS, REDIS_SENTINEL_SERVICE and the REDIS_URL naming the service."""

import json
import os
import subprocess
import sys

import pytest

from config.env import SettingsError
from config.redis_sentinel import parse_sentinels, sentinel_config
from tests.test_settings import CLEARED, ROOT, load_settings

PROBE = "import json, django; from django.conf import settings; django.setup(); print(json.dumps(settings.CACHES))"

SENTINEL_PROBE_ENV = {"DEBUG": "1", "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_SERVICE": "cw"}


class TestParseSentinels:
    def test_a_list_of_host_port_pairs(self):
        assert parse_sentinels("10.0.0.1:26379, sentinel-b:26380,[::1]:26381") == [
            ("10.0.0.1", 26379),
            ("sentinel-b", 26380),
            ("::1", 26381),
        ]

    def test_empty_means_no_sentinel(self):
        assert parse_sentinels("") == [] and parse_sentinels(" , ") == []

    @pytest.mark.parametrize("raw", ["10.0.0.1", "10.0.0.1:", ":26379", "host:port", "host:0", "host:70000", "a:1,b"])
    def test_malformed_entries_name_the_variable(self, raw):
        with pytest.raises(SettingsError, match="REDIS_SENTINELS must be host:port"):
            parse_sentinels(raw)


class TestSentinelConfig:
    def test_unset_is_a_direct_redis(self):
        assert sentinel_config("redis://127.0.0.1:6379/0", "", "") == ([], "")

    def test_sentinels_and_service(self):
        assert sentinel_config("redis://:secret@cw/2", "h:26379", "cw") == ([("h", 26379)], "cw")

    @pytest.mark.parametrize(
        ("url", "sentinels", "service", "named"),
        [
            ("redis://cw/0", "h:26379", "", "REDIS_SENTINEL_SERVICE"),
            ("redis://cw/0", "", "cw", "REDIS_SENTINELS is not"),
            ("", "h:26379", "cw", "REDIS_URL is not"),
            ("redis://127.0.0.1:6379/0", "h:26379", "cw", "REDIS_URL must name the Sentinel service"),
            ("redis://cw:6379/0", "h:26379", "cw", "REDIS_URL must name the Sentinel service"),
            ("redis://Cw/0", "h:26379", "Cw", "REDIS_SENTINEL_SERVICE must be lower case"),
        ],
    )
    def test_incomplete_or_inconsistent_configuration_names_the_variable(self, url, sentinels, service, named):
        with pytest.raises(SettingsError, match=named):
            sentinel_config(url, sentinels, service)


def test_settings_use_django_redis_sentinel_support_for_l2_and_cachalot():
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL="redis://:pw@cw/3", **SENTINEL_PROBE_ENV)
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    caches = json.loads(probe.stdout)
    for alias in ("default", "cachalot"):
        assert caches[alias]["LOCATION"] == "redis://:pw@cw/3"
        options = caches[alias]["OPTIONS"]
        assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
        assert options["SENTINELS"] == [["10.0.0.1", 26379], ["10.0.0.2", 26379]]
        assert options["SENTINEL_KWARGS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def test_settings_refuse_sentinels_without_a_service():
    probe = load_settings(DEBUG="1", REDIS_URL="redis://cw/0", REDIS_SENTINELS="10.0.0.1:26379")
    assert probe.returncode != 0
    assert "REDIS_SENTINEL_SERVICE" in probe.stderr
