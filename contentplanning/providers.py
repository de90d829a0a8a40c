"""AI analysis providers: a pluggable interface, a local deterministic one and an HTTP one.

A provider turns an analysis *context* (a JSON-able dict built from the user's onboarding,
strategy and performance data) into an analysis dict. Any failure is raised as
``AnalysisUnavailable``; the data service turns it into ``ai_analysis.status = "unavailable"``.
"""

import json
import time
import urllib.error
import urllib.request
from typing import Protocol

from contentplanning.conf import app_settings

# Goals map to pillars a strategist would suggest for them.
GOAL_PILLARS = {
    "brand awareness": "industry news",
    "lead generation": "case studies",
    "customer retention": "how-to guides",
    "thought leadership": "trends and research",
    "product launches": "product updates",
}
MAX_RESPONSE_BYTES = 1_000_000
RESULT_KEYS = ("audience_insights", "recommended_pillars", "recommended_topics")


class AnalysisUnavailable(Exception):
    """The provider could not produce an analysis (error, timeout, bad answer)."""


class AnalysisProvider(Protocol):
    name: str

    def analyse(self, context: dict) -> dict:
        """Return the analysis of ``context`` or raise AnalysisUnavailable."""


class LocalAnalysisProvider:
    """Derive insights, pillars and topics from the user's own data, deterministically."""

    name = "local"
    sleep = staticmethod(time.sleep)  # replaced by tests; the latency simulates a remote model

    def __init__(self, *, latency: float = 0.0):
        self.latency = latency

    def analyse(self, context: dict) -> dict:
        """Return the analysis of ``context`` after the configured latency."""
        if self.latency > 0:
            self.sleep(self.latency)
        return derive_analysis(context)


class HttpAnalysisProvider:
    """POST the context as JSON to an analysis service and return its JSON answer."""

    name = "http"

    def __init__(self, *, url: str, timeout: float):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"AI_ANALYSIS_URL must be an http(s) URL (got {url!r}).")
        self.url = url
        self.timeout = timeout

    def analyse(self, context: dict) -> dict:
        """Return the service's analysis of ``context``; raise AnalysisUnavailable on any failure."""
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url,
            data=json.dumps(context).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise AnalysisUnavailable(f"analysis service answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
                raise AnalysisUnavailable(f"analysis service timed out after {self.timeout} s") from exc
            raise AnalysisUnavailable(f"analysis service unreachable: {reason}") from exc
        if len(raw) > MAX_RESPONSE_BYTES:
            raise AnalysisUnavailable("analysis service answer is too large")
        return parse_answer(raw)


def parse_answer(raw: bytes) -> dict:
    """Return a service answer as an analysis dict, or raise AnalysisUnavailable."""
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise AnalysisUnavailable("analysis service answered invalid JSON") from exc
    if not isinstance(answer, dict) or any(not isinstance(answer.get(key), list) for key in RESULT_KEYS):
        raise AnalysisUnavailable(f"analysis service answer lacks the lists {', '.join(RESULT_KEYS)}")
    return answer


def derive_analysis(context: dict) -> dict:
    """Return audience insights, recommended pillars and topics derived from ``context``."""
    industry = context.get("industry") or "your industry"
    audience = context.get("audience") or "your audience"
    channels = context.get("channels") or {}
    ranked = sorted(channels.items(), key=lambda item: (-_ctr(item[1]), item[0]))
    insights = [f"{audience} in {industry} are the primary readers."]
    if ranked:
        best, totals = ranked[0]
        insights.append(f"{best} converts attention best (CTR {_ctr(totals):.1%}).")
        if len(ranked) > 1:
            insights.append(f"{ranked[-1][0]} underperforms; repurpose rather than create for it.")
    pillars = list(dict.fromkeys([*context.get("pillars", []), *_goal_pillars(context.get("goals", []))]))[:5]
    keywords = context.get("keywords", []) or [industry]
    topics = [f"{pillar.title()}: {keyword}" for pillar in pillars[:3] for keyword in keywords[:3]]
    return {
        "audience_insights": insights,
        "recommended_pillars": pillars,
        "recommended_topics": topics,
        "best_channels": [name for name, _ in ranked[:2]],
    }


def _goal_pillars(goals: list) -> list[str]:
    return [GOAL_PILLARS[goal] for goal in goals if goal in GOAL_PILLARS]


def _ctr(totals: dict) -> float:
    impressions = totals.get("impressions") or 0
    return (totals.get("clicks") or 0) / impressions if impressions else 0.0


_provider: AnalysisProvider | None = None


def get_provider() -> AnalysisProvider:
    """Return the configured provider: HTTP when AI_ANALYSIS_URL is set, else local."""
    global _provider
    if _provider is None:
        conf = app_settings()
        if conf.ai_analysis_url:
            _provider = HttpAnalysisProvider(url=conf.ai_analysis_url, timeout=conf.ai_analysis_timeout)
        else:
            _provider = LocalAnalysisProvider(latency=conf.ai_analysis_latency)
    return _provider


def reset_provider() -> None:
    """Forget the configured provider so the next call reads the settings again."""
    global _provider
    _provider = None


def reset_on_change(*, setting, **kwargs) -> None:
    """Forget the provider when a test overrides an AI_ANALYSIS_* setting (setting_changed receiver)."""
    if setting.startswith("AI_ANALYSIS_"):
        reset_provider()
