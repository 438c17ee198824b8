"""playbooks/cost_report.yml: the monthly cost per component at the inventory's prices, the
oversized pods, right-sizing advice at the replicas the HPA would hold - from the emulator's
metrics API (check mode writes nothing; a run writes cost.json, cost.md and cost.html), and
from the stack's Prometheus over the 30 backfilled days, against the generator's profile."""

from __future__ import annotations

import copy
import json
import math
import sys
import uuid
from html.parser import HTMLParser

import pytest
import yaml
from conftest import ROOT, SMALL_PLATFORM, delete_namespace, load_platform, platform_vars
from kubernetes import client

sys.path.insert(0, str(ROOT / "tests" / "stack"))
import backfill  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.parallel, pytest.mark.emulator_only]
PLAYBOOK = "playbooks/cost_report.yml"
COST = "Measure usage against the requests and cost every component"
HOST = "us-east-1"
PRICES = yaml.safe_load((ROOT / "inventories/mplp/group_vars/all/cost.yml").read_text())["cost_prices"]
MIB, GIB, HOURS = 2**20, 2**30, 730
# The demo loader's pods request 250m CPU and 256Mi memory.
REQUEST = {"cpu": 0.25, "memory": 256 * MIB}
CORE_TARGET = 70  # the HPA's CPU target (the inventory's autoscaling.cpu)


@pytest.fixture(scope="module")
def platform(ansible, kube):
    """The small platform with core at 3 replicas under an HPA (2-6, CPU 70 %); plan has none."""
    components = copy.deepcopy(SMALL_PLATFORM)
    components[0].update(replicas=3, autoscaling={"min": 2, "max": 6, "cpu": CORE_TARGET})
    namespace = "it-cost-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, components)
    yield {"namespace": namespace, "components": components}
    delete_namespace(kube, namespace)


def set_usage(faults, kube, namespace, component, usages):
    pods = client.CoreV1Api(kube[HOST]).list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=%s" % component
    )
    names = sorted(p.metadata.name for p in pods.items)
    assert len(names) == len(usages), names
    for name, usage in zip(names, usages, strict=True):
        faults._control(HOST, "metrics", {"namespace": namespace, "pod": name, "usage": usage})
    return names


def cost(ansible, platform, args=(), **extra):
    run = ansible(PLAYBOOK, limit=HOST, extra_vars=platform_vars(platform, **extra), args=args)
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]
    return run, run.results(COST, HOST)


def monthly(cpu, memory, replicas):
    return replicas * HOURS * (cpu * PRICES["vcpu_hour"] + memory / GIB * PRICES["gb_hour"])


def ceil_to(value, unit):
    return math.ceil(value / unit - 1e-9) * unit


def held(replicas, mean, request, target, low, high):
    """What an HPA holds for the same load on the new request (10 % tolerance)."""
    ratio = (mean / request * 100) / target
    desired = replicas if abs(ratio - 1) <= 0.1 else math.ceil(replicas * ratio)
    return min(max(desired, low), high)


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.components = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr" and dict(attrs).get("data-component"):
            self.components.append(dict(attrs)["data-component"])


def test_metrics_api_cost_oversized_pods_and_advice_and_check_mode_writes_nothing(
    ansible, platform, kube, faults, tmp_path
):
    ns = platform["namespace"]
    # core: two idle pods and a busy one; plan: both pods near their requests
    core_pods = set_usage(
        faults,
        kube,
        ns,
        "core",
        [
            {"cpu": "20m", "memory": "64Mi"},
            {"cpu": "20m", "memory": "64Mi"},
            {"cpu": "200m", "memory": "64Mi"},
        ],
    )
    set_usage(faults, kube, ns, "plan", [{"cpu": "225m", "memory": "200Mi"}] * 2)
    reports = tmp_path / "reports"

    planned, result = cost(ansible, platform, args=["--check"], ops_report_dir=str(reports))
    assert not reports.exists()  # check mode: nothing written
    assert result["changed"] is False and result["source"]["name"] == "metrics_api"
    got = {c["component"]: c for c in result["components"]}
    assert set(got) == {"core", "plan", "postgresql"}
    # the monthly cost of the requests at the inventory's prices
    for name, replicas in (("core", 3), ("plan", 2), ("postgresql", 1)):
        assert got[name]["monthly"]["total"] == pytest.approx(
            monthly(REQUEST["cpu"], REQUEST["memory"], replicas), abs=0.011
        )
    assert result["totals"]["monthly"] == pytest.approx(
        sum(c["monthly"]["total"] for c in got.values()), abs=0.02
    )

    # oversized by the seed's thresholds: core's idle pods on CPU (8 %), all of core's on memory (25 %)
    oversized = {p["pod"]: p["oversized"] for p in result["oversized_pods"]}
    assert oversized == {
        core_pods[0]: ["cpu", "memory"],
        core_pods[1]: ["cpu", "memory"],
        core_pods[2]: ["memory"],
    }
    assert got["plan"]["oversized"] == []

    # right-sizing core: p95 across its pods over the HPA's 70 %, at the replicas it would hold
    core = got["core"]
    p95 = 0.02 + (0.2 - 0.02) * 0.9  # linear between the 2nd and 3rd of three pods
    assert core["usage"]["p95"]["cpu"] == pytest.approx(p95, abs=1e-3)
    advice = core["advice"]
    assert advice["requests"]["cpu"] == pytest.approx(ceil_to(p95 / 0.7, 0.01))
    assert advice["requests"]["memory"] == ceil_to(64 * MIB / 0.8, MIB)  # no memory target: 80 %
    want = held(3, 0.08, advice["requests"]["cpu"], CORE_TARGET, 2, 6)
    assert advice["replicas"] == want and want < 3
    assert advice["monthly"]["total"] == pytest.approx(
        monthly(advice["requests"]["cpu"], advice["requests"]["memory"], want), abs=0.011
    )
    assert advice["saving"] == pytest.approx(core["monthly"]["total"] - advice["monthly"]["total"], abs=0.011)
    # plan uses 90 % of its CPU request: the advice raises it, at the same replicas (no HPA)
    assert got["plan"]["advice"]["replicas"] == 2 and got["plan"]["advice"]["saving"] < 0
    assert "check mode: not written" in " ".join(planned.results("Report per component", HOST)["msg"])

    _, written = cost(ansible, platform, ops_report_dir=str(reports))
    data = json.loads((reports / "cost.json").read_text())
    assert data[HOST]["components"] == written["components"]
    assert data[HOST]["totals"] == written["totals"]
    assert "invocation" not in data[HOST]
    markdown = (reports / "cost.md").read_text()
    assert "## %s:" % HOST in markdown and "| core | 3 (HPA 2-6) |" in markdown
    assert core_pods[0] in markdown
    rows = Rows()
    rows.feed((reports / "cost.html").read_text())
    assert rows.components == ["core", "plan", "postgresql"]


def profile_stats(component, start, end):
    """Mean and p95 per pod of the generator's noiseless CPU and memory over [start, end)."""
    prof = backfill.profile(HOST, component)
    span = float(backfill.DAYS * 86400)
    first = backfill.END - backfill.DAYS * 86400
    cpu, memory = [], []
    for ts in range(int(start), int(end), backfill.STEP):
        daily = backfill._daily(ts)
        progress = (ts - first) / span
        cpu.append(prof["cpu_request"] * (prof["cpu_share"] + prof["cpu_growth"] * progress) * daily)
        memory.append(
            prof["mem_request"]
            * (prof["mem_share"] + prof["mem_growth"] * progress)
            * (1 + 0.05 * (daily - 1))
        )

    def p95(values):
        ordered = sorted(values)
        pos = (len(ordered) - 1) * 0.95
        low = math.floor(pos)
        return ordered[low] + (ordered[min(low + 1, len(ordered) - 1)] - ordered[low]) * (pos - low)

    return {
        "mean": {"cpu": sum(cpu) / len(cpu), "memory": sum(memory) / len(memory)},
        "p95": {"cpu": p95(cpu), "memory": p95(memory)},
    }


def test_prometheus_p95_over_the_backfilled_month_against_the_generators_profile(
    ansible, platform, stack_facts
):
    _, result = cost(
        ansible,
        platform,
        # the Prometheus the Prometheus-backed runbooks share (cost_prometheus defaults to it)
        ops_prometheus_url=stack_facts["monitoring"]["prometheus"],
        cost_prometheus_labels={"namespace": backfill.NAMESPACE, "region": HOST},
        cost_days=backfill.DAYS,
        cost_end=backfill.END,
        cost_step=backfill.STEP,
        cost_components=["core", "plan"],
    )
    source = result["source"]
    assert source["name"] == "prometheus" and source["end"] == backfill.END
    got = {c["component"]: c for c in result["components"]}
    assert set(got) == {"core", "plan"}  # cost_components chose them
    for name, target, replicas, hpa in (("core", CORE_TARGET, 3, (2, 6)), ("plan", None, 2, None)):
        entry = got[name]
        want = profile_stats(name, source["start"], source["end"])
        measured = entry["usage"]
        # the four rollouts' pods count as one workload's, one pod at a time
        assert measured["pods"] == pytest.approx(1.0, abs=0.01)
        for stat in ("mean", "p95"):
            for resource in ("cpu", "memory"):
                close = 0.01 if stat == "mean" else 0.04  # the generator's noise moves the p95 a little
                assert measured[stat][resource] == pytest.approx(want[stat][resource], rel=close), (
                    name,
                    stat,
                )
        advice = entry["advice"]
        cpu_pct = target or 80
        assert advice["requests"]["cpu"] == pytest.approx(
            ceil_to(measured["p95"]["cpu"] / (cpu_pct / 100), 0.01)
        )
        assert advice["requests"]["cpu"] == pytest.approx(want["p95"]["cpu"] / (cpu_pct / 100), rel=0.06)
        assert advice["requests"]["memory"] == pytest.approx(want["p95"]["memory"] / 0.8, rel=0.06)
        expected = (
            held(replicas, measured["mean"]["cpu"], advice["requests"]["cpu"], target, *hpa)
            if hpa
            else replicas
        )
        assert advice["replicas"] == expected
        assert advice["monthly"]["total"] == pytest.approx(
            monthly(advice["requests"]["cpu"], advice["requests"]["memory"], expected), abs=0.011
        )
    # the window's pods (the rollouts' too), each against its own requests (the generator's, not
    # the emulator's 250m): its mean over its life, flagged by the seed's thresholds
    pods = {p["pod"]: p for p in result["pods"]}
    for name in ("core", "plan"):
        prof = backfill.profile(HOST, name)
        lives = backfill.pods(HOST, name)
        assert {pod for pod, _, _, _ in lives} <= set(pods)
        for pod, _, first, last in lives:
            want = life_pct(prof, first, last)
            got_pod = pods[pod]
            assert got_pod["component"] == name
            assert got_pod["cpu_pct"] == pytest.approx(want["cpu"], rel=0.03), pod
            assert got_pod["memory_pct"] == pytest.approx(want["memory"], rel=0.03), pod
            flagged = [r for r, under in (("cpu", 30), ("memory", 40)) if want[r] < under]
            if all(abs(want[r] - under) > 1 for r, under in (("cpu", 30), ("memory", 40))):
                assert got_pod["oversized"] == flagged, pod
    assert {p["pod"] for p in result["oversized_pods"]} == {p for p, v in pods.items() if v["oversized"]}


def life_pct(prof, first, last):
    """A pod's mean usage over its life in percent of its request, from the noiseless profile."""
    span = float(backfill.DAYS * 86400)
    start = backfill.END - backfill.DAYS * 86400
    cpu, memory = [], []
    for ts in range(first, last + 1, backfill.STEP):
        progress = (ts - start) / span
        daily = backfill._daily(ts)
        cpu.append((prof["cpu_share"] + prof["cpu_growth"] * progress) * daily)
        memory.append((prof["mem_share"] + prof["mem_growth"] * progress) * (1 + 0.05 * (daily - 1)))
    return {"cpu": 100 * sum(cpu) / len(cpu), "memory": 100 * sum(memory) / len(memory)}
