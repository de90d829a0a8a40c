"""System checks of the engine settings."""

from django.core.checks import run_checks
from django.test import override_settings

from cachecore.engine_checks import check_engine_settings


def ids():
    return [m.id for m in check_engine_settings()]


def test_default_settings_pass():
    assert ids() == []
    assert not [m for m in run_checks() if m.id.startswith("cachecore.E1")]


@override_settings(CACHECORE_CACHE_ALIAS="nope")
def test_unknown_alias():
    assert ids() == ["cachecore.E101"]


@override_settings(CACHECORE_L1_MAX_BYTES=-1, CACHECORE_LOCK_TIMEOUT=0)
def test_negative_and_zero_values():
    assert ids() == ["cachecore.E102", "cachecore.E103"]


@override_settings(CACHECORE_BREAKER_THRESHOLD=0)
def test_registered_with_djangos_checks():
    assert "cachecore.E103" in [m.id for m in run_checks()]
