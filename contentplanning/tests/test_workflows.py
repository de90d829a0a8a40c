"""The five workflows share one cached computation: the first computes, the others hit."""

from datetime import date

import pytest
from django.urls import reverse

from contentplanning import workflows
from contentplanning.providers import AnalysisUnavailable
from contentplanning.services import comprehensive_user_data

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 1, 5)


def frontend_load(api, user):
    """The front-end data load: the GET endpoint, as the browser calls it."""
    api.force_authenticate(user)
    response = api.get(reverse("comprehensive-user-data"))
    assert response.status_code == 200, response.content
    return response.json()["data"], response.json()["cache_info"]


class TestOneCacheForFiveWorkflows:
    def test_first_call_point_computes_once_and_the_other_four_hit(self, alice, provider, api):
        draft, info = workflows.content_strategy_generate(user=alice)
        assert (info.tier, provider.calls) == ("miss", 1)

        _, info = workflows.calendar_generate(user=alice, start=MONDAY)
        assert info.is_cached
        _, info = workflows.calendar_wizard_step(user=alice, step="pillars")
        assert info.is_cached
        _, cache_info = frontend_load(api, alice)
        assert cache_info["is_cached"] is True
        assert cache_info["tier"] == "l1"
        _, info = workflows.twelve_step_framework(user=alice)
        assert info.is_cached
        assert provider.calls == 1

    def test_any_call_point_can_be_first(self, alice, provider, api):
        _, cache_info = frontend_load(api, alice)
        assert cache_info["tier"] == "miss"
        for step in workflows.WIZARD_STEPS:
            assert workflows.calendar_wizard_step(user=alice, step=step)[1].tier == "l1"
        assert workflows.content_strategy_generate(user=alice)[1].tier == "l1"
        assert provider.calls == 1


class TestWorkflowOutputs:
    def test_strategy_draft_uses_recommendations_and_gaps(self, alice, provider):
        draft, _ = workflows.content_strategy_generate(user=alice)
        assert draft["pillars"][:3] == ["cold chain", "sustainability", "case studies"]
        assert draft["focus_gaps"] == ["sustainability", "case studies", "shipment tracking"]
        assert draft["ai_analysis_status"] == "available"
        assert draft["based_on_strategy_id"] == alice.content_strategies.get().pk

    def test_calendar_slots_avoid_taken_days_and_use_the_best_channels(self, alice, provider):
        data, _ = comprehensive_user_data(user=alice)
        slots, _ = workflows.calendar_generate(user=alice, start=MONDAY, weeks=2)
        taken = {(e["date"], e["channel"]) for e in data["strategy_data"]["calendar"]["entries"]}
        assert slots
        assert all((s["date"], s["channel"]) not in taken for s in slots)
        assert {s["channel"] for s in slots} <= set(data["ai_analysis"]["best_channels"])
        assert {s["date"] for s in slots} <= {"2026-01-05", "2026-01-12"}

    def test_calendar_still_fills_from_gaps_without_ai(self, alice, provider):
        provider.failure = AnalysisUnavailable("down")
        slots, _ = workflows.calendar_generate(user=alice, start=MONDAY, weeks=1)
        assert slots
        assert {s["channel"] for s in slots} == set(workflows.DEFAULT_CHANNELS) - {"blog"}  # blog is taken that day
        assert slots[0]["title"] == "Sustainability: pallet tracker"

    def test_wizard_steps_and_an_unknown_step(self, alice, provider):
        step, _ = workflows.calendar_wizard_step(user=alice, step="schedule")
        assert step == {
            "step": "schedule",
            "index": 4,
            "of": 5,
            "data": {"first_date": "2026-01-05", "last_date": "2026-01-07", "entries": 3},
        }
        with pytest.raises(ValueError, match="step must be one of goals, pillars"):
            workflows.calendar_wizard_step(user=alice, step="launch")

    def test_framework_marks_the_steps_the_data_completes(self, alice, provider):
        framework, _ = workflows.twelve_step_framework(user=alice)
        assert len(framework["steps"]) == 12
        done = {s["title"] for s in framework["steps"] if s["done"]}
        assert "Define business goals" in done
        assert "Publish content" in done
        assert framework["next_step"]["title"] == "Close the pillar gaps"
        assert framework["completed"] == 10
