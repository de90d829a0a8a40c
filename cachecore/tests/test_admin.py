"""Admin of the cache table: list, filters, search, read-only payload, actions, hit-rate header."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cachecore import generations, report
from cachecore.models import CacheEntry, CacheGeneration
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter, user_scope

CHANGELIST = "admin:cachecore_cacheentry_changelist"


def make_row(key_hash, *, namespace="adm", expired=False, **fields):
    now = timezone.now()
    return CacheEntry.objects.create(
        namespace=namespace,
        key_hash=key_hash,
        data_hash="d",
        payload=fields.pop("payload", {"v": {"b": 2, "a": [1, 2]}}),
        created_at=now - timedelta(hours=1),
        expires_at=now + (timedelta(hours=-1) if expired else timedelta(hours=1)),
        last_accessed=now,
        **fields,
    )


@pytest.mark.django_db
class TestCacheEntryAdmin:
    def test_list_shows_columns_and_hit_rate_header(self, admin_client, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        get_or_compute(ns.name, {}, Counter())
        get_or_compute(ns.name, {}, Counter())
        make_row("k1", user_id=7, strategy_id=3, access_count=12)
        response = admin_client.get(reverse(CHANGELIST))
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="cache-hit-rates"' in html
        # L1: one hit, one miss here, and whatever the admin request's own session and user
        # lookups (checked L1 copies) recorded before the page was drawn.
        l1 = report.stats()["tiers"]["l1"]
        assert l1["hits"] >= 1 and l1["misses"] >= 1
        assert f"{l1['hit_rate']}%" in html
        for column in ("Namespace", "For", "Created", "Expires", "Last access", "State"):
            assert column in html
        assert ">12<" in html
        assert "user 7, strategy 3" in html

    def test_validity_is_a_green_or_grey_state_not_a_red_cross(self, admin_client):
        make_row("fresh")
        make_row("old", expired=True)
        html = admin_client.get(reverse(CHANGELIST)).content.decode()
        assert html.count('class="cw-state cw-valid">valid<') == 1
        assert html.count('class="cw-state cw-expired">expired<') == 1
        assert "icon-no.svg" not in html and "icon-yes.svg" not in html
        assert "cachecore/admin.css" in html

    def test_expired_filter(self, admin_client):
        make_row("fresh")
        make_row("old", expired=True)
        shown = admin_client.get(reverse(CHANGELIST), {"expired": "yes"}).context["cl"].result_list
        assert [r.key_hash for r in shown] == ["old"]
        shown = admin_client.get(reverse(CHANGELIST), {"expired": "no"}).context["cl"].result_list
        assert [r.key_hash for r in shown] == ["fresh"]

    def test_namespace_filter(self, admin_client):
        make_row("a", namespace="one")
        make_row("b", namespace="two")
        shown = admin_client.get(reverse(CHANGELIST), {"namespace": "two"}).context["cl"].result_list
        assert [r.key_hash for r in shown] == ["b"]

    @pytest.mark.parametrize(("term", "expected"), [("7", ["mine"]), ("user:7", ["mine"]), ("bob", [])])
    def test_search_by_user(self, admin_client, term, expected):
        make_row("mine", user_id=7)
        make_row("theirs", user_id=8)
        response = admin_client.get(reverse(CHANGELIST), {"q": term})
        assert response.status_code == 200
        assert [r.key_hash for r in response.context["cl"].result_list] == expected

    def test_detail_is_read_only_with_pretty_payload(self, admin_client):
        row = make_row("k", payload={"v": {"b": 2, "a": "<script>"}})
        response = admin_client.get(reverse("admin:cachecore_cacheentry_change", args=[row.pk]))
        html = response.content.decode()
        assert response.status_code == 200
        assert "<pre>{\n  &quot;a&quot;: &quot;&lt;script&gt;&quot;,\n  &quot;b&quot;: 2\n}</pre>" in html
        assert '<details class="cw-value"><summary>Show the value (31 B, 2 keys)</summary>' in html  # collapsed
        assert 'name="namespace"' not in html  # no editable inputs
        assert admin_client.get(reverse("admin:cachecore_cacheentry_add")).status_code == 403

    def test_invalidate_selected_bumps_scope_and_deletes_rows(self, admin_client, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, persistent=True, scope=user_scope)
        get_or_compute(ns.name, {"user_id": 1}, Counter())
        get_or_compute(ns.name, {"user_id": 2}, Counter())
        before = generations.current_generations(ns.name, "user:2")
        row = CacheEntry.objects.get(namespace=ns.name, user_id=1)
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "invalidate_selected", "_selected_action": [row.pk]}, follow=True
        )
        assert "Invalidated 1 namespace/scope pair(s)" in response.content.decode()
        assert list(CacheEntry.objects.values_list("user_id", flat=True)) == [2]
        assert get_or_compute(ns.name, {"user_id": 1}, Counter())[1].tier == "miss"
        assert generations.current_generations(ns.name, "user:2") == before
        assert report.stats()["invalidations"]["by_source"] == {"admin": 1}

    def test_delete_expired_keeps_valid_rows(self, admin_client):
        keep = make_row("valid")
        make_row("old1", expired=True)
        make_row("old2", expired=True)
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "delete_expired", "_selected_action": [keep.pk]}, follow=True
        )
        assert "Deleted 2 expired cache entries." in response.content.decode()
        assert list(CacheEntry.objects.values_list("key_hash", flat=True)) == ["valid"]

    def test_staff_without_permission_cannot_see_it(self, client, django_user_model):
        user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
        client.force_login(user)
        assert client.get(reverse(CHANGELIST)).status_code == 403


@pytest.mark.django_db
class TestCacheGenerationAdmin:
    def test_lists_durable_generations_read_only(self, admin_client, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60, persistent=True, scope=user_scope)
        generations.bump_generation(ns.name, "user:4")
        token = CacheGeneration.objects.get(namespace=ns.name, scope="user:4").token
        response = admin_client.get(reverse("admin:cachecore_cachegeneration_changelist"))
        assert response.status_code == 200
        assert token in response.content.decode()
        assert admin_client.get(reverse("admin:cachecore_cachegeneration_add")).status_code == 403
        row = CacheGeneration.objects.get(namespace=ns.name, scope="user:4")
        delete = reverse("admin:cachecore_cachegeneration_delete", args=[row.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert CacheGeneration.objects.filter(pk=row.pk).exists()
