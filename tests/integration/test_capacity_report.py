"""playbooks/capacity_report.yml against the stack's real Prometheus and its backfilled month
(tests/stack/backfill.py: 3 regions x 10 MPLP components, one pod at a time renamed by a
rollout every 7 days), at the data's fixed end, so the numbers are the generator's: one run
on three clusters (one per region) shared by the assertions, one check-mode run through the
API server's service proxy, and the HTML opened in Debian's headless Chromium."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))
import backfill  # noqa: E402
import stack as local_stack  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = "playbooks/capacity_report.yml"
TASK = "Forecast CPU, memory and traffic per component from Prometheus, and write the report"
CHROMIUM = "/usr/bin/chromium"
DAYS_AHEAD = 30


def inventory(tmp, prometheus):
    """One cluster per backfilled region, the MPLP platform's description (its group_vars),
    the namespace and Prometheus of the stack."""
    (tmp / "group_vars").mkdir()
    (tmp / "group_vars" / "all").symlink_to(ROOT / "inventories" / "mplp" / "group_vars" / "all")
    hosts = {
        region: {"cluster_region": region, "platform_namespace": backfill.NAMESPACE}
        for region in backfill.REGIONS
    }
    doc = {
        "all": {
            "children": {
                "clusters": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        "ops_prometheus_url": prometheus,
                    },
                }
            }
        }
    }
    path = tmp / "hosts.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def runs(ansible, stack_facts, tmp_path_factory):
    """The report of the backfilled month on the three clusters."""
    monitoring = local_stack.monitoring_up()
    tmp = tmp_path_factory.mktemp("capacity")
    hosts = inventory(tmp, monitoring["prometheus"])
    common = {"capacity_report_end": backfill.END, "capacity_report_days": backfill.DAYS}
    run = ansible(PLAYBOOK, inventory=hosts, extra_vars=dict(common, capacity_report_dir=str(tmp / "out")))
    assert run.rc == 0, run.failure_messages() or run.stderr[-2000:]
    return {"run": run, "out": tmp / "out", "tmp": tmp}


def entries(runs):
    out = {}
    for region in backfill.REGIONS:
        result = runs["run"].results(TASK, region)
        for entry in result["report"]["components"]:
            out[(entry["region"], entry["component"])] = entry
    return out


def test_one_series_per_component_and_region_over_the_renamed_pods(runs):
    found = entries(runs)
    assert sorted(found) == sorted((r, c) for r in backfill.REGIONS for c in backfill.COMPONENTS)
    for key, entry in found.items():
        pods = backfill.pods(*key)
        assert len(pods) == 5 and entry["pods"] == len(pods), key  # 5 pods over the month -> one workload
        for metric in ("cpu", "memory", "requests"):
            # one series of hourly peaks over the whole month, not five short ones
            assert entry[metric]["points"] >= backfill.DAYS * 24, (key, metric)
        assert entry["missing"] == []


def test_slopes_and_forecasts_follow_the_generators_profile(runs):
    for (region, comp), entry in entries(runs).items():
        prof = backfill.profile(region, comp)
        # utilisation in percent of requests grows by growth x 100 over the 30 days
        expected = {
            "cpu": prof["cpu_growth"] * 100 / backfill.DAYS,
            "memory": prof["mem_growth"] * 100 / backfill.DAYS,
            "requests": prof["rps"] * prof["rps_growth"] / backfill.DAYS,
        }
        for metric, slope in expected.items():
            got = entry[metric]["slope_per_day"]
            # hourly peaks sit a few percent above the mean (the noise's maximum): 10 % + a little
            assert got == pytest.approx(slope, rel=0.1, abs=0.03), (region, comp, metric, got, slope)
            analysis = entry[metric]
            assert analysis["predicted"] == pytest.approx(analysis["current"] + DAYS_AHEAD * got, rel=1e-9)
        # the level at the end: usage share at the end of the month (x the hourly peak's few percent)
        level = 100 * (prof["mem_share"] + prof["mem_growth"])
        assert entry["memory"]["current"] == pytest.approx(level, rel=0.08), (region, comp)
        days = entry["cpu"]["thresholds"][0]
        assert days["threshold"] == 80.0
        if days["status"] == "rising":
            reach = entry["cpu"]["current"] + days["days"] * entry["cpu"]["slope_per_day"]
            assert reach == pytest.approx(80.0)
        else:
            assert days["status"] == ("not_rising" if entry["cpu"]["slope_per_day"] <= 0 else "already_above")


def test_recommendations_where_the_profile_crosses_the_thresholds(runs):
    found = entries(runs)
    advised = {
        (r["region"], r["component"], r["metric"])
        for rg in backfill.REGIONS
        for r in runs["run"].results(TASK, rg)["recommendations"]
    }
    checked = 0
    for region, comp in found:
        prof = backfill.profile(region, comp)
        # the profile's level 30 days after the end: share + 2 x the month's growth
        for metric, share, growth, level in (
            ("cpu", prof["cpu_share"], prof["cpu_growth"], 80.0),
            ("memory", prof["mem_share"], prof["mem_growth"], 85.0),
        ):
            ahead = 100 * (share + 2 * growth)
            if ahead > level * 1.1:
                assert (region, comp, metric) in advised, (region, comp, metric, ahead)
                checked += 1
            elif ahead < level * 0.9:
                assert (region, comp, metric) not in advised, (region, comp, metric, ahead)
                checked += 1
    assert checked > 40
    # the request rate grows by at most 60 % a month: never 50 % more in the next 30 days
    assert not [a for a in advised if a[2] == "requests"]
    assert any(a[2] == "cpu" for a in advised) and any(a[2] == "memory" for a in advised)


def test_the_reports_are_written(runs):
    out = runs["out"]
    for region in backfill.REGIONS:
        md = (out / ("capacity-%s.md" % region)).read_text()
        for comp in backfill.COMPONENTS:
            assert "\n| %s | 5 | " % comp in md
        page = (out / ("capacity-%s.html" % region)).read_text()
        assert page.count("<svg") == len(backfill.COMPONENTS)
        # nothing to fetch: no script, style sheet, image or reference outside the page
        assert not re.search(r"<script|<link|<img|src=|href=\"(?!#)", page)
        data = json.loads((out / ("capacity-%s.json" % region)).read_text())
        assert data["end"] == backfill.END and data["regions"] == [region]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        "capacity-%s.%s" % (r, ext) for r in backfill.REGIONS for ext in ("html", "json", "md")
    )
    first = runs["run"].results(TASK, "us-east-1")
    assert first["changed"] is True and all(f["changed"] for f in first["files"])


def test_chromium_renders_the_charts(runs):
    from PIL import Image

    page = runs["out"] / "capacity-us-east-1.html"
    shot = runs["tmp"] / "page.png"
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--window-size=1000,2400",
            "--screenshot=%s" % shot,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, HOME=str(runs["tmp"])),
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    width, height = image.size
    pixels = image.load()
    # The CPU lines are blue (#1f77b4, blended with the white page where thin); nothing else on
    # the page is: text is black or dark red, tables grey.
    blue = 0
    for y in range(height):
        for x in range(width):
            r, g, b = pixels[x, y]
            blue += b > r + 60 and b > g + 30
    # about 2,000 such pixels per drawn chart at this size; the first charts are on the screen
    assert blue > 4000, blue


def test_through_the_api_servers_service_proxy_the_same_report(ansible, runs, kube, stack_facts):
    """The demo inventory's us-east-1 (the emulator) without a Prometheus URL: ops_prometheus_service
    names a Service whose proxy the emulator forwards to the stack's Prometheus. In check mode,
    which computes the same report and writes nothing."""
    from kubernetes import client

    cluster = "us-east-1"
    ns = "cap-%s" % uuid.uuid4().hex[:8]
    core = client.CoreV1Api(kube[cluster])
    core.create_namespace({"metadata": {"name": ns}})
    info = stack_facts["clusters"][cluster]
    token = Path(info["state_dir"], "token").read_text().strip()
    control = info["api"] + "/_kubemu/backends"
    target = {"namespace": ns, "service": "prometheus"}
    try:
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
            control, "POST", dict(target, url=local_stack.monitoring_up()["prometheus"]), token=token
        )
        run = ansible(
            PLAYBOOK,
            limit=cluster,
            extra_vars={
                "platform_namespace": backfill.NAMESPACE,
                "capacity_report_end": backfill.END,
                "ops_prometheus_service": dict(target, port="web"),
                "capacity_report_dir": str(runs["tmp"] / "proxied"),
            },
            args=["--check"],
        )
        assert run.rc == 0, run.failure_messages() or run.stderr[-2000:]
        proxied = run.results(TASK, cluster)
        direct = runs["run"].results(TASK, cluster)
        assert proxied["report"]["components"] == direct["report"]["components"]
        # check mode: every file would be new, none was written
        assert proxied["changed"] is True and len(proxied["files"]) == 3
        assert all(f["changed"] for f in proxied["files"])
        assert not (runs["tmp"] / "proxied").exists()
    finally:
        local_stack.http_json(control, "DELETE", target, token=token)
        core.delete_namespace(ns)
