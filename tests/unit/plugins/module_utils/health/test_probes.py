"""HTTP probes against a real local server; URL validation; attempt combination."""

import http.server
import socket
import threading
import time

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.health import probes


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/close":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        code = 500 if self.path == "/fail" else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


PROBER = probes.HttpProber()


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ok(server):
    ok, status, error, seconds = PROBER.get(server + "/health", 2)
    assert (ok, status, error) == (True, 200, None)
    assert seconds < 1


def test_http_500(server):
    assert PROBER.get(server + "/fail", 2)[:3] == (False, 500, "HTTP 500")


def test_expected_status_list(server):
    assert PROBER.get(server + "/fail", 2, expect=[500])[0] is True
    assert PROBER.get(server + "/ok", 2, expect=[204])[:3] == (False, 200, "HTTP 200")


def test_timeout(server):
    ok, status, error, seconds = PROBER.get(server + "/slow", 0.3)
    assert (ok, status) == (False, None)
    assert "timed out" in error
    assert seconds < 0.9


def test_refused():
    ok, status, error, _seconds = PROBER.get("http://127.0.0.1:%d/health" % free_port(), 1)
    assert (ok, status) == (False, None)
    assert "refused" in error


def test_closed_connection(server):
    ok, status, error, _seconds = PROBER.get(server + "/close", 2)
    assert ok is False and status is None and error


@pytest.mark.parametrize(
    "url,reason",
    [
        ("", "url is empty"),
        ("localhost:8080/health", "scheme must be http or https"),
        ("ftp://example.com/x", "scheme must be http or https"),
        ("http:///health", "no host"),
        ("http://host:99999/health", "malformed url"),
        ("http://host:abc/health", "malformed url"),
    ],
)
def test_malformed_urls_are_named(url, reason):
    with pytest.raises(probes.InputError, match=reason) as err:
        probes.validate_url("core", url)
    assert "endpoint 'core'" in str(err.value)


def test_combine_attempts_first_failure_wins():
    attempts = [(True, 200, None, 0.1), (False, 503, "HTTP 503", 0.2), (True, 200, None, 0.3)]
    r = probes.combine_attempts("h", "core", "http://x", attempts)
    assert r["ok"] is False and r["status"] == 503 and r["error"] == "HTTP 503"
    assert r["latencies"] == [0.1, 0.3] and r["failed_attempts"] == 1


def test_database_and_cache_unreachable_are_results_not_exceptions():
    port = free_port()
    db = probes.postgres_check(
        {"host": "127.0.0.1", "port": port, "user": "u", "password": "s3cret", "timeout": 1}
    )
    assert db["ok"] is False and "s3cret" not in db["error"]
    cache = probes.redis_check({"host": "127.0.0.1", "port": port, "password": "s3cret", "timeout": 1})
    assert cache["ok"] is False and "s3cret" not in cache["error"]
    assert "refused" in cache["error"].lower() or "connect" in cache["error"].lower()
