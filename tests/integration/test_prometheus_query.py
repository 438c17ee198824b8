"""prometheus_query against the stack's real Prometheus (Debian's 2.42) and its 30 days of
backfilled series (tests/stack/backfill.py, fixed timestamps), a second Prometheus that
wants mutual TLS and basic authentication, the emulator's service proxy, and one alert
end to end: the scraped stand-in switched to errors -> Prometheus -> Alertmanager -> a
webhook receiver here, within 30 s."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))
import backfill  # noqa: E402
import stack as local_stack  # noqa: E402

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import rules  # noqa: E402

pytestmark = [pytest.mark.integration]
PLAYBOOK = "tests/integration/playbooks/prometheus_query.yml"
CLUSTER = "us-east-1"
# A fixed instant inside the backfilled month (day 20, 12:00 UTC) and its last sample.
AT = backfill.END - 10 * 86400 + 12 * 3600
START = backfill.END - backfill.DAYS * 86400
LAST = backfill.END - backfill.STEP
CORE = 'http_requests_total{service="mplp-core",region="us-east-1"}'
CORE_ERRORS = 'http_requests_total{status="500",service="mplp-core",region="us-east-1"}'


@pytest.fixture(scope="module")
def monitoring(stack_facts):
    """The stack's monitoring facts; starts Alertmanager, Prometheus and the scraped stand-in
    when they are not running (idempotent)."""
    return local_stack.monitoring_up()


def call(ansible, **options):
    run = ansible(PLAYBOOK, limit=CLUSTER, extra_vars={"pq_%s" % k: v for k, v in options.items()})
    return run, run.results("Query call", CLUSTER)


@pytest.mark.parallel
def test_instant_queries_at_a_fixed_time(ansible, monitoring):
    prom = monitoring["prometheus"]
    queries = [
        {
            "name": "cpu_requests",
            "query": 'sum by (region) (kube_pod_container_resource_requests{resource="cpu"})',
        },
        {"name": "components", "query": "count by (region) (container_memory_working_set_bytes)"},
        {
            "name": "pods_of_core",
            "query": 'count(count_over_time(kube_pod_owner{pod=~"mplp-core-.*",region="eu-west-1"}[30d]))',
        },
        {
            "name": "errors_in_incident",
            "query": "sum(rate(%s[10m])) / sum(rate(%s[10m]))" % (CORE_ERRORS, CORE),
        },
    ]
    run, res = call(
        ansible,
        url=prom,
        queries=[dict(q, time=AT) for q in queries[:2]]
        + [dict(queries[2], time=LAST), dict(queries[3], time=backfill.INCIDENT["start"] + 1800)],
    )
    assert run.rc == 0, run.failure_messages()
    out = res["query_results"]
    by_region = {s["metric"]["region"]: s["value"] for s in out["cpu_requests"]["series"]}
    for region in backfill.REGIONS:
        expected = sum(backfill.profile(region, c)["cpu_request"] for c in backfill.COMPONENTS)
        assert by_region[region] == pytest.approx(expected)
    assert {s["metric"]["region"]: s["value"] for s in out["components"]["series"]} == {
        r: float(len(backfill.COMPONENTS)) for r in backfill.REGIONS
    }
    assert all(s["time"] == AT for s in out["components"]["series"])
    assert out["pods_of_core"]["series"][0]["value"] == len(backfill.pods("eu-west-1", "core"))
    assert out["errors_in_incident"]["series"][0]["value"] == pytest.approx(0.2, abs=0.01)
    assert res["changed"] is False and res["errors"] == {}


@pytest.mark.parallel
def test_range_over_thirty_days_at_five_minutes(ansible, monitoring):
    query = 'sum by (region) (container_memory_working_set_bytes{container="core"})'
    run, res = call(
        ansible, url=monitoring["prometheus"], query=query, type="range", start=START, end=LAST, step="5m"
    )
    assert run.rc == 0, run.failure_messages()
    series = res["query_results"]["query"]["series"]
    assert sorted(s["metric"]["region"] for s in series) == sorted(backfill.REGIONS)
    for s in series:
        assert len(s["values"]) == backfill.DAYS * 86400 // backfill.STEP
        assert s["values"][0][0] == START and s["values"][-1][0] == LAST
        assert all(isinstance(v, float) for _, v in s["values"])


@pytest.mark.parallel
def test_check_mode_runs_the_queries(ansible, monitoring):
    run = ansible(
        PLAYBOOK,
        limit=CLUSTER,
        extra_vars={"pq_url": monitoring["prometheus"], "pq_query": "vector(1)"},
        args=["--check"],
    )
    res = run.results("Query call", CLUSTER)
    assert run.rc == 0 and res["query_results"]["query"]["series"][0]["value"] == 1.0
    assert res["changed"] is False


@pytest.mark.parallel
def test_a_hundred_queries_in_one_task(ansible, monitoring):
    queries = [
        {
            "name": "%s_%s_%s" % (metric, region, comp),
            "query": 'sum(%s{region="%s",container="%s"})' % (metric, region, comp),
            "time": AT,
        }
        for metric in ("container_memory_working_set_bytes", "kube_pod_container_resource_requests")
        for region in backfill.REGIONS
        for comp in backfill.COMPONENTS
    ][:100]
    queries += [
        {"name": "total_%d" % i, "query": "count(up) + %d" % i, "time": AT} for i in range(100 - len(queries))
    ]
    run, res = call(ansible, url=monitoring["prometheus"], queries=queries, concurrency=16)
    assert run.rc == 0, run.failure_messages()
    assert sorted(res["query_results"]) == sorted(q["name"] for q in queries)
    assert all(r["series"] for r in res["query_results"].values() if r["query"].startswith("sum"))


@pytest.mark.parallel
def test_failures_name_the_query(ansible, monitoring):
    run, res = call(
        ansible,
        url=monitoring["prometheus"],
        queries=[{"name": "fine", "query": "vector(1)"}, {"name": "broken", "query": "sum(rate(x[5m]"}],
    )
    assert run.rc != 0
    assert res["msg"].startswith("1 of 2 queries failed: Query 'broken' failed: HTTP 400, bad_data: ")
    assert list(res["query_results"]) == ["fine"]


@pytest.mark.parallel
def test_timeout(ansible, monitoring):
    heavy = (
        "sum(quantile_over_time(0.99, container_memory_working_set_bytes[30d]))"
        " * count(count_over_time(http_requests_total[30d]))"
    )
    run, res = call(ansible, url=monitoring["prometheus"], query=heavy, time=LAST, timeout=0.001)
    assert run.rc != 0
    assert "Query 'query' failed: " in res["msg"] and "timeout" in res["msg"]


@pytest.mark.parallel
def test_unreachable(ansible):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run, res = call(ansible, url="http://127.0.0.1:%d" % port, query="up", timeout=5)
    assert run.rc != 0
    cause = "cannot connect to http://127.0.0.1:%d: connection refused" % port
    assert res["msg"] == "1 of 1 queries failed: Query 'query' failed: " + cause


# -- a Prometheus that wants mutual TLS and basic authentication -----------------------------
def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _cert(cwd, name, ca=True, san=None):
    key_args = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "%s.key" % name,
    ]
    if ca:
        _openssl(
            "req",
            "-x509",
            *key_args,
            "-out",
            "%s.crt" % name,
            "-subj",
            "/CN=%s" % name,
            "-days",
            "2",
            cwd=cwd,
        )
        return
    _openssl("req", *key_args, "-out", "%s.csr" % name, "-subj", "/CN=%s" % name, cwd=cwd)
    ext = Path(cwd, "%s.ext" % name)
    ext.write_text("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" % (san or "DNS:%s" % name))
    _openssl(
        "x509",
        "-req",
        "-in",
        "%s.csr" % name,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "%s.crt" % name,
        "-days",
        "2",
        "-extfile",
        ext.name,
        cwd=cwd,
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A second Prometheus (empty) behind mutual TLS and basic authentication."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # bcrypt hashes for the web config (Python 3.11 still has it)
    d = tmp_path_factory.mktemp("secured-prometheus")
    _cert(d, "ca")
    _cert(d, "server", ca=False, san="IP:127.0.0.1")
    _cert(d, "client", ca=False)
    password = uuid.uuid4().hex
    (d / "web.yml").write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {
                    "cert_file": str(d / "server.crt"),
                    "key_file": str(d / "server.key"),
                    "client_auth_type": "RequireAndVerifyClientCert",
                    "client_ca_file": str(d / "ca.crt"),
                },
                "basic_auth_users": {"ops": crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))},
            }
        )
    )
    (d / "prometheus.yml").write_text("global: {scrape_interval: 1h}\n")
    port = _free_port()
    argv = [
        shutil.which("prometheus") or "/usr/bin/prometheus",
        "--config.file=%s" % (d / "prometheus.yml"),
        "--storage.tsdb.path=%s" % (d / "data"),
        "--web.listen-address=127.0.0.1:%d" % port,
        "--web.config.file=%s" % (d / "web.yml"),
    ]
    with open(d / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        local_stack.wait_port(port, "secured Prometheus", proc=proc, logfile=d / "prometheus.log")
        yield {"url": "https://127.0.0.1:%d" % port, "dir": d, "password": password}
    finally:
        proc.terminate()
        proc.wait(10)


def _auth(secured, **over):
    d = secured["dir"]
    auth = {
        "username": "ops",
        "password": secured["password"],
        "client_cert": str(d / "client.crt"),
        "client_key": str(d / "client.key"),
        "ca_cert": str(d / "ca.crt"),
    }
    auth.update(over)
    return {k: v for k, v in auth.items() if v is not None}


@pytest.mark.parallel
def test_mutual_tls_and_basic_auth(ansible, secured):
    run, res = call(ansible, url=secured["url"], query="vector(2)", auth=_auth(secured))
    assert run.rc == 0, run.failure_messages()
    assert res["query_results"]["query"]["series"][0]["value"] == 2.0
    assert secured["password"] not in run.stdout  # no_log


@pytest.mark.parallel
def test_auth_failures(ansible, secured):
    run, res = call(ansible, url=secured["url"], query="vector(2)", auth=_auth(secured, password="wrong"))
    assert run.rc != 0
    assert res["msg"].startswith(
        "1 of 1 queries failed: Query 'query' failed: HTTP 401, not a Prometheus API answer"
    )
    run, res = call(
        ansible, url=secured["url"], query="vector(2)", auth=_auth(secured, client_cert=None, client_key=None)
    )
    assert run.rc != 0
    assert "Query 'query' failed: " in res["msg"] and (
        "TLS" in res["msg"] or "certificate" in res["msg"] or "reset" in res["msg"]
    ), res["msg"]
    run, res = call(ansible, url=secured["url"], query="vector(2)", auth=_auth(secured, ca_cert=None))
    assert run.rc != 0 and "TLS error" in res["msg"], res["msg"]


# -- through the Kubernetes API server's service proxy ---------------------------------------
@pytest.mark.parallel
@pytest.mark.emulator_only
def test_service_proxy_through_the_emulator(ansible, monitoring, kube, stack_facts):
    from kubernetes import client

    ns = "pq-%s" % uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube[CLUSTER])
    core.create_namespace({"metadata": {"name": ns}})
    info = stack_facts["clusters"][CLUSTER]
    token = Path(info["state_dir"], "token").read_text().strip()
    control = info["api"] + "/_kubemu/backends"
    try:
        # A Service without a selector and its Endpoints, as for a Prometheus outside the
        # cluster; the emulator forwards its proxy to the real server.
        core.create_namespaced_service(
            ns, {"metadata": {"name": "prometheus"}, "spec": {"ports": [{"name": "web", "port": 9090}]}}
        )
        core.create_namespaced_endpoints(
            ns,
            {
                "metadata": {"name": "prometheus"},
                "subsets": [{"addresses": [{"ip": "10.0.0.9"}], "ports": [{"name": "web", "port": 9090}]}],
            },
        )
        local_stack.http_json(
            control,
            "POST",
            {"namespace": ns, "service": "prometheus", "url": monitoring["prometheus"]},
            token=token,
        )
        queries = [
            {"name": "components", "query": "count(container_memory_working_set_bytes)", "time": AT},
            {
                "name": "range",
                "type": "range",
                "query": "vector(1)",
                "start": START,
                "end": START + 3600,
                "step": "5m",
            },
        ]
        run, res = call(
            ansible, via="service_proxy", namespace=ns, service="prometheus", port="web", queries=queries
        )
        assert run.rc == 0, run.failure_messages()
        out = res["query_results"]
        assert out["components"]["series"][0]["value"] == len(backfill.REGIONS) * len(backfill.COMPONENTS)
        assert len(out["range"]["series"][0]["values"]) == 13
        run, res = call(ansible, via="service_proxy", namespace=ns, service="absent", query="up")
        assert run.rc != 0 and "HTTP 404 from the Kubernetes API server" in res["msg"], res["msg"]
    finally:
        local_stack.http_json(control, "DELETE", {"namespace": ns, "service": "prometheus"}, token=token)
        core.delete_namespace(ns)


# -- an alert end to end -------------------------------------------------------------------
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((time.monotonic(), json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.global_state
def test_alert_fires_end_to_end_within_30_seconds(monitoring, tmp_path):
    """The collection's own HighErrorRate rule, rendered for a platform whose only component
    is the scraped stand-in (namespace label from the stack's scrape configuration), with the
    test's copy at ``for: 0s`` and a label of this run: stand-in errors -> Prometheus ->
    Alertmanager -> the test's webhook."""
    run_id = uuid.uuid4().hex[:8]
    alert = "HighErrorRate"
    ctx = rules.platform_context(
        "e2e",
        monitoring["standin_namespace"],
        [{"name": "standin", "service": {"name": monitoring["standin_job"], "port": 8080}}],
    )
    groups = rules.rule_groups(ctx, {alert: {"for": "0s"}}, labels={"test_run": run_id})
    shipped = [dict(r) for g in groups for r in g["rules"] if r["alert"] == alert]
    assert len(shipped) == 1 and shipped[0]["labels"]["severity"] == "critical"
    rule = {"groups": [{"name": "e2e-%s" % run_id, "interval": "1s", "rules": shipped}]}
    rule_file = Path(monitoring["rules_dir"]) / ("e2e-%s.yml" % run_id)
    draft = tmp_path / "rule.yml"
    draft.write_text(yaml.safe_dump(rule))
    subprocess.run(["promtool", "check", "rules", str(draft)], check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", monitoring["alert_webhook_port"]), Receiver)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    standin, prom = monitoring["standin"], monitoring["prometheus"]
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                urllib.request.urlopen(standin + "/api/v1/core/health", timeout=2).close()
            except OSError:
                pass  # the 500s are the point
            time.sleep(0.05)

    try:
        shutil.copy(draft, rule_file)
        urllib.request.urlopen(urllib.request.Request(prom + "/-/reload", method="POST"), timeout=10).close()
        local_stack.http_json(
            standin + "/_standin/mode", "POST", {"path": "/api/v1/core/health", "mode": "error"}
        )
        switched = time.monotonic()
        threading.Thread(target=traffic, daemon=True).start()
        fired = None
        while time.monotonic() - switched < 30 and fired is None:
            for at, doc in list(server.received):
                for a in doc.get("alerts", []):
                    if a["labels"].get("alertname") == alert and a["status"] == "firing":
                        fired = (at, a)
            time.sleep(0.2)
        assert fired is not None, "no %s notification within 30 s: %s" % (alert, server.received)
        at, notified = fired
        assert at - switched < 30
        assert notified["labels"]["test_run"] == run_id and notified["labels"]["severity"] == "critical"
    finally:
        stop.set()
        local_stack.http_json(standin + "/_standin/reset", "POST", {})
        rule_file.unlink(missing_ok=True)
        urllib.request.urlopen(urllib.request.Request(prom + "/-/reload", method="POST"), timeout=10).close()
        server.shutdown()
        server.server_close()
