"""A small deterministic dataset factory for tests (no randomness: names and values follow ids)."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model

from trackers.models import (
    Brand,
    Client,
    ClientMembership,
    LocationHistory,
    ProductionRun,
    Tracker,
    TrackerStatus,
)

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = [s.value for s in TrackerStatus]


@dataclass
class Dataset:
    clients: list = field(default_factory=list)
    brands: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    trackers: list = field(default_factory=list)


def make_dataset(
    *,
    clients: int = 2,
    brands_per_client: int = 2,
    runs_per_brand: int = 2,
    trackers_per_run: int = 3,
    history_per_tracker: int = 3,
    prefix: str = "T",
) -> Dataset:
    """Create clients -> brands -> runs -> trackers -> history with predictable values."""
    ds = Dataset()
    for c in range(clients):
        client = Client.objects.create(name=f"{prefix} Client {c}")
        ds.clients.append(client)
        for b in range(brands_per_client):
            brand = Brand.objects.create(client=client, name=f"{prefix} Brand {c}.{b}")
            ds.brands.append(brand)
            for r in range(runs_per_brand):
                ds.runs.append(
                    ProductionRun.objects.create(
                        brand=brand, name=f"{prefix} Run {c}.{b}.{r}", start_date=date(2025, 1 + r, 1)
                    )
                )
    trackers = []
    for run in ds.runs:
        for _ in range(trackers_per_run):
            n = len(trackers)
            trackers.append(
                Tracker(
                    serial=f"{prefix}-{n:06d}",
                    name=f"{prefix} tracker {n}",
                    production_run=run,
                    current_status=STATUSES[n % len(STATUSES)],
                    last_report_received=BASE_TIME + timedelta(hours=n) if n % 4 else None,
                )
            )
    ds.trackers = Tracker.objects.bulk_create(trackers)
    history = [
        LocationHistory(
            tracker=tracker,
            timestamp=BASE_TIME + timedelta(hours=h),
            latitude=50 + tracker.pk % 10 + h / 100,
            longitude=8 + tracker.pk % 7 + h / 100,
            nearest_city=f"City {h}",
            confidence=0.9,
        )
        for tracker in ds.trackers
        for h in range(history_per_tracker)
    ]
    LocationHistory.objects.bulk_create(history, batch_size=2000)
    return ds


TEST_PASSWORD = "pw-test-12345"  # noqa: S105 - test fixture


def make_user(
    username: str,
    *,
    clients=(),
    staff: bool = False,
    password: str = TEST_PASSWORD,
    role: str = ClientMembership.Role.VIEWER,
):
    """Create a user who belongs to the given clients with ``role``."""
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=staff)
    for client in clients:
        ClientMembership.objects.create(user=user, client=client, role=role)
    return user
