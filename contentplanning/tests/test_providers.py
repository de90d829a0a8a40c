"""The AI analysis providers: the local deterministic one and the HTTP one against a real server."""

import json

import pytest
from django.test import override_settings

from contentplanning import providers
from contentplanning.providers import (
    AnalysisUnavailable,
    HttpAnalysisProvider,
    LocalAnalysisProvider,
    derive_analysis,
    get_provider,
)
from contentplanning.tests.analysis_service import ANSWER, closed_port_url

CONTEXT = {
    "industry": "logistics",
    "audience": "operations managers",
    "goals": ["lead generation", "customer retention"],
    "website": "https://x.example.com",
    "pillars": ["cold chain", "sustainability"],
    "keywords": ["pallet tracker", "shipment tracking"],
    "channels": {
        "blog": {"impressions": 1000, "clicks": 50, "conversions": 5},
        "linkedin": {"impressions": 1000, "clicks": 150, "conversions": 9},
    },
}


class TestLocalProvider:
    def test_is_deterministic_and_derived_from_the_context(self):
        first, second = derive_analysis(CONTEXT), derive_analysis(json.loads(json.dumps(CONTEXT)))
        assert first == second
        # Existing pillars first, then the pillars the goals call for.
        assert first["recommended_pillars"] == ["cold chain", "sustainability", "case studies", "how-to guides"]
        assert first["recommended_topics"][0] == "Cold Chain: pallet tracker"
        assert first["best_channels"] == ["linkedin", "blog"]  # linkedin has the higher CTR
        assert "operations managers in logistics" in first["audience_insights"][0]

    def test_an_empty_context_still_gives_an_analysis(self):
        result = derive_analysis({})
        assert result["recommended_pillars"] == []
        assert result["best_channels"] == []
        assert result["audience_insights"]

    def test_simulated_latency_goes_through_the_injectable_sleep(self, monkeypatch):
        slept = []
        monkeypatch.setattr(LocalAnalysisProvider, "sleep", staticmethod(slept.append))
        LocalAnalysisProvider(latency=3).analyse(CONTEXT)
        LocalAnalysisProvider(latency=0).analyse(CONTEXT)
        assert slept == [3]


class TestProviderSelection:
    def test_local_by_default_with_the_configured_latency(self):
        with override_settings(AI_ANALYSIS_URL="", AI_ANALYSIS_LATENCY=2.5):
            provider = get_provider()
            assert isinstance(provider, LocalAnalysisProvider)
            assert provider.latency == 2.5
        providers.reset_provider()

    def test_http_when_a_url_is_set(self):
        with override_settings(AI_ANALYSIS_URL="http://analysis.example:8080/analyse", AI_ANALYSIS_TIMEOUT=1.5):
            provider = get_provider()
            assert isinstance(provider, HttpAnalysisProvider)
            assert (provider.url, provider.timeout) == ("http://analysis.example:8080/analyse", 1.5)
        assert isinstance(get_provider(), LocalAnalysisProvider)  # the override ended: settings re-read

    def test_a_url_without_http_scheme_is_refused(self):
        with pytest.raises(ValueError, match="AI_ANALYSIS_URL"):
            HttpAnalysisProvider(url="file:///etc/passwd", timeout=1)


class TestHttpProvider:
    def test_posts_the_context_and_returns_the_answer(self, analysis_service):
        result = HttpAnalysisProvider(url=analysis_service.url, timeout=2).analyse(CONTEXT)
        assert result == ANSWER
        assert analysis_service.requests == [CONTEXT]

    @pytest.mark.parametrize(
        ("mode", "reason"),
        [("error", "HTTP 503"), ("garbage", "invalid JSON"), ("incomplete", "lacks the lists")],
    )
    def test_a_bad_answer_is_unavailable(self, analysis_service, mode, reason):
        analysis_service.mode = mode
        with pytest.raises(AnalysisUnavailable, match=reason):
            HttpAnalysisProvider(url=analysis_service.url, timeout=2).analyse(CONTEXT)

    def test_a_slow_service_times_out(self, analysis_service):
        analysis_service.mode = "slow"
        with pytest.raises(AnalysisUnavailable, match="timed out after 0.2 s"):
            HttpAnalysisProvider(url=analysis_service.url, timeout=0.2).analyse(CONTEXT)

    def test_a_service_that_is_down_is_unavailable(self):
        with pytest.raises(AnalysisUnavailable, match="unreachable"):
            HttpAnalysisProvider(url=closed_port_url(), timeout=1).analyse(CONTEXT)
