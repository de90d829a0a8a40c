"""Shape the parts of the comprehensive user data from the rows the selectors read (pure functions)."""

from contentplanning.selectors import as_iso

METRICS = ("impressions", "clicks", "conversions")


def select_strategy(strategies: list[dict], strategy_id: int | None) -> dict | None:
    """Return the asked-for strategy, or the most recently updated one when none is asked for."""
    if strategy_id is None:
        return strategies[0] if strategies else None
    return next((s for s in strategies if s["id"] == strategy_id), None)


def onboarding(profile: dict | None) -> dict:
    """Return the onboarding part (``completed: false`` and empty values without a profile)."""
    if profile is None:
        return {"completed": False, "website": "", "industry": "", "audience": "", "goals": [], "updated_at": None}
    return {"completed": True, **profile, "updated_at": as_iso(profile["updated_at"])}


def analysis_context(onboarding: dict | None, strategy: dict | None, by_channel: list[dict]) -> dict:
    """Return the JSON context the AI provider analyses."""
    onboarding = onboarding or {}
    return {
        "industry": onboarding.get("industry", ""),
        "audience": onboarding.get("audience", ""),
        "goals": list(onboarding.get("goals") or []),
        "website": onboarding.get("website", ""),
        "pillars": list(strategy["pillars"]) if strategy else [],
        "keywords": list(strategy["target_keywords"]) if strategy else [],
        "channels": {row["channel"]: _totals(row) for row in by_channel},
    }


def strategy_data(strategies: list[dict], strategy: dict | None, entries: list[dict]) -> dict:
    """Return the strategy part: the selected strategy, all strategies and the calendar."""
    by_channel, by_status = {}, {}
    for entry in entries:
        by_channel[entry["channel"]] = by_channel.get(entry["channel"], 0) + 1
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + 1
    return {
        "strategy": _strategy(strategy) if strategy else None,
        "strategies": [{"id": s["id"], "name": s["name"], "updated_at": as_iso(s["updated_at"])} for s in strategies],
        "pillars": list(strategy["pillars"]) if strategy else [],
        "calendar": {
            "entries": [{**entry, "date": entry["date"].isoformat()} for entry in entries],
            "count": len(entries),
            "by_channel": dict(sorted(by_channel.items())),
            "by_status": dict(sorted(by_status.items())),
            "first_date": entries[0]["date"].isoformat() if entries else None,
            "last_date": entries[-1]["date"].isoformat() if entries else None,
        },
    }


def _strategy(strategy: dict) -> dict:
    return {**strategy, "updated_at": strategy["updated_at"].isoformat()}


def performance_data(by_channel: list[dict], by_period: list[dict], period: str, strategy_id: int | None) -> dict:
    """Return the performance part: totals and aggregates per channel and per period."""
    totals = _totals({key: sum(row[key] or 0 for row in by_channel) for key in METRICS})
    return {
        "period": period,
        "strategy_id": strategy_id,
        "totals": totals,
        "by_channel": [{"channel": row["channel"], "rows": row["rows"], **_totals(row)} for row in by_channel],
        "by_period": [
            {"period_start": as_iso(_as_date(row["period_start"])), "rows": row["rows"], **_totals(row)}
            for row in by_period
        ],
    }


def _totals(row: dict) -> dict:
    impressions, clicks, conversions = (row.get(k) or 0 for k in METRICS)
    return {
        "impressions": impressions,
        "clicks": clicks,
        "conversions": conversions,
        "ctr": round(clicks / impressions, 4) if impressions else 0.0,
        "conversion_rate": round(conversions / clicks, 4) if clicks else 0.0,
    }


def _as_date(value):
    # TruncMonth over a DateField yields a date; some backends hand back a datetime.
    return value.date() if hasattr(value, "date") and callable(value.date) else value
