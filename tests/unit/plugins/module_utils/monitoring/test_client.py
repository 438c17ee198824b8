"""The PromQL client: a local HTTP server standing in for Prometheus (auth headers,
keep-alive, timeouts, refused connections), the service proxy over FakeApi, and many
queries at once over a fake transport (bounded concurrency, failures by name)."""

import http.server
import json
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import client as pc
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql


def vector(value):
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, value]}]},
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self):  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        args = parse_qs(parts.query)
        self.server.seen.append({"path": parts.path, "args": args, "auth": self.headers.get("Authorization")})
        query = args.get("query", [""])[0]
        if query == "slow":
            time.sleep(1.0)
        if query == "bad(":
            self.reply(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
        else:
            self.reply(200, vector("2"))

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen = []
        self.connections = 0

    def get_request(self):
        self.connections += 1
        return super().get_request()


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv, prefix=""):
    return "http://127.0.0.1:%d%s" % (srv.server_address[1], prefix)


def queries(n, **extra):
    return [
        dict({"name": "q%d" % i, "query": "up", "type": "instant", "time": 1795000000.0}, **extra)
        for i in range(n)
    ]


def test_direct_instant_query_with_prefix_and_server_timeout(server):
    prom = pc.Prometheus(pc.Direct(url(server, "/prom/")), timeout=5)
    result = prom.query(queries(1)[0])
    assert result["series"][0]["value"] == 2.0
    seen = server.seen[0]
    assert seen["path"] == "/prom/api/v1/query"
    assert seen["args"] == {"query": ["up"], "time": ["1795000000"], "timeout": ["5s"]}
    assert seen["auth"] is None


def test_direct_bearer_and_basic(server):
    pc.Prometheus(pc.Direct(url(server), bearer_token="t0k")).query(queries(1)[0])
    pc.Prometheus(pc.Direct(url(server), username="ops", password="pw")).query(queries(1)[0])
    assert server.seen[0]["auth"] == "Bearer t0k"
    assert server.seen[1]["auth"] == "Basic b3BzOnB3"  # base64("ops:pw")


def test_many_queries_share_keep_alive_connections(server):
    prom = pc.Prometheus(pc.Direct(url(server), maxsize=4), concurrency=4)
    results, errors = prom.run(queries(40))
    assert errors == {}
    assert list(results) == ["q%d" % i for i in range(40)]
    assert server.connections <= 4


def test_failures_name_the_query_and_the_cause(server):
    prom = pc.Prometheus(pc.Direct(url(server)), timeout=0.3, concurrency=3)
    specs = queries(2) + [
        dict(queries(1)[0], name="broken", query="bad("),
        dict(queries(1)[0], name="sleepy", query="slow"),
    ]
    results, errors = prom.run(specs)
    assert sorted(results) == ["q0", "q1"]
    assert str(errors["broken"]) == "Query 'broken' failed: HTTP 400, bad_data: parse error"
    assert errors["sleepy"].kind == "timeout"
    assert str(errors["sleepy"]).startswith("Query 'sleepy' failed: no answer from http://127.0.0.1:")
    assert "within 0.3s (timeout)" in str(errors["sleepy"])


def test_refused_connection():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prom = pc.Prometheus(pc.Direct("http://127.0.0.1:%d" % port), timeout=2)
    with pytest.raises(promql.QueryError) as err:
        prom.query(queries(1)[0])
    assert err.value.kind == "unreachable"
    assert "connection refused" in str(err.value)


def test_mtls_and_ca_reach_the_pool(tmp_path):
    direct = pc.Direct("https://prom:9090", client_cert="/c.pem", client_key="/k.pem", ca_cert="/ca.pem")
    kw = direct.pool.connection_pool_kw
    assert (kw["cert_file"], kw["key_file"], kw["ca_certs"], kw["cert_reqs"]) == (
        "/c.pem",
        "/k.pem",
        "/ca.pem",
        "CERT_REQUIRED",
    )
    assert (
        pc.Direct("https://prom:9090", validate_certs=False).pool.connection_pool_kw["cert_reqs"]
        == "CERT_NONE"
    )


def test_service_proxy_goes_through_the_registry_path():
    path = resources.service_proxy_path("monitoring", "prometheus", "9090", "/api/v1/query")
    api = fakes.FakeApi({path: vector("7")})
    prom = pc.Prometheus(pc.ServiceProxy(api, "monitoring", "prometheus", "9090"))
    assert prom.query(queries(1)[0])["series"][0]["value"] == 7.0
    assert api.calls == [("GET", path)]


def test_service_proxy_answer_of_the_api_server():
    api = fakes.FakeApi()  # no such object: the API server's own 404 Status
    prom = pc.Prometheus(pc.ServiceProxy(api, "monitoring", "prometheus", "9090"))
    with pytest.raises(promql.QueryError, match="Query 'q0' failed: HTTP 404 from the Kubernetes API server"):
        prom.query(queries(1)[0])


class TimingOut(fakes.FakeApi):
    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        raise ApiError("timeout", "GET %s timed out" % path)


def test_service_proxy_timeout():
    prom = pc.Prometheus(pc.ServiceProxy(TimingOut(), "monitoring", "prometheus", None), timeout=2)
    with pytest.raises(promql.QueryError) as err:
        prom.query(queries(1)[0])
    assert err.value.kind == "timeout"
    assert "service monitoring/prometheus through the API server's proxy" in str(err.value)


class Counting:
    """A transport that counts queries in flight at once. Each query waits (up to 5 s) until
    ``target`` are in flight, so the peak does not depend on how fast threads start on a busy
    machine: the pool must let ``target`` run together, and a pool that let more run would
    show a higher peak."""

    def __init__(self, target):
        self.target = target
        self.cond = threading.Condition()
        self.now = self.peak = 0

    def get(self, path, params, timeout):
        with self.cond:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.peak >= self.target, timeout=5)
        time.sleep(0.01)
        with self.cond:
            self.now -= 1
        return 200, json.dumps(vector(dict(params)["query"].count("x"))).encode()


@pytest.mark.parametrize("concurrency, peak", [(1, 1), (3, 3), (50, 20)])
def test_concurrency_is_bounded(concurrency, peak):
    transport = Counting(peak)
    results, errors = pc.Prometheus(transport, concurrency=concurrency).run(queries(20))
    assert len(results) == 20 and not errors
    assert transport.peak == peak
