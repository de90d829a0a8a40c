"""A real HTTP analysis service for tests, on a free port the OS picks (no clash between runs)."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = {"audience_insights": ["a"], "recommended_pillars": ["b"], "recommended_topics": ["c"]}


class FakeAnalysisService(ThreadingHTTPServer):
    """A real HTTP analysis service whose behaviour a test sets: ok, error, slow, garbage."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int):
        self.mode = "ok"
        self.requests: list[dict] = []
        self.release = threading.Event()  # ends a "slow" answer early at teardown
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        """Return the base URL the service answers on."""
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        server: FakeAnalysisService = self.server
        server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if server.mode == "slow":
            server.release.wait(5)
        status, body = {
            "ok": (200, json.dumps(ANSWER).encode()),
            "slow": (200, json.dumps(ANSWER).encode()),
            "error": (503, b'{"error": "overloaded"}'),
            "garbage": (200, b"<html>not json</html>"),
            "incomplete": (200, b'{"audience_insights": []}'),
        }[server.mode]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client timed out and hung up

    def log_message(self, *args):
        pass


def closed_port_url() -> str:
    """Return a URL on a port where nothing listens (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@contextmanager
def running_service(port: int = 0):
    """Run a fake analysis service on ``port`` (0: a free one) for the duration of the block."""
    server = FakeAnalysisService(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
