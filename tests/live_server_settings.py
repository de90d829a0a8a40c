"""Settings of a gunicorn started by a test: the test settings on a SQLite file of the test's own.

``LIVE_SERVER_SQLITE`` names the file (the embedded default's ``db.sqlite3`` of the checkout is
never touched); the test runs ``migrate`` on it before it starts the server.
"""

import os

from config.test_settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["LIVE_SERVER_SQLITE"]  # noqa: F405
