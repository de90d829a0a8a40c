"""The monitoring page's history: per-bucket samples of every process, summed into chart series."""

import pytest

from cachecore import stats as cache_stats
from monitoring import history, shared_stats
from monitoring.models import MetricSample
from monitoring.performance import SQL
from monitoring.sketch import QuantileSketch
from tests.factories import make_user

URL = "/monitoring/history/"


def sketch_of(*values):
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    return sketch


class TestSeries:
    def test_two_processes_in_one_bucket_are_summed_and_empty_buckets_are_gaps(self):
        hit, miss = ("req", "ns", "l1", "hit"), ("req", "ns", "l1", "miss")
        samples = [
            (
                100,
                {hit: 3, ("req", "ns", "miss", "miss"): 1, miss: 1, ("inv", "ns", "signal"): 5},
                sketch_of(1, 2).to_dict(),
            ),
            (100, {hit: 5}, sketch_of(3, 40).to_dict()),
        ]
        data = history.series(samples, start=90, end=110, resolution=10)

        assert data["times"] == [90, 100, 110]
        assert data["hitRateByTier"]["l1"] == [None, 88.9, None]  # 8 hits, 1 miss
        assert data["hitRateByNamespace"]["ns"] == [None, 88.9, None]
        assert data["queries"] == [0, 4, 0]
        assert data["queryMs"]["p99"][1] == pytest.approx(40, rel=0.02)
        assert data["queryMs"]["p50"][0] is None
        assert data["invalidationsPerSecond"] == [0, 0.5, 0]
        assert data["outboxAgeSeconds"] == [None, None, None]

    def test_the_outbox_age_is_the_largest_any_process_saw(self):
        samples = [(100, {}, {}, 2.5), (100, {}, {}, 7.0), (110, {}, {}, 0.0)]
        data = history.series(samples, start=100, end=120, resolution=10)
        assert data["outboxAgeSeconds"] == [7.0, 0.0, None]

    def test_sketch_delta_holds_only_the_new_samples(self):
        before = sketch_of(1, 1)
        after = sketch_of(1, 1, 50, 60)
        delta = history.sketch_delta(after, before)
        assert delta.count == 2
        assert delta.quantile(0.5) == pytest.approx(50, rel=0.02)


@pytest.mark.django_db
class TestStore:
    def test_publishes_in_one_bucket_rewrite_its_deltas_and_a_new_bucket_starts_from_them(
        self, settings, monkeypatch, fresh_tracker
    ):
        now = [1_000_005.0]
        monkeypatch.setattr(shared_stats.Clock, "now", staticmethod(lambda: now[0]))
        cache_stats.record_request("h.ns", "l1", "hit")
        fresh_tracker.record("SELECT 1", 5.0, SQL)
        shared_stats.publish()
        cache_stats.record_request("h.ns", "l1", "hit")
        shared_stats.publish()  # same bucket: rewritten with both hits
        now[0] += 10
        cache_stats.record_request("h.ns", "l1", "miss")
        shared_stats.publish()

        data = shared_stats.history_series()
        i = data["times"].index(1_000_000)
        assert data["hitRateByTier"]["l1"][i : i + 2] == [100.0, 0.0]
        assert data["queries"][i] >= 1  # the SELECT 1, plus the statements publish() itself ran
        assert MetricSample.objects.count() == 2

    def test_samples_older_than_the_window_are_deleted(self, settings, monkeypatch):
        settings.MONITORING_HISTORY_WINDOW = 60
        MetricSample.objects.create(bucket=10, process="old", cache=[], sql={})
        shared_stats.publish()
        assert not MetricSample.objects.filter(process="old").exists()


@pytest.mark.django_db
class TestEndpoint:
    def test_staff_get_the_series(self, client):
        client.force_login(make_user("ops", staff=True))
        body = client.get(URL).json()
        assert len(body["times"]) == 360 and body["resolution"] == 10
        assert set(body) >= {
            "hitRateByTier",
            "hitRateByNamespace",
            "queryMs",
            "invalidationsPerSecond",
            "outboxAgeSeconds",
        }

    def test_others_are_sent_to_the_login(self, client):
        client.force_login(make_user("plain"))
        assert client.get(URL).status_code == 302

    def test_an_unknown_parameter_is_a_400_naming_it(self, client):
        client.force_login(make_user("ops", staff=True))
        response = client.get(URL, {"window": "5"})
        assert response.status_code == 400 and response.json()["detail"].startswith("window:")
