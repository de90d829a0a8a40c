"""The five workflows that need a user's comprehensive data, all through one cached service.

Each is read-only: it proposes (a strategy draft, calendar slots, wizard step data, the
12-step plan) and never writes, so calling one never invalidates the data another just cached.
"""

from datetime import date, timedelta

from contentplanning.services import comprehensive_user_data

WIZARD_STEPS = ("goals", "pillars", "channels", "schedule", "review")
DEFAULT_CHANNELS = ("blog", "linkedin", "newsletter")


def content_strategy_generate(*, user, strategy=None) -> tuple[dict, object]:
    """Return a strategy draft built from the user's data and AI recommendations."""
    data, info = comprehensive_user_data(user=user, strategy=strategy)
    ai = data["ai_analysis"]
    current = data["strategy_data"]["strategy"] or {}
    pillars = ai.get("recommended_pillars") or data["strategy_data"]["pillars"]
    draft = {
        "name": f"{data['onboarding']['industry'] or 'Content'} strategy".strip().capitalize(),
        "based_on_strategy_id": current.get("id"),
        "pillars": pillars,
        "target_keywords": current.get("target_keywords", []),
        "focus_gaps": data["gap_analysis"]["pillars"]["missing"] + data["gap_analysis"]["keywords"]["missing"],
        "audience_insights": ai.get("audience_insights", []),
        "ai_analysis_status": ai["status"],
    }
    return draft, info


def calendar_generate(*, user, strategy=None, start: date, weeks: int = 4) -> tuple[list[dict], object]:
    """Return proposed calendar slots for ``weeks`` weeks, covering the gaps first."""
    data, info = comprehensive_user_data(user=user, strategy=strategy)
    # Without AI analysis (provider down) the missing pillars and the keywords still give topics.
    topics = data["ai_analysis"].get("recommended_topics") or _fallback_topics(data)
    channels = data["ai_analysis"].get("best_channels") or list(DEFAULT_CHANNELS)
    taken = {(entry["date"], entry["channel"]) for entry in data["strategy_data"]["calendar"]["entries"]}
    slots = []
    for week in range(weeks):
        day = start + timedelta(weeks=week)
        for channel in channels:
            if topics and (day.isoformat(), channel) not in taken:
                slots.append({"date": day.isoformat(), "channel": channel, "title": topics[len(slots) % len(topics)]})
    return slots, info


def _fallback_topics(data: dict) -> list[str]:
    strategy = data["strategy_data"]["strategy"]
    if not strategy:
        return []
    pillars = data["gap_analysis"]["pillars"]["missing"] or strategy["pillars"]
    return [f"{pillar.title()}: {keyword}" for pillar in pillars for keyword in strategy["target_keywords"][:2]]


def calendar_wizard_step(*, user, step: str, strategy=None) -> tuple[dict, object]:
    """Return the data one step of the calendar wizard shows."""
    if step not in WIZARD_STEPS:
        raise ValueError(f"step must be one of {', '.join(WIZARD_STEPS)} (got {step!r})")
    data, info = comprehensive_user_data(user=user, strategy=strategy)
    strategy_data = data["strategy_data"]
    content = {
        "goals": lambda: {"goals": data["onboarding"]["goals"], "industry": data["onboarding"]["industry"]},
        "pillars": lambda: {
            "current": strategy_data["pillars"],
            "recommended": data["ai_analysis"].get("recommended_pillars", []),
            "missing": data["gap_analysis"]["pillars"]["missing"],
        },
        "channels": lambda: {
            "planned": strategy_data["calendar"]["by_channel"],
            "performance": data["performance_data"]["by_channel"],
        },
        "schedule": lambda: {
            "first_date": strategy_data["calendar"]["first_date"],
            "last_date": strategy_data["calendar"]["last_date"],
            "entries": strategy_data["calendar"]["count"],
        },
        "review": lambda: {"coverage": data["gap_analysis"]["coverage"], "ai_analysis": data["ai_analysis"]["status"]},
    }[step]()
    index = WIZARD_STEPS.index(step)
    return {"step": step, "index": index + 1, "of": len(WIZARD_STEPS), "data": content}, info


FRAMEWORK_STEPS = (
    ("Define business goals", lambda d: bool(d["onboarding"]["goals"])),
    ("Describe the audience", lambda d: bool(d["onboarding"]["audience"])),
    ("Audit the website", lambda d: bool(d["onboarding"]["website"])),
    ("Research competitors", lambda d: bool(d["gap_analysis"]["competitors"])),
    ("Choose content pillars", lambda d: bool(d["strategy_data"]["pillars"])),
    ("Pick target keywords", lambda d: bool((d["strategy_data"]["strategy"] or {}).get("target_keywords"))),
    ("Analyse the audience with AI", lambda d: d["ai_analysis"]["status"] == "available"),
    ("Close the pillar gaps", lambda d: not d["gap_analysis"]["pillars"]["missing"]),
    ("Close the keyword gaps", lambda d: not d["gap_analysis"]["keywords"]["missing"]),
    ("Plan the calendar", lambda d: d["strategy_data"]["calendar"]["count"] > 0),
    ("Publish content", lambda d: d["strategy_data"]["calendar"]["by_status"].get("published", 0) > 0),
    ("Measure performance", lambda d: d["performance_data"]["totals"]["impressions"] > 0),
)


def twelve_step_framework(*, user, strategy=None) -> tuple[dict, object]:
    """Return the 12-step content framework with each step's completion from the user's data."""
    data, info = comprehensive_user_data(user=user, strategy=strategy)
    steps = [
        {"number": number, "title": title, "done": bool(done(data))}
        for number, (title, done) in enumerate(FRAMEWORK_STEPS, 1)
    ]
    next_step = next((step for step in steps if not step["done"]), None)
    return {"steps": steps, "completed": sum(s["done"] for s in steps), "next_step": next_step}, info
