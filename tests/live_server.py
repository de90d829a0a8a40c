"""A gunicorn of one test (``gunicorn -c gunicorn.conf.py config.wsgi``) on a free port and its own SQLite file.

The embedded default whatever the suite runs on (DATABASE_URL and REDIS_URL are removed), so
the test needs no shared service; stopped (and only it) by the test that started it.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]


class LiveServer:
    """Migrate a fresh SQLite file, then run gunicorn on it with ``extra_env``."""

    def __init__(self, tmp_path: Path, *, log: Path | None = None, **extra_env: str):
        self.port = free_port()
        self.log = log  # gunicorn's output (access log, tracebacks) goes there when given
        (tmp_path / "prometheus").mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.live_server_settings",
                "LIVE_SERVER_SQLITE": str(tmp_path / "live.sqlite3"),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "WEB_CONCURRENCY": "1",  # one worker unless asked: the per-process figures are the server's
                **extra_env,
            }
        )
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` with the server's environment; return its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def start(self) -> "LiveServer":
        """Migrate, start gunicorn and wait until /api/health answers."""
        self.manage("migrate", "--noinput", "-v0")
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "-c", "gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab") if self.log else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=1):  # noqa: S310 - our http URL
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {self.process.returncode}") from None
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 30 s")

    def get_json(self, path: str, authorization: str | None = None):
        """Return the decoded JSON body of a GET of ``path`` on this server."""
        request = urllib.request.Request(self.url + path)  # noqa: S310 - always http://127.0.0.1
        if authorization:
            request.add_header("Authorization", authorization)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def stop(self) -> None:
        """Stop this gunicorn (graceful, then killed)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
