"""The torture run's data set and the reads and writes a worker process performs on it.

Every worker owns one *slot*: a client, a second client whose membership moves between two
users, a brand, a production run with a few trackers, and a user with an onboarding profile.
Only the slot's worker writes its rows, so each object's history is a simple sequence; every
worker reads every slot, so a read usually sees another process's writes (the cross-process
path). A write records the object's new state as read inside its own transaction, after the
commit returned.

Objects and the cached data set each one is read through:

    client:K      the client's name          reference list (service, and the /api/clients/ endpoint)
    page:K        the run's (id, name) set   tracker list page (service, and /api/trackers/)
    count:K       the run's tracker count    tracker statistics of the client's scope
    scope:U       a user's client ids        the user's scope (membership moves)
    onboarding:K  the profile's industry     comprehensive user data (local AI provider)
"""

import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.utils import timezone

from cachecore.cachalot import uncached_reads
from contentplanning.conf import NAMESPACE as USER_DATA
from contentplanning.models import OnboardingProfile
from contentplanning.services import comprehensive_user_data
from trackers.filters import TrackerFilters
from trackers.models import Brand, Client, ClientMembership, ProductionRun, Tracker
from trackers.namespaces import REFERENCE, TRACKER_LIST, TRACKER_STATS, USER_SCOPE
from trackers.scope import user_client_ids
from trackers.selectors import reference_rows, tracker_page, tracker_stats

KIND_NAMESPACE = {
    "client": REFERENCE["clients"],
    "page": TRACKER_LIST,
    "count": TRACKER_STATS,
    "scope": USER_SCOPE,
    "onboarding": USER_DATA,
}
INITIAL_TRACKERS = 4
MAX_TRACKERS = 12


def digest(value) -> str:
    """Return a short stable hash of a JSON-able state."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


# --- the data set -----------------------------------------------------------------------------


def create_dataset(tag: str, slots: int) -> dict:
    """Create the rows of every slot; return their ids (written to the run directory)."""
    users = get_user_model()
    staff = users.objects.create_user(f"{tag}-staff", is_staff=True)
    data = {"tag": tag, "staff_id": staff.pk, "slots": []}
    with transaction.atomic():
        for k in range(slots):
            client = Client.objects.create(name=f"{tag}-c{k} v0")
            moved = Client.objects.create(name=f"{tag}-x{k}")
            brand = Brand.objects.create(client=client, name=f"{tag}-b{k}")
            run = ProductionRun.objects.create(brand=brand, name=f"{tag}-r{k}", start_date=timezone.now().date())
            Tracker.objects.bulk_create(
                Tracker(serial=f"{tag}-k{k}-0-{i}", name="v0", production_run=run) for i in range(INITIAL_TRACKERS)
            )
            owner = users.objects.create_user(f"{tag}-ua{k}")
            other = users.objects.create_user(f"{tag}-ub{k}")
            ClientMembership.objects.create(user=owner, client=client)
            membership = ClientMembership.objects.create(user=owner, client=moved)
            OnboardingProfile.objects.create(user=owner, industry="v0")
            data["slots"].append(
                {
                    "client": client.pk,
                    "moved": moved.pk,
                    "run": run.pk,
                    "owner": owner.pk,
                    "other": other.pk,
                    "membership": membership.pk,
                }
            )
    return data


def delete_dataset(data: dict) -> None:
    """Delete every row the run created (clients cascade to brands, runs, trackers, memberships)."""
    users = get_user_model()
    with transaction.atomic():
        client_ids = [s[key] for s in data["slots"] for key in ("client", "moved")]
        user_ids = [data["staff_id"]] + [s[key] for s in data["slots"] for key in ("owner", "other")]
        for client in Client.objects.filter(pk__in=client_ids):
            client.delete()
        for user in users.objects.filter(pk__in=user_ids):
            user.delete()


def objects_of(data: dict) -> list[str]:
    """Return every object name of the data set."""
    names = []
    for k, slot in enumerate(data["slots"]):
        names += [f"client:{k}", f"page:{k}", f"count:{k}", f"onboarding:{k}"]
        names += [f"scope:{slot['owner']}", f"scope:{slot['other']}"]
    return names


def namespace_of(obj: str) -> str:
    """Return the cache namespace an object is read through."""
    return KIND_NAMESPACE[obj.split(":", 1)[0]]


# --- states read from the database (inside a writer's transaction, or at setup) -----------------


def db_states(data: dict, k: int) -> dict[str, str]:
    """Return the current state of every object of slot ``k`` read from the database."""
    slot = data["slots"][k]
    with uncached_reads():
        trackers = sorted(Tracker.objects.filter(production_run_id=slot["run"]).values_list("id", "name"))
        scopes = {
            user: sorted(ClientMembership.objects.filter(user_id=user).values_list("client_id", flat=True))
            for user in (slot["owner"], slot["other"])
        }
        return {
            f"client:{k}": Client.objects.get(pk=slot["client"]).name,
            f"page:{k}": digest([list(t) for t in trackers]),
            f"count:{k}": str(len(trackers)),
            f"onboarding:{k}": OnboardingProfile.objects.get(user_id=slot["owner"]).industry,
            **{f"scope:{user}": digest(ids) for user, ids in scopes.items()},
        }


# --- reads through the cache --------------------------------------------------------------------


class Reader:
    """Reads an object through the cached services or the HTTP endpoints; returns its state."""

    def __init__(self, data: dict):
        self.data = data
        users = get_user_model()
        self.users = {u.pk: u for u in users.objects.filter(pk__in=[s["owner"] for s in data["slots"]])}
        self.users.update({u.pk: u for u in users.objects.filter(pk__in=[s["other"] for s in data["slots"]])})
        self.http = HttpClient(HTTP_HOST=_allowed_host())
        self.http.force_login(users.objects.get(pk=data["staff_id"]))

    def read(self, obj: str, *, endpoint: bool = False) -> str:
        """Return the state of ``obj`` as the cache serves it."""
        kind, key = obj.split(":", 1)
        return getattr(self, f"_{kind}")(key, endpoint)

    def _client(self, k: str, endpoint: bool) -> str:
        client_id = self.data["slots"][int(k)]["client"]
        rows = self._get("/api/clients/") if endpoint else reference_rows("clients")[0]["rows"]
        return next((row["name"] for row in rows if row["id"] == client_id), "<missing>")

    def _page(self, k: str, endpoint: bool) -> str:
        run = self.data["slots"][int(k)]["run"]
        if endpoint:
            body = self._get(f"/api/trackers/?production_run_ids={run}&size=500&include_latest_location=false")
        else:
            filters = TrackerFilters(production_run_ids=(run,), size=500, include_latest_location=False)
            body = json.loads(tracker_page(filters, None)[0]["body"])  # the stored response body
        return digest(sorted([item["id"], item["name"]] for item in body["items"]))

    def _count(self, k: str, endpoint: bool) -> str:
        slot = self.data["slots"][int(k)]
        stats = tracker_stats(frozenset({slot["client"]}), now=timezone.now())[0]
        runs = {row["production_run_id"]: row["count"] for row in stats["by_production_run"]}
        return str(runs.get(slot["run"], 0))

    def _scope(self, user_id: str, endpoint: bool) -> str:
        return digest(sorted(user_client_ids(self.users[int(user_id)])))

    def _onboarding(self, k: str, endpoint: bool) -> str:
        user = self.users[self.data["slots"][int(k)]["owner"]]
        return comprehensive_user_data(user=user)[0]["onboarding"]["industry"]

    def _get(self, path: str):
        response = self.http.get(path, secure=not settings.DEBUG and getattr(settings, "SECURE_SSL_REDIRECT", False))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return response.json()


def _allowed_host() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


# --- writes of the worker's own slot ----------------------------------------------------------


@dataclass
class Writer:
    """Performs one write of a slot, as an application would, and returns the states it left."""

    data: dict
    slot: int
    version_prefix: str
    raw_sql: bool  # PostgreSQL: triggers cover raw SQL; SQLite has none, so it is not exercised
    counter: int = 0

    KINDS = (
        "client_save",
        "client_update",
        "client_raw",
        "tracker_save",
        "tracker_update",
        "tracker_raw",
        "tracker_bulk_create",
        "tracker_delete",
        "tracker_queryset_delete",
        "membership_move",
        "onboarding_save",
    )

    def kinds(self) -> tuple[str, ...]:
        """Return the write kinds this database supports."""
        return tuple(k for k in self.KINDS if self.raw_sql or not k.endswith("_raw"))

    def write(self, kind: str) -> dict[str, str]:
        """Run one write of ``kind`` in a transaction; return the slot's states after it committed."""
        self.counter += 1
        version = f"v{self.version_prefix}-{self.counter}"
        with transaction.atomic():
            getattr(self, kind)(version)
            states = db_states(self.data, self.slot)
        return states

    @property
    def _slot(self) -> dict:
        return self.data["slots"][self.slot]

    def _client_name(self, version: str) -> str:
        return f"{self.data['tag']}-c{self.slot} {version}"

    def client_save(self, version: str) -> None:
        client = Client.objects.get(pk=self._slot["client"])
        client.name = self._client_name(version)
        client.save()

    def client_update(self, version: str) -> None:
        Client.objects.filter(pk=self._slot["client"]).update(name=self._client_name(version))

    def client_raw(self, version: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Client._meta.db_table} SET name = %s WHERE id = %s",
                [self._client_name(version), self._slot["client"]],
            )

    def _trackers(self):
        return Tracker.objects.filter(production_run_id=self._slot["run"])

    def tracker_save(self, version: str) -> None:
        tracker = self._trackers().order_by("?").first()
        if tracker is not None:
            tracker.name = version
            tracker.save()

    def tracker_update(self, version: str) -> None:
        self._trackers().update(name=version)

    def tracker_raw(self, version: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Tracker._meta.db_table} SET name = %s WHERE production_run_id = %s",
                [version, self._slot["run"]],
            )

    def tracker_bulk_create(self, version: str) -> None:
        if self._trackers().count() >= MAX_TRACKERS:
            return self.tracker_queryset_delete(version)
        serial = f"{self.data['tag']}-k{self.slot}-{version}"
        Tracker.objects.bulk_create(
            Tracker(serial=f"{serial}-{i}", name=version, production_run_id=self._slot["run"]) for i in range(2)
        )

    def tracker_delete(self, version: str) -> None:
        if self._trackers().count() > 2:
            self._trackers().order_by("?").first().delete()

    def tracker_queryset_delete(self, version: str) -> None:
        keep = list(self._trackers().order_by("id").values_list("id", flat=True)[:2])
        self._trackers().exclude(pk__in=keep).delete()

    def membership_move(self, version: str) -> None:
        membership = ClientMembership.objects.get(pk=self._slot["membership"])
        owner, other = self._slot["owner"], self._slot["other"]
        membership.user_id = other if membership.user_id == owner else owner
        membership.save()

    def onboarding_save(self, version: str) -> None:
        profile = OnboardingProfile.objects.get(user_id=self._slot["owner"])
        profile.industry = version
        profile.save()


def die_now() -> None:
    """SIGKILL this process (the writer-crash fault: right after a commit, before anything else)."""
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)  # not reached


def kill_requested(run_dir: Path, slot: int) -> bool:
    """Return True (and consume the request) when the coordinator asked this slot's writer to die."""
    flag = run_dir / f"kill-{slot}"
    try:
        flag.unlink()
    except FileNotFoundError:
        return False
    return True
