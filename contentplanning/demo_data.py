"""Deterministic demo data for content planning (used by ``manage.py seed_demo_data``)."""

import random
from datetime import date, timedelta

from django.contrib.auth import get_user_model

from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile

INDUSTRIES = ["logistics", "food & beverage", "pharma", "retail", "electronics", "fashion", "wine", "outdoor"]
AUDIENCES = [
    "operations managers at mid-size shippers",
    "procurement leads in retail chains",
    "quality assurance teams",
    "small business owners",
    "supply-chain analysts",
]
GOALS = ["brand awareness", "lead generation", "customer retention", "thought leadership", "product launches"]
PILLARS = ["cold chain", "sustainability", "traceability", "case studies", "how-to guides", "industry news"]
KEYWORDS = [
    "shipment tracking",
    "cold chain monitoring",
    "pallet tracker",
    "supply chain visibility",
    "iot logistics",
    "temperature logger",
    "asset tracking",
    "delivery eta",
]
CHANNELS = ["blog", "linkedin", "newsletter", "youtube", "instagram"]
FIRST = ["anna", "ben", "clara", "david", "eva", "felix", "greta", "hugo", "ida", "jonas", "karin", "lukas"]
LAST = ["schmidt", "meyer", "jensen", "rossi", "garcia", "novak", "berg", "dubois", "silva", "kowalski"]


def demo_users_exist() -> bool:
    """Return whether content-planning demo data is already present."""
    return OnboardingProfile.objects.exists()


def reset_content_data() -> None:
    """Delete content-planning rows and the demo users (never staff or superusers)."""
    ContentPerformance.objects.all().delete()
    # Strategies cascade to their calendar entries, whose invalidation then finds the owner
    # without loading each entry's strategy (contentplanning.caching).
    ContentStrategy.objects.all().delete()
    OnboardingProfile.objects.all().delete()
    get_user_model().objects.filter(is_staff=False, is_superuser=False, username__startswith="demo.").delete()


def seed_users(rng: random.Random, *, users: int, today: date):
    """Create ``users`` demo users with onboarding, strategies, calendars and performance."""
    User = get_user_model()
    names = [f"demo.{FIRST[i % len(FIRST)]}.{LAST[(i * 7) % len(LAST)]}{i + 1}" for i in range(users)]
    users_to_create = []
    for name in names:
        user = User(username=name, email=f"{name}@example.com")
        user.set_unusable_password()  # demo users exist for their data; only the staff user logs in
        users_to_create.append(user)
    created = User.objects.bulk_create(users_to_create)
    profiles, strategies = [], []
    for user in created:
        profiles.append(
            OnboardingProfile(
                user=user,
                website=f"https://{user.username.split('.')[2].rstrip('0123456789')}.example.com",
                industry=rng.choice(INDUSTRIES),
                audience=rng.choice(AUDIENCES),
                goals=rng.sample(GOALS, 2),
            )
        )
        for s in range(rng.randint(1, 3)):
            strategies.append(
                ContentStrategy(
                    user=user,
                    name=f"{rng.choice(['Q1', 'Q2', 'Q3', 'Q4'])} strategy {s + 1}",
                    pillars=rng.sample(PILLARS, 3),
                    target_keywords=rng.sample(KEYWORDS, 4),
                    competitors=[f"competitor{rng.randint(1, 9)}.example.com" for _ in range(2)],
                )
            )
    OnboardingProfile.objects.bulk_create(profiles)
    strategies = ContentStrategy.objects.bulk_create(strategies)
    entries, perf = [], []
    for strategy in strategies:
        for n in range(rng.randint(8, 20)):
            pillar = rng.choice(strategy.pillars)
            entries.append(
                CalendarEntry(
                    strategy=strategy,
                    date=today + timedelta(days=rng.randint(-30, 60)),
                    channel=rng.choice(CHANNELS),
                    title=f"{pillar.title()}: {rng.choice(strategy.target_keywords)} #{n + 1}",
                    status=rng.choice([c for c, _ in CalendarEntry.Status.choices]),
                )
            )
        for d in range(0, 60, 3):
            impressions = rng.randint(100, 5000)
            clicks = rng.randint(0, impressions // 10)
            perf.append(
                ContentPerformance(
                    user_id=strategy.user_id,
                    strategy=strategy,
                    date=today - timedelta(days=d),
                    channel=rng.choice(CHANNELS),
                    impressions=impressions,
                    clicks=clicks,
                    conversions=rng.randint(0, max(clicks // 5, 1)),
                )
            )
    CalendarEntry.objects.bulk_create(entries, batch_size=2000)
    ContentPerformance.objects.bulk_create(perf, batch_size=2000)
    return created
