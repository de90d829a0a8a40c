"""Gap analysis: what the strategy targets versus what the calendar and performance cover."""


def gap_analysis(*, strategy: dict | None, entries: list[dict], channel_totals: list[dict]) -> dict:
    """Return covered and missing pillars and keywords, channel gaps and competitors."""
    titles = [entry["title"].lower() for entry in entries]
    pillars = strategy["pillars"] if strategy else []
    keywords = strategy["target_keywords"] if strategy else []
    planned = {entry["channel"] for entry in entries}
    performing = {row["channel"] for row in channel_totals if row["impressions"]}
    pillar_split = _coverage(pillars, titles)
    keyword_split = _coverage(keywords, titles)
    targets = len(pillars) + len(keywords)
    covered = len(pillar_split["covered"]) + len(keyword_split["covered"])
    return {
        "pillars": pillar_split,
        "keywords": keyword_split,
        "channels": {
            "planned_without_performance": sorted(planned - performing),
            "performing_without_plan": sorted(performing - planned),
        },
        "competitors": list(strategy["competitors"]) if strategy else [],
        "coverage": round(covered / targets, 3) if targets else 0.0,
    }


def _coverage(targets: list[str], titles: list[str]) -> dict:
    covered = [t for t in targets if any(t.lower() in title for title in titles)]
    return {"covered": covered, "missing": [t for t in targets if t not in covered]}
