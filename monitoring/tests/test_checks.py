"""System checks of the monitoring settings."""

from monitoring.checks import check_monitoring_settings


def ids():
    return [problem.id for problem in check_monitoring_settings()]


def test_defaults_pass(settings):
    settings.MONITORING_TOKEN = ""
    assert ids() == []


def test_rating_bounds_out_of_order(settings):
    settings.MONITORING_SLOW_MS = 600.0
    assert "monitoring.E001" in ids()


def test_bad_allowed_ip(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "not-an-ip"]
    assert ids() == ["monitoring.E002"]


def test_window_sizes_must_be_positive(settings):
    settings.MONITORING_RECENT_WINDOW = 0
    assert "monitoring.E003" in ids()


def test_multiproc_dir_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert "monitoring.E004" in ids()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert "monitoring.E004" not in ids()


def test_short_token_warns(settings):
    settings.MONITORING_TOKEN = "short"
    assert ids() == ["monitoring.W001"]
