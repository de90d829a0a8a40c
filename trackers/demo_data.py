"""Deterministic demo data for the trackers domain (used by ``manage.py seed_demo_data``)."""

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.db import transaction

from trackers.models import (
    Brand,
    Client,
    ClientMembership,
    DeliveryLocation,
    Image,
    LocationHistory,
    ProductionRun,
    StorageLocation,
    SyncWatermark,
    Tracker,
    TrackerStatus,
)

CITIES = [
    ("Hamburg", 53.5511, 9.9937),
    ("Rotterdam", 51.9244, 4.4777),
    ("Antwerp", 51.2194, 4.4025),
    ("Berlin", 52.5200, 13.4050),
    ("Munich", 48.1351, 11.5820),
    ("Paris", 48.8566, 2.3522),
    ("Lyon", 45.7640, 4.8357),
    ("Milan", 45.4642, 9.1900),
    ("Vienna", 48.2082, 16.3738),
    ("Prague", 50.0755, 14.4378),
    ("Warsaw", 52.2297, 21.0122),
    ("Madrid", 40.4168, -3.7038),
    ("Barcelona", 41.3874, 2.1686),
    ("Lisbon", 38.7223, -9.1393),
    ("Copenhagen", 55.6761, 12.5683),
    ("Stockholm", 59.3293, 18.0686),
    ("Oslo", 59.9139, 10.7522),
    ("Zurich", 47.3769, 8.5417),
    ("Brussels", 50.8503, 4.3517),
    ("Amsterdam", 52.3676, 4.9041),
    ("Dublin", 53.3498, -6.2603),
    ("London", 51.5072, -0.1276),
    ("Manchester", 53.4808, -2.2426),
    ("Gdansk", 54.3520, 18.6466),
]
CLIENT_NAMES = [
    "Northwind Logistics",
    "Alpine Beverages",
    "Baltic Pharma",
    "Contoso Retail",
    "Fabrikam Foods",
    "Helios Electronics",
    "Iberia Wines",
    "Nordic Outfitters",
]
BRAND_WORDS = ["Aurora", "Summit", "Harbor", "Meadow", "Falcon", "Cedar", "Glacier", "Orchid", "Vertex", "Willow"]
PRODUCT_WORDS = ["Pallet", "Crate", "Cooler", "Container", "Case", "Drum", "Tote"]
# Status mix of a realistic fleet; "lost" trackers stop reporting early.
STATUS_WEIGHTS = [
    (TrackerStatus.IN_TRANSIT, 45),
    (TrackerStatus.IN_STORAGE, 25),
    (TrackerStatus.DELIVERED, 20),
    (TrackerStatus.LOST, 4),
    (TrackerStatus.INACTIVE, 6),
]
HISTORY_BATCH = 5000

Progress = Callable[[str, int, int], None]


def demo_data_exists() -> bool:
    """Return whether demo (or any) tracker data is already present."""
    return Client.objects.exists() or Tracker.objects.exists()


@transaction.atomic
def reset_tracker_data() -> None:
    """Delete every row of the trackers domain."""
    LocationHistory.objects.all().delete()
    Tracker.objects.all().delete()
    for model in (ProductionRun, Brand, ClientMembership, Client, StorageLocation, DeliveryLocation, Image):
        model.objects.all().delete()
    SyncWatermark.objects.all().delete()


def seed_reference_data(rng: random.Random) -> dict:
    """Create clients, brands, production runs, locations and images; return them by kind."""
    clients = Client.objects.bulk_create([Client(name=name) for name in CLIENT_NAMES])
    brands = []
    for client in clients:
        for word in rng.sample(BRAND_WORDS, rng.randint(2, 4)):
            brands.append(Brand(client=client, name=f"{word} {client.name.split()[0]}", logo=""))
    brands = Brand.objects.bulk_create(brands)
    runs = []
    for brand in brands:
        for n in range(rng.randint(3, 6)):
            start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 540))
            runs.append(ProductionRun(brand=brand, name=f"{brand.name} run {start:%y%m}-{n + 1}", start_date=start))
    runs = ProductionRun.objects.bulk_create(runs)
    storage = StorageLocation.objects.bulk_create(
        [
            StorageLocation(name=f"{city} warehouse {n + 1}", city=city, latitude=lat, longitude=lon)
            for n, (city, lat, lon) in enumerate(rng.sample(CITIES, 12))
        ]
    )
    delivery = DeliveryLocation.objects.bulk_create(
        [
            DeliveryLocation(
                name=f"{city} store {n + 1}",
                city=city,
                latitude=round(lat + rng.uniform(-0.1, 0.1), 5),
                longitude=round(lon + rng.uniform(-0.1, 0.1), 5),
            )
            for n, (city, lat, lon) in enumerate(rng.choice(CITIES) for _ in range(40))
        ]
    )
    images = Image.objects.bulk_create(
        [
            Image(title=f"{word} {product}", url=f"https://images.example.com/{word.lower()}-{product.lower()}.png")
            for word in BRAND_WORDS
            for product in PRODUCT_WORDS
        ]
    )
    return {
        "clients": clients,
        "brands": brands,
        "runs": runs,
        "storage": storage,
        "delivery": delivery,
        "images": images,
    }


def seed_trackers(rng: random.Random, ref: dict, *, trackers: int, history: int, now: datetime, progress: Progress):
    """Create trackers with ``history`` location reports each, in batches."""
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    objs = []
    routes = []
    for n in range(trackers):
        run = rng.choice(ref["runs"])
        status = rng.choices(statuses, weights)[0]
        product = rng.choice(PRODUCT_WORDS)
        objs.append(
            Tracker(
                serial=f"TRK-{n + 1:07d}",
                name=f"{product} {n + 1}",
                production_run=run,
                current_status=status,
                storage_location=rng.choice(ref["storage"]) if status == TrackerStatus.IN_STORAGE else None,
                delivery_location=rng.choice(ref["delivery"]) if rng.random() < 0.6 else None,
                image=rng.choice(ref["images"]) if rng.random() < 0.5 else None,
            )
        )
        start, end = rng.sample(CITIES, 2)
        # Lost and inactive trackers went quiet some days ago; the rest report up to now.
        quiet_days = rng.randint(2, 30) if status in (TrackerStatus.LOST, TrackerStatus.INACTIVE) else 0
        last = now - timedelta(days=quiet_days, minutes=rng.randint(1, 600))
        routes.append((start, end, last))
    objs = Tracker.objects.bulk_create(objs, batch_size=2000)
    progress("trackers", trackers, trackers)

    total = trackers * history
    done = 0
    batch: list[LocationHistory] = []
    last_seen = []
    for tracker, (start, end, last) in zip(objs, routes, strict=True):
        step = timedelta(hours=rng.choice([1, 2, 4, 6]))
        for h in range(history):
            frac = h / max(history - 1, 1)
            lat = start[1] + (end[1] - start[1]) * frac + rng.uniform(-0.05, 0.05)
            lon = start[2] + (end[2] - start[2]) * frac + rng.uniform(-0.05, 0.05)
            city = start[0] if frac < 0.5 else end[0]
            batch.append(
                LocationHistory(
                    tracker=tracker,
                    timestamp=last - step * (history - 1 - h),
                    latitude=round(lat, 6),
                    longitude=round(lon, 6),
                    nearest_city=city,
                    confidence=round(rng.uniform(0.55, 0.99), 2),
                )
            )
            if len(batch) >= HISTORY_BATCH:
                LocationHistory.objects.bulk_create(batch)
                done += len(batch)
                batch = []
                progress("location history", done, total)
        if history:
            tracker.last_report_received = last
            last_seen.append(tracker)
    if batch:
        LocationHistory.objects.bulk_create(batch)
        done += len(batch)
        progress("location history", done, total)
    Tracker.objects.bulk_update(last_seen, ["last_report_received"], batch_size=2000)
    return objs


def seed_memberships(users, clients) -> int:
    """Give each non-staff demo user one client (round robin); return how many were created."""
    rows = [ClientMembership(user=user, client=clients[i % len(clients)]) for i, user in enumerate(users)]
    ClientMembership.objects.bulk_create(rows)
    return len(rows)


def utc_now() -> datetime:
    return datetime.now(UTC)
