"""No cross-tenant leakage, tried at random (hypothesis).

Each example builds three clients and five users (four with random memberships, one staff), then
runs a random sequence of steps: requests over every tenant-scoped endpoint with random filters,
pages and ``force_refresh`` (as a random user, ids of other tenants included), interleaved with
membership changes, writes (a brand moving to another client, new trackers, status changes),
cache invalidations and cold caches (all tiers, or only this process's L1). After every response
it checks, against the database at that moment, that every id in the body is in the caller's
scope, and that scope counts are the caller's own.

Invalidations run after a real commit with no debounce and are flushed after each write: the
check is about which scope an answer is served to, not about the debounce window (see
docs/security.md). ``TENANT_EXAMPLES`` (environment, default 40) sets the number of sequences.
"""

import json
import os

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from cachecore import testing
from cachecore.api import flush_pending, invalidate_all
from contentplanning.tests.factories import make_content_user
from tests.factories import make_dataset, make_user
from trackers.models import Brand, Client, ClientMembership, ProductionRun, Tracker, TrackerStatus

pytestmark = pytest.mark.django_db(transaction=True)  # invalidations run at a real commit

EXAMPLES = int(os.environ.get("TENANT_EXAMPLES", "40"))
USERS = 5  # users[4] is staff
CLIENTS = 3
STATUSES = list(TrackerStatus.values)
RUN = {"sequences": 0, "steps": 0, "responses": 0, "revalidations": 0}  # reported by the closing note's command

ids = st.integers(min_value=1, max_value=40)
user_index = st.integers(min_value=0, max_value=USERS - 1)
client_index = st.integers(min_value=0, max_value=CLIENTS - 1)
id_list = st.lists(ids, max_size=3).map(lambda xs: ",".join(map(str, xs)))

TRACKER_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "brand_ids": id_list,
        "production_run_ids": id_list,
        "status": st.sampled_from(STATUSES),
        "search": st.sampled_from(["", "T-", "tracker 1", "zzz"]),
        "include_latest_location": st.sampled_from(["true", "false"]),
        "lazy_load": st.sampled_from(["true", "false"]),
        "page": st.integers(min_value=1, max_value=4).map(str),
        "size": st.integers(min_value=1, max_value=20).map(str),
    },
)
REQUESTS = st.one_of(
    st.tuples(st.just("clients"), st.just({})),
    st.tuples(st.just("brands"), st.just({})),
    st.tuples(st.just("production-runs"), st.fixed_dictionaries({}, optional={"brand_id": ids.map(str)})),
    st.tuples(st.just("trackers"), TRACKER_PARAMS),
    st.tuples(st.just("tracker-stats"), st.just({})),
    st.tuples(st.just("tracker-detail"), st.fixed_dictionaries({"id": ids})),
    st.tuples(st.just("me-scope"), st.just({})),
    st.tuples(
        st.just("user-data"),
        st.fixed_dictionaries({"user": user_index}, optional={"force_refresh": st.sampled_from(["true", "false"])}),
    ),
)
WRITES = st.one_of(
    st.tuples(st.just("join"), user_index, client_index, st.sampled_from(ClientMembership.Role.values)),
    st.tuples(st.just("leave"), user_index, client_index),
    st.tuples(st.just("move_brand"), st.integers(min_value=0, max_value=5), client_index),
    st.tuples(st.just("new_tracker"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("set_status"), ids, st.sampled_from(STATUSES)),
    st.tuples(st.just("invalidate")),
    st.tuples(st.just("cold"), st.booleans()),
)
REQUEST = st.tuples(st.just("request"), user_index, REQUESTS)
STEPS = st.booleans().flatmap(lambda request: REQUEST if request else WRITES)  # half the steps are requests
URLS = {
    "clients": "/api/clients/",
    "brands": "/api/brands/",
    "production-runs": "/api/production-runs/",
    "trackers": "/api/trackers/",
    "tracker-stats": "/api/trackers/stats/",
    "me-scope": "/api/me/scope/",
    "tracker-detail": "/api/trackers/{id}/",
    "user-data": "/api/content-planning/calendar-generation/comprehensive-user-data/",
}


class Tenants:
    """The example's population and the checks of what each answer may contain."""

    def __init__(self):
        ds = make_dataset(clients=CLIENTS, brands_per_client=2, runs_per_brand=1, trackers_per_run=2)
        self.clients = ds.clients
        self.users = [make_content_user(f"tenant-user-{n}") for n in range(USERS - 1)]
        self.users.append(make_user("tenant-staff", staff=True))
        self.serial = 0
        # The last ETag any user was given per (endpoint, parameters): every list request
        # revalidates with it, so a 304 is tried across users, scopes, writes and cold caches.
        self.etags: dict = {}
        flush_pending()

    def scope(self, user) -> set[int] | None:
        """Return the client ids ``user`` may see now (None: all)."""
        if user.is_staff:
            return None
        return set(ClientMembership.objects.filter(user=user).values_list("client_id", flat=True))

    def run(self, step) -> None:
        getattr(self, "step_" + step[0])(*step[1:])
        RUN["steps"] += 1

    # --- writes and cache events --------------------------------------------------------------
    def step_join(self, u, c, role):
        ClientMembership.objects.get_or_create(user=self.users[u], client=self.clients[c], defaults={"role": role})
        flush_pending()

    def step_leave(self, u, c):
        for membership in ClientMembership.objects.filter(user=self.users[u], client=self.clients[c]):
            membership.delete()  # one by one: the model's signals fire
        flush_pending()

    def step_move_brand(self, b, c):
        brand = Brand.objects.order_by("id")[b]
        brand.client = self.clients[c]
        brand.save()
        flush_pending()

    def step_new_tracker(self, r):
        self.serial += 1
        run = ProductionRun.objects.order_by("id")[r]
        Tracker.objects.create(serial=f"N-{self.serial}", name=f"new tracker {self.serial}", production_run=run)
        flush_pending()

    def step_set_status(self, tracker_id, status):
        for tracker in Tracker.objects.filter(pk=tracker_id):
            tracker.current_status = status
            tracker.save()
        flush_pending()

    def step_invalidate(self):
        invalidate_all(source="test")

    def step_cold(self, everything):
        if everything:
            for alias in caches:
                caches[alias].clear()
        testing.reset()  # this process's L1 (another process with a cold L1, when L2 is kept)

    # --- requests and their checks ------------------------------------------------------------
    def step_request(self, u, request):
        name, params = request
        user = self.users[u]
        api = APIClient()
        api.force_authenticate(user)
        if name == "tracker-detail":
            response = api.get(URLS[name].format(id=params["id"]))
            self.check_tracker_detail(self.scope(user), response, params["id"])
        elif name == "user-data":
            target = self.users[params["user"]]
            query = {"user_id": target.pk, **{k: v for k, v in params.items() if k != "user"}}
            response = api.get(URLS[name], query)
            self.check_user_data(user, target, response)
        else:
            key = (name, tuple(sorted(params.items())))
            sent = self.etags.get(key)
            response = api.get(URLS[name], params, **({"HTTP_IF_NONE_MATCH": sent} if sent else {}))
            assert response.status_code in (200, 304, 400), response.content
            if response.status_code == 304:
                # Only for exactly the bytes this caller would be given now: never across scopes.
                RUN["revalidations"] += 1
                response = api.get(URLS[name], params)
                assert response.status_code == 200 and response.get("ETag") == sent, (
                    f"304 for {name} {params}: the caller's own answer has ETag {response.get('ETag')}, not {sent}"
                )
            if response.status_code == 200:
                if response.get("ETag"):
                    self.etags[key] = response["ETag"]
                getattr(self, "check_" + name.replace("-", "_"))(self.scope(user), response.json(), params)
        RUN["responses"] += 1

    def check_clients(self, scope, body, params):
        assert_within(scope, {row["id"] for row in body}, "clients")

    def check_brands(self, scope, body, params):
        assert_within(scope, brand_clients(row["id"] for row in body), "brands")
        for row in body:
            assert Brand.objects.get(pk=row["id"]).client_id == row["client_id"], row

    def check_production_runs(self, scope, body, params):
        clients = ProductionRun.objects.filter(pk__in=[row["id"] for row in body]).values_list(
            "brand__client_id", flat=True
        )
        assert_within(scope, set(clients), "production runs")

    def check_trackers(self, scope, body, params):
        items = body["items"]
        rows = Tracker.objects.filter(pk__in=[i["id"] for i in items])
        actual = dict(rows.values_list("id", "production_run__brand__client_id"))
        assert_within(scope, set(actual.values()), "trackers")
        for item in items:
            assert item["client_id"] == actual[item["id"]], item
        filtered = any(params.get(name) for name in ("brand_ids", "production_run_ids", "status", "search"))
        if params.get("lazy_load") != "true" or filtered:  # lazy with no filter: the empty page
            assert body["total"] == matching_total(scope, params), (body["total"], params)

    def check_tracker_detail(self, scope, response, tracker_id):
        client_id = (
            Tracker.objects.filter(pk=tracker_id).values_list("production_run__brand__client_id", flat=True).first()
        )
        visible = client_id is not None and (scope is None or client_id in scope)
        assert response.status_code == (200 if visible else 404), (tracker_id, client_id, scope, response.content)

    def check_tracker_stats(self, scope, body, params):
        assert_within(scope, brand_clients(b["brand_id"] for b in body["by_brand"]), "stats brands")
        assert body["total"] == scoped_trackers(scope).count()

    def check_me_scope(self, scope, body, params):
        expected = sorted(scope) if scope is not None else sorted(Client.objects.values_list("id", flat=True))
        assert body["client_ids"] == expected
        assert body["tracker_count"] == scoped_trackers(scope).count()

    def check_user_data(self, caller, target, response):
        if target != caller and not caller.is_staff:
            assert response.status_code == 403, response.content
            return
        assert response.status_code == 200, response.content
        text = json.dumps(response.json()["data"])
        others = [u.username for u in self.users if u != target]
        assert f"{target.username}.example.com" in text or target.is_staff
        leaked = [name for name in others if f"{name}.example.com" in text]
        assert not leaked, f"user {target.username}'s data names {leaked}"


def assert_within(scope, client_ids: set, what: str) -> None:
    if scope is not None:
        assert client_ids <= scope, f"{what} of clients {sorted(client_ids - scope)} served to scope {sorted(scope)}"


def brand_clients(brand_ids) -> set[int]:
    return set(Brand.objects.filter(pk__in=list(brand_ids)).values_list("client_id", flat=True))


def scoped_trackers(scope):
    trackers = Tracker.objects.all()
    return trackers if scope is None else trackers.filter(production_run__brand__client_id__in=scope)


def matching_total(scope, params) -> int:
    trackers = scoped_trackers(scope)
    if params.get("brand_ids"):
        trackers = trackers.filter(production_run__brand_id__in=params["brand_ids"].split(","))
    if params.get("production_run_ids"):
        trackers = trackers.filter(production_run_id__in=params["production_run_ids"].split(","))
    if params.get("status"):
        trackers = trackers.filter(current_status=params["status"])
    if params.get("search"):
        term = params["search"]
        trackers = trackers.filter(Q(serial__icontains=term) | Q(name__icontains=term))
    return trackers.count()


def _clean_slate():
    Client.objects.all().delete()
    get_user_model().objects.all().delete()
    flush_pending()
    for alias in caches:
        caches[alias].clear()
    testing.reset()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(STEPS, min_size=10, max_size=40))
def test_no_answer_leaves_the_callers_scope(settings_no_debounce, steps):
    _clean_slate()
    tenants = Tenants()
    RUN["sequences"] += 1
    for step in steps:
        tenants.run(step)
    if os.environ.get("TENANT_REPORT"):
        print("tenant isolation:", RUN)


@pytest.fixture
def settings_no_debounce(settings):
    settings.CACHECORE_DEBOUNCE_SECONDS = 0
