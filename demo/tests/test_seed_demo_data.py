"""manage.py seed_demo_data: deterministic, refuses to run twice, --reset, staff user."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from contentplanning.models import CalendarEntry, ContentPerformance, ContentStrategy, OnboardingProfile
from demo.management.commands.seed_demo_data import ALREADY_SEEDED
from trackers.models import Brand, Client, ClientMembership, LocationHistory, Tracker

pytestmark = pytest.mark.django_db

SMALL = {"trackers": 12, "history": 5, "users": 3}


def seed(**opts):
    out = StringIO()
    call_command("seed_demo_data", stdout=out, **{**SMALL, "admin_password": "pw-seed-test-1", **opts})
    return out.getvalue()


def snapshot():
    return (
        list(
            Tracker.objects.order_by("serial").values_list("serial", "name", "current_status", "production_run__name")
        ),
        list(
            LocationHistory.objects.order_by("tracker__serial", "timestamp").values_list(
                "tracker__serial", "latitude", "longitude", "nearest_city"
            )
        ),
    )


def test_seed_creates_every_kind_of_row():
    output = seed()
    assert Tracker.objects.count() == 12
    assert LocationHistory.objects.count() == 60
    assert Client.objects.count() >= 3 and Brand.objects.count() >= Client.objects.count()
    assert OnboardingProfile.objects.count() == 3
    assert ContentStrategy.objects.exists() and CalendarEntry.objects.exists() and ContentPerformance.objects.exists()
    assert ClientMembership.objects.count() == 3
    # Every tracker with history knows when it last reported, and it is its newest report.
    tracker = Tracker.objects.order_by("id").first()
    newest = tracker.history.order_by("-timestamp").first()
    assert tracker.last_report_received == newest.timestamp
    assert "Seeded in" in output


def test_same_seed_gives_the_same_data():
    seed()
    first = snapshot()
    seed(reset=True)
    assert snapshot()[0] == first[0]
    # Coordinates follow the seed too (timestamps follow the clock, so they are not compared).
    assert [row[1:] for row in snapshot()[1]] == [row[1:] for row in first[1]]


def test_refuses_to_seed_twice_without_reset():
    seed()
    with pytest.raises(CommandError, match="already present"):
        seed()
    assert Tracker.objects.count() == 12
    assert "--reset" in ALREADY_SEEDED


def test_if_empty_is_a_no_op_when_data_exists():
    seed()
    assert "nothing to do" in seed(if_empty=True)
    assert Tracker.objects.count() == 12


def test_reset_starts_clean():
    seed()
    seed(reset=True, trackers=4)
    assert Tracker.objects.count() == 4
    assert LocationHistory.objects.count() == 20


def test_staff_user_gets_the_given_password_and_it_is_printed_once():
    output = seed()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password("pw-seed-test-1")
    assert output.count("pw-seed-test-1") == 1


def test_generated_password_when_none_given(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    output = seed(admin_password=None)
    line = next(line for line in output.splitlines() if line.startswith("Admin login:"))
    password = line.split(" / ", 1)[1].strip()
    assert len(password) >= 12
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_password_from_environment_is_not_echoed(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "pw-from-env-123")
    output = seed(admin_password=None)
    assert "pw-from-env-123" not in output
    assert get_user_model().objects.get(username="admin").check_password("pw-from-env-123")


def test_negative_counts_are_refused():
    with pytest.raises(CommandError, match="--trackers must be 0 or more"):
        seed(trackers=-1)


def test_reset_admin_password_prints_a_new_working_password():
    seed()
    out = StringIO()
    call_command("reset_admin_password", stdout=out)
    password = next(line for line in out.getvalue().splitlines() if line.startswith("Admin login:")).split(" / ")[1]
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password) and not admin.check_password("pw-seed-test-1")
    assert password != "pw-seed-test-1" and len(password) >= 12


def test_reset_admin_password_creates_a_missing_staff_user_with_the_given_password():
    call_command("reset_admin_password", "--username", "ops", "--password", "pw-chosen-1", stdout=StringIO())
    ops = get_user_model().objects.get(username="ops")
    assert ops.is_staff and ops.is_superuser and ops.check_password("pw-chosen-1")


def test_the_domain_apps_do_not_import_each_other():
    # seed_demo_data seeds both domains, so it lives in the demo app: trackers must not import
    # contentplanning (nor the reverse), outside their tests.
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for app, other in (("trackers", "contentplanning"), ("contentplanning", "trackers")):
        for path in (root / app).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                assert not [n for n in names if n.split(".")[0] == other], f"{path} imports {other}"
