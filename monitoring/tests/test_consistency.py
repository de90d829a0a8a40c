"""The sampling verifier as operators see it: Prometheus counters, /api/health, /monitoring/."""

import random
import re

import pytest
from prometheus_client import REGISTRY

from cachecore.api import Namespace, get_or_compute, register_namespace
from cachecore.namespaces import unregister_namespace
from cachecore.verifier import allowed_staleness, verifier
from tests.factories import make_user

NS = "h11.verified"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def one_inconsistent_read():
    """Serve a value whose source changed and was never invalidated, past the allowed staleness."""
    verifier.reset()
    verifier.start_worker = False
    verifier.rng = random.Random(1)
    verifier.clock = clock = FakeClock()
    ns = register_namespace(Namespace(name=NS, params=("x",), l1_ttl=600, debounce=0, max_wait=1, verify_rate=1))
    source = {"v": 1}
    get_or_compute(NS, {"x": 1}, lambda: dict(source))
    source["v"] = 2
    get_or_compute(NS, {"x": 1}, lambda: dict(source))
    verifier.drain()
    clock.now += allowed_staleness(ns) + 1
    verifier.drain()
    yield ns
    verifier.reset()
    del verifier.start_worker, verifier.rng, verifier.clock
    unregister_namespace(NS)


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_the_two_counters_are_exported(one_inconsistent_read):
    assert sample("cachecore_verified_reads_total", namespace=NS) >= 1
    assert sample("cachecore_inconsistent_reads_total", namespace=NS) >= 1


@pytest.mark.django_db
def test_staff_health_has_the_consistency_section(client, one_inconsistent_read):
    client.force_login(make_user("ops", staff=True))
    body = client.get("/api/health").json()
    section = body["consistency"]
    assert section["available"] is True
    assert set(section["queue"]) == {"length", "capacity"}
    row = section["namespaces"][NS]
    assert (row["verified"], row["inconsistent"], row["rate"], row["sampleRate"]) == (1, 1, 1.0, 1)
    assert row["allowedStaleness"] == 4.5  # debounce 0 + max wait 1 + relay poll 1 + lease 2 + coherence check 0.5
    client.logout()
    assert "consistency" not in client.get("/api/health").json()  # not in the public view


@pytest.mark.django_db
def test_the_monitoring_page_shows_the_counts(client, one_inconsistent_read):
    client.force_login(make_user("ops", staff=True))
    html = client.get("/monitoring/").content.decode()
    assert 'id="consistency-namespaces"' in html
    assert re.search(
        rf'<tr class="alert"><td class="name"><code>{re.escape(NS)}</code></td><td class="num">1</td>'
        r'<td class="num">1</td>\s*<td class="num">1</td>',
        html,
    )


@pytest.mark.browser
def test_the_page_refreshes_the_consistency_table(page, login, screenshot, settings, one_inconsistent_read):
    settings.MONITORING_PAGE_REFRESH_SECONDS = 1
    login(make_user("ops", staff=True))
    page.goto("/monitoring/")
    page.wait_for_function("Number(document.getElementById('monitoring').dataset.refreshed || 0) >= 1")
    row = page.locator("#consistency-namespaces tbody tr", has_text=NS)
    assert row.get_attribute("class") == "alert"
    assert row.locator("td").all_inner_texts() == [NS, "1", "1", "1", "1", "0", "4.5"]
    assert re.fullmatch(r"verifier queue \d+ of \d+", page.locator("#consistency-queue").inner_text())
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(f"consistency-{width}")
