"""Give the demo staff user a new password (created when missing) and print it."""

from django.core.management.base import BaseCommand

from demo.admin_login import admin_set_password


class Command(BaseCommand):
    help = "Set a new password for the staff login (default user 'admin', created if missing) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="the staff user (default admin)")
        parser.add_argument("--password", default=None, help="the new password (default: a random one)")

    def handle(self, *args, **opts):
        password, _ = admin_set_password(username=opts["username"], password=opts["password"])
        self.stdout.write(self.style.SUCCESS(f"Admin login: {opts['username']} / {password}"))
        self.stdout.write("Log in at /admin/ (staff) or /accounts/login/.")
