"""``manage.py check --deploy`` with the documented production settings reports only security.W021.

README (Production): ``DEBUG=0``, a real ``SECRET_KEY``, ``ALLOWED_HOSTS``; the backends are those of
the running half (embedded, or DATABASE_URL + REDIS_URL), so CI checks both. W021
(SECURE_HSTS_PRELOAD off) is documented as the operator's choice.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = {"security.W021"}
CLEARED = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL", "DJANGO_SETTINGS_MODULE", "MONITORING_TOKEN")


def check_deploy() -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="cachewarden.example.com",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    command = [sys.executable, "manage.py", "check", "--deploy"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_only_the_documented_warning():
    proc = check_deploy()
    assert proc.returncode == 0, proc.stderr
    reported = set(re.findall(r"\(([a-z_]+\.[A-Z]\d{3})\)", proc.stdout + proc.stderr))
    assert reported == DOCUMENTED, proc.stdout + proc.stderr
