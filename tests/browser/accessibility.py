"""Accessibility checks with axe-core (a pinned copy, injected from tests/browser/vendor/)."""

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
BLOCKING = {"serious", "critical"}


def axe_violations(page, *, exclude: list[str] | None = None) -> list[dict]:
    """Run axe-core on ``page`` and return its serious and critical violations (id, impact, nodes)."""
    page.add_script_tag(path=str(AXE))
    context = {"exclude": [[selector] for selector in exclude]} if exclude else "document"
    results = page.evaluate(
        "async (context) => await axe.run(context === 'document' ? document : context, {resultTypes: ['violations']})",
        context,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5], "help": v["help"]}
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]
