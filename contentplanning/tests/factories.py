"""Deterministic content-planning data for tests: values follow the arguments, no randomness."""

from datetime import date, timedelta

from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile
from tests.factories import make_user

START = date(2026, 1, 5)
CHANNELS = ("blog", "linkedin", "newsletter")


def make_content_user(
    username: str,
    *,
    staff: bool = False,
    strategies: int = 1,
    entries: int = 3,
    performance: int = 4,
    onboarding: bool = True,
):
    """Create a user with onboarding, strategies, calendar entries and performance rows."""
    user = make_user(username, staff=staff)
    if onboarding:
        OnboardingProfile.objects.create(
            user=user,
            website=f"https://{username}.example.com",
            industry="logistics",
            audience="operations managers",
            goals=["lead generation", "brand awareness"],
        )
    for s in range(strategies):
        strategy = ContentStrategy.objects.create(
            user=user,
            name=f"{username} strategy {s + 1}",
            pillars=["cold chain", "sustainability", "case studies"],
            target_keywords=["pallet tracker", "shipment tracking"],
            competitors=["rival.example.com"],
        )
        CalendarEntry.objects.bulk_create(
            CalendarEntry(
                strategy=strategy,
                date=START + timedelta(days=n),
                channel=CHANNELS[n % len(CHANNELS)],
                title=f"Cold chain: pallet tracker #{n}" if n % 2 == 0 else f"Weekly news #{n}",
                status=CalendarEntry.Status.PUBLISHED if n == 0 else CalendarEntry.Status.PLANNED,
            )
            for n in range(entries)
        )
        ContentPerformance.objects.bulk_create(
            ContentPerformance(
                user=user,
                strategy=strategy,
                date=START - timedelta(days=7 * n),
                channel=CHANNELS[n % 2],
                impressions=1000 + n,
                clicks=100 + n,
                conversions=10,
            )
            for n in range(performance)
        )
    return user
