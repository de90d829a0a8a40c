"""The README's commands work from a fresh copy of the project with no environment variable set.

The copy gets the `.env` that `make` writes (``python -m config.env``) and nothing else; the
commands then run with an environment holding only PATH and HOME, as a newcomer's shell would.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".env", "db.sqlite3*", "__pycache__", ".git", "staticfiles", "artifacts", ".pytest_cache", ".ruff_cache"
)


@pytest.fixture
def fresh_copy(tmp_path):
    target = tmp_path / "cachewarden"
    shutil.copytree(ROOT, target, ignore=NOT_COPIED)
    return target


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(project)}
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=clean_env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_readme_commands_run_as_written_after_make_writes_the_env_file(fresh_copy):
    assert run(fresh_copy, "-m", "config.env").returncode == 0  # what `make venv`/`make run` do first
    assert "SECRET_KEY=" in (fresh_copy / ".env").read_text()

    for command in (
        ["manage.py", "migrate", "--noinput", "-v0"],
        ["manage.py", "cleanup_cache", "--dry-run"],
        ["manage.py", "create_cache_table", "--action", "status"],
    ):
        proc = run(fresh_copy, *command)
        assert proc.returncode == 0, f"{command}: {proc.stderr}"
    proc = run(fresh_copy, "manage.py", "reset_admin_password")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Admin login: admin / ")


def test_without_the_env_file_a_command_says_what_is_missing_in_one_line(fresh_copy):
    proc = run(fresh_copy, "manage.py", "cleanup_cache", "--dry-run")

    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("Configuration error: SECRET_KEY must be set when DEBUG is off.")
    assert "Traceback" not in proc.stderr


def test_the_environment_wins_over_the_env_file(fresh_copy):
    (fresh_copy / ".env").write_text("DEBUG=1\nSECRET_KEY=from-the-file\nALLOWED_HOSTS=file.example\n")
    probe = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); "
        "from django.conf import settings; django.setup(); print(settings.ALLOWED_HOSTS)"
    )

    proc = run(fresh_copy, "-c", f"import os; os.environ['ALLOWED_HOSTS'] = 'env.example'; {probe}")
    from_file = run(fresh_copy, "-c", probe)

    assert "env.example" in proc.stdout and "file.example" not in proc.stdout, proc.stderr
    assert "file.example" in from_file.stdout, from_file.stderr
