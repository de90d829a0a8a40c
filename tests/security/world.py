"""The population the security tests request as: one user per role, and a sample row of every
model the admin edits (so every admin URL with an object id has a real object to name).

Roles (the columns of the authorisation matrix):

- ``anon``: no session, no token.
- ``viewer``: viewer membership of client A.
- ``operator``: operator membership of client A (may post location reports for it).
- ``other``: viewer membership of client B only (another tenant).
- ``nomember``: an account with no membership at all.
- ``staff``: ``is_staff`` without model permissions (sees every client's API data; the admin shows
  it the index only).
- ``superuser``: staff with every permission (the admin's real operator).
- ``token``: no session, ``Authorization: Bearer $MONITORING_TOKEN``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client as HttpClient
from rest_framework.authtoken.models import Token

from cachecore.models import CacheEntry, CacheGeneration
from contentplanning.tests.factories import make_content_user
from tests.factories import make_dataset, make_user
from trackers.models import (
    ClientMembership,
    DeliveryLocation,
    Image,
    StorageLocation,
    SyncWatermark,
    Tracker,
)

ROLES = ("anon", "viewer", "operator", "other", "nomember", "staff", "superuser", "token")
SESSION_ROLES = ("viewer", "operator", "other", "nomember", "staff", "superuser")
MONITORING_TOKEN = "matrix-monitoring-token-0123456789"  # noqa: S105 - test value
# /metrics admits METRICS_ALLOWED_IPS without a token; the matrix requests from an address outside it.
REMOTE_ADDR = "192.0.2.10"
METRICS_ALLOWED_IPS = ["192.0.2.250"]
NOW = datetime(2026, 1, 2, tzinfo=UTC)


@dataclass
class World:
    dataset: object
    users: dict = field(default_factory=dict)

    def client_for(self, role: str, *, enforce_csrf_checks: bool = False) -> HttpClient:
        """Return a test client authenticated as ``role``."""
        headers = {"authorization": f"Bearer {MONITORING_TOKEN}"} if role == "token" else {}
        client = HttpClient(enforce_csrf_checks=enforce_csrf_checks, REMOTE_ADDR=REMOTE_ADDR, headers=headers)
        if role in self.users:
            client.force_login(self.users[role])
        return client


def make_world() -> World:
    """Create two clients' data, one user per role and a sample row of every admin model."""
    ds = make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=1)
    client_a, client_b = ds.clients
    world = World(dataset=ds)
    world.users["viewer"] = make_content_user("matrix-viewer")
    ClientMembership.objects.create(user=world.users["viewer"], client=client_a, role=ClientMembership.Role.VIEWER)
    world.users["operator"] = make_user("matrix-operator", clients=[client_a], role=ClientMembership.Role.OPERATOR)
    world.users["other"] = make_content_user("matrix-other")
    ClientMembership.objects.create(user=world.users["other"], client=client_b, role=ClientMembership.Role.VIEWER)
    world.users["nomember"] = make_user("matrix-nomember")
    world.users["staff"] = make_user("matrix-staff", staff=True)
    world.users["superuser"] = get_user_model().objects.create_superuser("matrix-root", "root@example.com", "pw-r00t!")
    _sample_admin_rows(world)
    return world


def _sample_admin_rows(world: World) -> None:
    storage = StorageLocation.objects.create(name="Depot", city="Hamburg")
    delivery = DeliveryLocation.objects.create(name="Dock", city="Bremen")
    image = Image.objects.create(title="Pallet", url="https://example.com/pallet.png")
    Tracker.objects.filter(pk=world.dataset.trackers[0].pk).update(
        storage_location=storage, delivery_location=delivery, image=image
    )
    SyncWatermark.objects.create(name="matrix")
    Group.objects.create(name="matrix-group")
    Token.objects.create(user=world.users["operator"])
    CacheEntry.objects.create(
        namespace="matrix.sample",
        key_hash="0" * 64,
        data_hash="0" * 64,
        payload={"sample": True},
        created_at=NOW,
        expires_at=NOW,
        last_accessed=NOW,
    )
    CacheGeneration.objects.create(namespace="matrix.sample", token="t0", updated_at=NOW)
    login = {"user_agent": "matrix", "ip_address": "192.0.2.10", "username": "matrix-viewer", "path_info": "/"}
    AccessAttempt.objects.create(**login, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**login)
    AccessFailureLog.objects.create(**login)
