"""monitoring/alerts.yml passes promtool (syntax and unit tests); the Grafana dashboard is coherent."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.tests.helpers import need_binary
from monitoring.tests.test_metrics import PROJECT_METRICS

MONITORING = Path(__file__).resolve().parents[1]
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "alerts.test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
REQUIRED_ALERTS = {
    "DashboardLoadSlow",
    "DatabaseQuerySlow",
    "ReferenceCacheHitRateLow",
    "DynamicCacheHitRateLow",
    "CacheInvalidationFailed",
    "SyncSlow",
    "RedisTierErrorsRising",
    "ProcessCpuHigh",
    "ProcessMemoryHigh",
    "InvalidationOutboxBacklog",
}


def promtool(*args):
    binary = need_binary("promtool")
    return subprocess.run([binary, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60, check=False)


def rules():
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promtool_check_rules_passes():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass():
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", ALERT_TESTS.read_text()))
    assert tested == REQUIRED_ALERTS


def test_every_required_alert_is_defined_with_a_severity():
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(alerts) == REQUIRED_ALERTS
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}


@pytest.mark.parametrize(
    ("alert", "threshold"),
    [
        ("DashboardLoadSlow", "> 2"),
        ("DatabaseQuerySlow", "> 1"),
        ("ReferenceCacheHitRateLow", "< 90"),
        ("DynamicCacheHitRateLow", "< 70"),
        ("CacheInvalidationFailed", "> 0"),
        ("SyncSlow", 'le="30.0"'),
        ("ProcessCpuHigh", "* 100 > 80"),
        ("ProcessMemoryHigh", "/ process_memory_limit_bytes > 85"),
    ],
)
def test_thresholds_of_the_issue(alert, threshold):
    (rule,) = [r for r in rules() if r.get("alert") == alert]
    assert threshold in rule["expr"]


PROMQL_WORDS = {
    "histogram_quantile",
    "sum",
    "by",
    "rate",
    "increase",
    "topk",
    "max",
    "and",
    "or",
    "round",
    "le",
}


def dashboard_exprs():
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def series_names(expr):
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    return {t for t in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if t not in PROMQL_WORDS}


def test_dashboard_queries_only_known_series_and_shows_every_project_metric():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known_prefixes = tuple(PROJECT_METRICS) + ("django_",)
    used = set()
    for expr in dashboard_exprs():
        for name in series_names(expr):
            assert name in recorded or name.startswith(known_prefixes), (name, expr)
            used.add(name)
    for metric in PROJECT_METRICS:
        assert any(name.startswith(metric) for name in used), metric


def test_dashboard_is_importable_json_with_a_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "cachewarden-overview"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
