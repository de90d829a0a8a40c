"""cache_torture's preflight: a database that is missing or not migrated is a clear error before anything starts."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import ConnectionHandler

from monitoring.torture.preflight import check_database

pytestmark = pytest.mark.django_db  # pytest-django refuses any connection outside it, private ones too


def _connection_to(**changes):
    """A connection of its own (not the test's) with the test database's settings, changed."""
    return ConnectionHandler({"default": {**connection.settings_dict, **changes}})["default"]


def test_the_migrated_test_database_passes():
    check_database(connection)  # raises on a problem


def test_an_empty_database_names_its_unapplied_migrations(tmp_path):
    empty = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "empty.db")}})
    with pytest.raises(RuntimeError, match=r"'.*empty\.db' has \d+ unapplied migration\(s\): run manage.py migrate"):
        check_database(empty["default"])


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named_with_the_servers_reason():
    # The test database's settings carry the pool: the probe must not wait out its timeout and
    # report only "couldn't get a connection".
    missing = _connection_to(NAME="cw_torture_no_such_database")
    with pytest.raises(RuntimeError, match=r"'cw_torture_no_such_database'.*does not exist.*createdb"):
        check_database(missing)


@pytest.mark.postgres
def test_the_command_on_a_missing_database_fails_with_one_line_and_starts_nothing():
    params = connection.settings_dict
    url = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/cw_torture_no_such_database"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "cache_torture", "--seconds", "1", "--processes", "1", "--json"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "CommandError: cannot connect to the database 'cw_torture_no_such_database'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no run, no summary
