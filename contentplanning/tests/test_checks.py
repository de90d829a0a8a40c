"""System checks of the content-planning settings."""

import pytest
from django.test import override_settings

from contentplanning.checks import check_settings


def ids(**overrides) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in check_settings()]


def test_the_defaults_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"AI_ANALYSIS_URL": "ftp://example.com/analyse"}, "contentplanning.E001"),
        ({"AI_ANALYSIS_TIMEOUT": 0}, "contentplanning.E002"),
        ({"AI_ANALYSIS_LATENCY": -1}, "contentplanning.E003"),
        ({"CONTENTPLANNING_DEGRADED_TTL": 0}, "contentplanning.E004"),
        ({"CONTENTPLANNING_PREWARM_WORKERS": 0}, "contentplanning.E005"),
    ],
)
def test_a_setting_that_cannot_work_is_an_error(overrides, expected):
    assert ids(**overrides) == [expected]


def test_an_https_url_is_fine():
    assert ids(AI_ANALYSIS_URL="https://ai.example.com/analyse") == []
