"""Seed deterministic demo data: clients, brands, runs, trackers with history, users, content."""

import os
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cachecore.api import StepProgress
from contentplanning import demo_data as content_demo
from demo.admin_login import admin_set_password
from trackers import demo_data as tracker_demo

ALREADY_SEEDED = (
    "Demo data is already present (clients or trackers exist). Run with --reset to delete it and seed again."
)


class Command(BaseCommand):
    help = "Seed deterministic demo data (trackers, history, users, content plans) and a staff user."

    def add_arguments(self, parser):
        parser.add_argument("--trackers", type=int, default=1500, help="number of trackers (default 1500)")
        parser.add_argument("--history", type=int, default=100, help="location reports per tracker (default 100)")
        parser.add_argument("--users", type=int, default=20, help="demo content-planning users (default 20)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--reset", action="store_true", help="delete existing demo data first")
        parser.add_argument("--if-empty", action="store_true", help="do nothing (exit 0) when data exists")
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument(
            "--admin-password",
            default=None,
            help="staff password (default: $DEMO_ADMIN_PASSWORD, else a random one printed once)",
        )

    def handle(self, *args, **opts):
        for name in ("trackers", "history", "users"):
            if opts[name] < 0:
                raise CommandError(f"--{name} must be 0 or more.")
        exists = tracker_demo.demo_data_exists() or content_demo.demo_users_exist()
        if exists and not opts["reset"]:
            if opts["if_empty"]:
                self.stdout.write("Demo data already present; nothing to do.")
                return
            raise CommandError(ALREADY_SEEDED)

        rng = random.Random(opts["seed"])
        self._bars, self._step = StepProgress(self.stdout), None
        started = time.monotonic()
        if opts["reset"]:
            with transaction.atomic():
                tracker_demo.reset_tracker_data()
                content_demo.reset_content_data()
            self.stdout.write("Deleted existing demo data.")

        now = tracker_demo.utc_now()
        with transaction.atomic():
            ref = tracker_demo.seed_reference_data(rng)
            self.stdout.write(
                f"Reference data: {len(ref['clients'])} clients, {len(ref['brands'])} brands, "
                f"{len(ref['runs'])} production runs, {len(ref['storage'])} storage and "
                f"{len(ref['delivery'])} delivery locations, {len(ref['images'])} images"
            )
            tracker_demo.seed_trackers(
                rng, ref, trackers=opts["trackers"], history=opts["history"], now=now, progress=self._progress
            )
            users = content_demo.seed_users(rng, users=opts["users"], today=now.date())
            tracker_demo.seed_memberships(users, ref["clients"])
            self.stdout.write(f"Users: {len(users)} demo users with onboarding, strategies, calendars, performance")
            password, generated = self._admin(opts)
        self._bars.finish()
        self._after_seed()
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Seeded in {elapsed:.1f} s."))
        shown = password if generated or opts["admin_password"] else "(from $DEMO_ADMIN_PASSWORD)"
        self.stdout.write(self.style.WARNING(f"Admin login: {opts['admin_username']} / {shown}"))
        if generated:
            self.stdout.write("Forgot it? `.venv/bin/python manage.py reset_admin_password` prints a new one.")

    def _admin(self, opts):
        password = opts["admin_password"] or os.environ.get("DEMO_ADMIN_PASSWORD")
        return admin_set_password(username=opts["admin_username"], password=password)

    def _after_seed(self):
        """Drop every cached value derived from the tables just rewritten (bulk writes send no signals)."""
        try:
            from cachecore.api import invalidate_all
        except ImportError:
            return
        invalidate_all(source="seed_demo_data")

    def _progress(self, label: str, done: int, total: int):
        if label != self._step:
            self._step = label
            self._bars.start(label, total)
        self._bars.update(done, total)
