"""The Grafana dashboards, checked offline (there is no Grafana server here): every panel's
PromQL runs on a real Prometheus, the JSON type-checks against @grafana/schema with tsc
--strict, the uids are unique, and the role applies them as sidecar ConfigMaps idempotently."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from conftest import ROOT, create_namespace, delete_namespace
from kubernetes import client

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import dashboards as d

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
NPM_DIR = ROOT / "hack" / "dashboards"
TSC = NPM_DIR / "node_modules" / ".bin" / "tsc"
ROLE = "tests/integration/playbooks/dashboards_role.yml"
APPLY = "Dashboards | the boards as ConfigMaps for the Grafana sidecar"
# What Grafana puts in for its own variables when it runs a panel's query.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "10m"}
# The backfilled samples' fixed end (the queries ask at this time, not "now").
END = (int(time.time()) // 60) * 60 - 120
EXTRA = [
    {
        "name": "queues",
        "title": "Queues",
        "panels": [
            {"title": "Plan backlog", "expr": 'sum(mplp_plan_execution_backlog{namespace="$namespace"})'},
            {"title": "p95", "type": "stat", "unit": "s", "exprs": [{"expr": "max(mplp_response_time_p95)"}]},
        ],
    }
]


def platforms():
    """The shipped inventories' platforms: (inventory, name, namespace, components)."""
    found = []
    for inventory in ("mplp", "langgraph", "demo"):
        desc = yaml.safe_load((ROOT / "inventories" / inventory / "group_vars/all/platform.yml").read_text())
        found.append(
            (inventory, desc["platform_name"], desc["platform_namespace"], desc["platform_components"])
        )
    return found


def all_dashboards():
    """Every board of every inventory (the demo's is MPLP's on the local stack), with extra."""
    boards = []
    for inventory, name, namespace, components in platforms():
        extra = EXTRA if inventory == "mplp" else None
        for board in d.render_dashboards(components, name, namespace, extra=extra):
            boards.append(dict(board, inventory=inventory, namespace=namespace, components=components))
    return boards


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openmetrics(namespace, job):
    """Ten minutes of samples every 15 s in the exporters' names, for one platform: requests
    at 10/s with 1/s of them 500s, a latency histogram, a pod's CPU, memory and requests."""
    pod = "%s-0" % job
    lines = {
        "http_requests_total": ("counter", []),
        "http_request_duration_seconds_bucket": ("counter", []),
        "container_cpu_usage_seconds_total": ("counter", []),
        "container_memory_working_set_bytes": ("gauge", []),
        "kube_pod_container_resource_requests": ("gauge", []),
        "up": ("gauge", []),
    }
    app = 'namespace="%s",job="%s",pod="%s"' % (namespace, job, pod)
    ctr = 'namespace="%s",pod="%s",container="app"' % (namespace, pod)
    for i in range(41):
        ts = END - 600 + 15 * i
        t = 15 * i

        def add(metric, labels, value, ts=ts):
            lines[metric][1].append("%s{%s} %s %d" % (metric, labels, value, ts))

        add("http_requests_total", app + ',handler="/api",status="200"', 9 * t)
        add("http_requests_total", app + ',handler="/api",status="500"', 1 * t)
        for le, share in (("0.1", 0.5), ("0.5", 0.9), ("+Inf", 1.0)):
            add("http_request_duration_seconds_bucket", app + ',le="%s"' % le, share * 10 * t)
        add("container_cpu_usage_seconds_total", ctr, 0.25 * t)
        add("container_memory_working_set_bytes", ctr, 512 * 2**20)
        add("kube_pod_container_resource_requests", ctr + ',resource="cpu",unit="core"', 0.5)
        add("up", app, 1)
    text = []
    for metric, (kind, samples) in lines.items():
        family = metric[: -len("_total")] if kind == "counter" and metric.endswith("_total") else metric
        text.append("# TYPE %s %s" % (family, kind))
        text.extend(samples)
    return text


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A throwaway Prometheus of this file: its own TSDB with backfilled samples of the
    LangGraph platform, on a free loopback port; stopped at the end."""
    tmp = tmp_path_factory.mktemp("prometheus")
    source = tmp / "samples.om"
    source.write_text(
        "\n".join(openmetrics("langgraph-multi-agent", "langgraph-multi-agent") + ["# EOF", ""])
    )
    data = tmp / "data"
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        check=True,
        capture_output=True,
    )
    config = tmp / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            "--config.file=%s" % config,
            "--storage.tsdb.path=%s" % data,
            "--storage.tsdb.retention.time=400d",
            "--web.listen-address=127.0.0.1:%d" % port,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("prometheus did not start: %s" % proc.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def query(url, expr):
    params = urllib.parse.urlencode({"query": expr, "time": END})
    try:
        with urllib.request.urlopen("%s/api/v1/query?%s" % (url, params), timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        return json.load(exc)


def grafana_values(board):
    jobs = [v for v in board["json"]["templating"]["list"] if v["name"] == "job"][0]["allValue"]
    return dict(GRAFANA_VARIABLES, namespace=board["namespace"], job=jobs)


def test_every_panels_query_runs_on_prometheus(prometheus):
    boards = all_dashboards()
    checked, problems = 0, []
    for board in boards:
        values = grafana_values(board)
        for title, ref, expr in d.queries(board["json"]):
            answer = query(prometheus, d.expand(expr, values))
            checked += 1
            if answer.get("status") != "success" or answer.get("warnings"):
                problems.append("%s %s %s/%s: %s" % (board["inventory"], board["uid"], title, ref, answer))
    assert not problems, "\n".join(problems)
    assert checked > 100 and len(boards) == 13


def test_the_queries_find_the_platforms_series(prometheus):
    """The selectors match what a ServiceMonitor and cAdvisor label the series with: the
    LangGraph boards answer with the backfilled values."""
    (_inv, name, namespace, components) = platforms()[1]
    boards = {b["name"]: b for b in d.render_dashboards(components, name, namespace)}

    def value(board, title, ref="A"):
        values = dict(GRAFANA_VARIABLES, namespace=namespace, job="langgraph-multi-agent")
        (expr,) = [e for t, r, e in d.queries(boards[board]["json"]) if (t, r) == (title, ref)]
        result = query(prometheus, d.expand(expr, values))["data"]["result"]
        assert len(result) == 1, (title, expr, result)
        return float(result[0]["value"][1])

    assert value("system-overview", "Services up") == 1
    assert value("system-overview", "Requests per second") == pytest.approx(10)
    assert value("system-overview", "Error rate (5xx)") == pytest.approx(0.1)
    assert 0.1 < value("system-overview", "Response time", "B") <= 0.5  # p95 in the 0.1-0.5 bucket
    assert value("performance", "CPU usage / requests") == pytest.approx(0.5)
    # another namespace sees nothing of it
    other = d.expand(
        d.queries(boards["system-overview"]["json"])[1][2], dict(GRAFANA_VARIABLES, namespace="x", job=".*")
    )
    assert query(prometheus, other)["data"]["result"] == []


def test_uids_are_unique_across_boards_and_platforms():
    boards = [b for b in all_dashboards() if b["inventory"] != "demo"]  # the demo is MPLP itself
    uids = [b["uid"] for b in boards]
    assert len(uids) == len(set(uids)) == 9
    assert all(len(u) <= d.UID_MAX for u in uids)


def typescript(boards, name):
    body = ['import type { Dashboard } from "@grafana/schema";', ""]
    for i, board in enumerate(boards):
        body.append("export const board%d: Dashboard = %s;" % (i, json.dumps(board, indent=1)))
    return name, "\n".join(body) + "\n"


def test_the_json_type_checks_against_grafana_schema_and_a_broken_board_does_not(tmp_path):
    assert TSC.exists(), "%s missing: run hack/setup.sh (npm ci in hack/dashboards)" % TSC
    boards = [b["json"] for b in all_dashboards()]
    wrong_type = json.loads(json.dumps(boards[0]))
    wrong_type["panels"][0]["gridPos"]["h"] = "8"
    unknown_field = json.loads(json.dumps(boards[1]))
    unknown_field["panels"][1]["datasources"] = unknown_field["panels"][1].pop("datasource")
    files = dict([typescript(boards, "boards.ts"), typescript([wrong_type, unknown_field], "broken.ts")])
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "node_modules").symlink_to(NPM_DIR / "node_modules")
    # all boards in one run (tsc starts in about a second, checks them all in a few more)
    proc = subprocess.run(
        [
            str(TSC),
            "--noEmit",
            "--strict",
            "--skipLibCheck",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--target",
            "es2022",
            *files,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in proc.stdout.splitlines() if re.match(r"^\S+\.ts\(\d+,\d+\): error", line)]
    assert proc.returncode != 0 and errors, proc.stdout + proc.stderr
    assert [e for e in errors if not e.startswith("broken.ts(")] == [], "\n".join(errors)
    assert any("TS2322: Type 'string' is not assignable to type 'number'" in e for e in errors), errors
    assert any("TS2353" in e and "datasources" in e for e in errors), errors  # not a known property
    assert len(errors) == 2, errors


@pytest.fixture
def dashboards_namespace(kube):
    namespace = create_namespace(kube, "it-dash")
    yield namespace
    delete_namespace(kube, namespace)


def test_the_role_applies_the_boards_as_sidecar_configmaps_once(ansible, kube, dashboards_namespace):
    (_inv, name, _ns, components) = platforms()[1]
    extra = {
        "platform_name": name,
        "platform_namespace": "langgraph-multi-agent",
        "platform_components": components,
        "monitoring_dashboards_namespace": dashboards_namespace,
        "monitoring_dashboards_folder": "LangGraph",
        "monitoring_labels": {"release": "kube-prometheus-stack"},
        "monitoring_dashboards_datasource_uid": "prometheus",
    }

    def apply(*args):
        run = ansible(ROLE, limit="us-east-1", extra_vars=extra, args=args)
        assert run.rc == 0, run.failure_messages() or run.stdout[-3000:] + run.stderr[-2000:]
        return run.results(APPLY, "us-east-1")

    core = client.CoreV1Api(kube["us-east-1"])

    def configmaps():
        found = core.list_namespaced_config_map(
            dashboards_namespace, label_selector="grafana_dashboard=1"
        ).items
        return {cm.metadata.name: cm for cm in found}

    checked = apply("--check", "--diff")
    assert checked["changed"] is True and configmaps() == {}

    assert apply()["changed"] is True
    maps = configmaps()
    assert sorted(maps) == [
        "langgraph-business-dashboard",
        "langgraph-errors-dashboard",
        "langgraph-performance-dashboard",
        "langgraph-system-overview-dashboard",
    ]
    cm = maps["langgraph-performance-dashboard"]
    assert cm.metadata.labels == {"grafana_dashboard": "1", "release": "kube-prometheus-stack"}
    assert cm.metadata.annotations["grafana_folder"] == "LangGraph"
    board = json.loads(cm.data["langgraph-performance.json"])
    assert board["uid"] == "langgraph-performance"
    # Grafana's legends arrive as written, not templated by Ansible
    assert any(t["legendFormat"] == "{{pod}}" for p in board["panels"] for t in p["targets"])
    assert board["templating"]["list"][0]["current"] == {"text": "prometheus", "value": "prometheus"}

    assert apply()["changed"] is False
    assert apply("--check", "--diff")["changed"] is False
    assert sorted(configmaps()) == sorted(maps)


def test_a_wrong_board_fails_before_anything_is_written(ansible, kube, dashboards_namespace):
    (_inv, name, _ns, components) = platforms()[1]
    extra = {
        "platform_name": name,
        "platform_namespace": "langgraph-multi-agent",
        "platform_components": components,
        "monitoring_dashboards_namespace": dashboards_namespace,
        "monitoring_dashboards_extra": [{"name": "queues", "panels": [{"title": "Backlog"}]}],
    }
    run = ansible(ROLE, limit="us-east-1", extra_vars=extra)
    assert run.rc != 0
    assert any(
        "grafana_dashboards: board 'queues', panel 'Backlog': needs expr or exprs (PromQL)" in m
        for m in run.failure_messages()
    ), run.failure_messages() or run.stdout[-3000:]
    maps = client.CoreV1Api(kube["us-east-1"]).list_namespaced_config_map(dashboards_namespace).items
    assert [cm.metadata.name for cm in maps if "grafana_dashboard" in (cm.metadata.labels or {})] == []
