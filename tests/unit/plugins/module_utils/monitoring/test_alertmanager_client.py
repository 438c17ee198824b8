"""The silences client against a local HTTP server standing in for Alertmanager's API v2:
the requests it sends, and failures that name the server, the request and the cause."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import alertmanager_client as amc


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.seen.append(("GET", self.path, self.headers.get("Authorization"), None))
        self._answer(200, [{"id": "a", "status": {"state": "active"}}])

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(("POST", self.path, self.headers.get("Authorization"), body))
        if not body.get("matchers"):
            self._answer(400, "missing matchers")
        else:
            self._answer(200, {"silenceID": "new-id"})

    def do_DELETE(self):
        self.server.seen.append(("DELETE", self.path, self.headers.get("Authorization"), None))
        self._answer(200, {})


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.seen = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url_of(srv, prefix=""):
    return "http://127.0.0.1:%d%s" % (srv.server_address[1], prefix)


def test_list_create_and_expire_under_a_path_prefix_with_a_bearer_token(server):
    api = amc.AlertmanagerClient(url_of(server, "/am/"), bearer_token="t0k")
    assert api.silences() == [{"id": "a", "status": {"state": "active"}}]
    assert api.create({"matchers": [{"name": "platform", "value": "mplp"}]}) == "new-id"
    api.expire("a/b")
    assert [(m, p, a) for m, p, a, _ in server.seen] == [
        ("GET", "/am/api/v2/silences", "Bearer t0k"),
        ("POST", "/am/api/v2/silences", "Bearer t0k"),
        ("DELETE", "/am/api/v2/silence/a%2Fb", "Bearer t0k"),
    ]


def test_an_http_error_names_the_request_and_the_answer(server):
    api = amc.AlertmanagerClient(url_of(server), username="ops", password="pw")
    with pytest.raises(
        amc.AlertmanagerError, match=r"POST http://127\.0\.0\.1:\d+/api/v2/silences answered HTTP 400"
    ):
        api.create({"matchers": []})
    assert server.seen[0][2].startswith("Basic ")


def test_a_refused_connection_names_the_server_and_what_was_tried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = amc.AlertmanagerClient("http://127.0.0.1:%d" % port, timeout=2)
    with pytest.raises(
        amc.AlertmanagerError, match="cannot reach Alertmanager at .* to list the silences: .*refused"
    ):
        api.silences()
