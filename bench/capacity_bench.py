"""Benchmark of playbooks/capacity_report.yml (issue 14): the capacity report of the stack's
backfilled month (3 regions x 10 components x 4 metrics - CPU and memory usage and requests -,
30 days at a 5-minute step, charts included) against the one-task floor (bench/ping.yml) and
against the naive way (bench/capacity_naive.yml: one ``ansible.builtin.uri`` task per query and
one Python script per series for the regression), which must compute the same least-squares
slopes. Whole ``ansible-playbook`` processes, on one inventory of three clusters (one per
region, connection local), the default stdout callback for all three, interleaved, median of
BENCH_RUNS rounds (default 3; the naive one takes about 1-2 minutes a round). Each run's CPU
seconds are measured too (ansible-playbook and everything under it, plus the stack Prometheus's
work): a run on this machine cannot be shorter than its CPU seconds over the cores.

Prints ``RESULT name=value`` lines; asserts nothing.

    .venv/bin/python bench/capacity_bench.py
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
import backfill  # noqa: E402
import stack  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BIN = Path(sys.executable).parent
TASK = "Forecast CPU, memory and traffic per component from Prometheus, and write the report"


def inventory(scratch, prometheus):
    """One cluster per backfilled region with the MPLP platform's description (as the
    integration test builds it)."""
    (scratch / "group_vars").mkdir()
    (scratch / "group_vars" / "all").symlink_to(ROOT / "inventories" / "mplp" / "group_vars" / "all")
    hosts = {r: {"cluster_region": r, "platform_namespace": backfill.NAMESPACE} for r in backfill.REGIONS}
    doc = {
        "all": {
            "children": {
                "clusters": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                        "ops_prometheus_url": prometheus,
                    },
                }
            }
        }
    }
    path = scratch / "hosts.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def play(playbook, hosts, variables, scratch, json_output=False):
    varsfile = scratch / ("vars-%d.json" % time.monotonic_ns())
    varsfile.write_text(json.dumps(variables))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
    )
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    cmd = [str(BIN / "ansible-playbook"), "-i", str(hosts), str(ROOT / playbook), "-e", "@%s" % varsfile]
    cpu_before = children_cpu() + prometheus_cpu()
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    cpu = children_cpu() + prometheus_cpu() - cpu_before
    if proc.returncode != 0:
        raise SystemExit("%s failed (exit %d):\n%s" % (playbook, proc.returncode, proc.stdout[-3000:]))
    return seconds, proc.stdout, cpu


def children_cpu():
    """CPU seconds of the processes this one ran, and everything under them (ansible-playbook,
    its workers and their modules)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def prometheus_cpu():
    """The stack's Prometheus's CPU seconds so far (it answers the queries: its work is the
    report's too), 0 when its pid is unknown."""
    try:
        pid = int((stack.STATE / "run" / "prometheus.pid").read_text())
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slopes_of_report(directory):
    out = {}
    for region in backfill.REGIONS:
        report = json.loads((directory / ("capacity-%s.json" % region)).read_text())
        for entry in report["components"]:
            for metric in ("cpu", "memory"):
                out[(region, entry["component"], metric)] = entry[metric]["least_squares"]["slope_per_day"]
    return out


def slopes_of_naive(directory):
    out = {}
    for region in backfill.REGIONS:
        for key, slope in json.loads((directory / ("%s.json" % region)).read_text()).items():
            comp, metric = key.split("/")
            out[(region, comp, metric)] = slope
    return out


def main():
    facts = stack.monitoring_up()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        hosts = inventory(scratch, facts["prometheus"])
        report_dir = scratch / "reports"
        naive_dir = scratch / "naive"
        naive_dir.mkdir()
        common = {"capacity_report_end": backfill.END, "capacity_report_days": backfill.DAYS}
        variants = {
            "capacity": ("playbooks/capacity_report.yml", dict(common, capacity_report_dir=str(report_dir))),
            # the same report without the HTML page: no matplotlib, no chart
            "nocharts": (
                "playbooks/capacity_report.yml",
                dict(
                    common,
                    capacity_report_dir=str(scratch / "nocharts"),
                    capacity_report_formats=["markdown", "json"],
                ),
            ),
            # what the runbook costs before the month of data: one day, no chart
            "fixed": (
                "playbooks/capacity_report.yml",
                dict(
                    common,
                    capacity_report_days=1,
                    capacity_report_dir=str(scratch / "fixed"),
                    capacity_report_formats=["json"],
                ),
            ),
            "ping": ("bench/ping.yml", {}),
            "naive": (
                "bench/capacity_naive.yml",
                {
                    "bench_components": list(backfill.COMPONENTS),
                    "bench_end": backfill.END,
                    "bench_days": backfill.DAYS,
                    "bench_naive_out": str(naive_dir),
                },
            ),
        }
        # Untimed: warm-up, and where the module's time goes (the json callback has its durations).
        _, out, _ = play(variants["capacity"][0], hosts, variants["capacity"][1], scratch, json_output=True)
        doc = json.loads(out[out.index("{") :])
        for task in doc["plays"][-1]["tasks"]:
            if task["task"]["name"] == TASK:
                for host, result in task["hosts"].items():
                    print("  %s: module phases %s" % (host, result.get("durations")))
        play(variants["ping"][0], hosts, variants["ping"][1], scratch)
        times = {name: [] for name in variants}
        cpu = {name: [] for name in variants}
        for round_ in range(RUNS):
            for name, (playbook, variables) in variants.items():
                if name == "capacity":
                    for f in report_dir.glob("*"):
                        f.unlink()  # every round writes its files anew
                seconds, _, used = play(playbook, hosts, variables, scratch)
                times[name].append(seconds)
                cpu[name].append(used)
                print("  run %d %-9s %.2fs (%.2f CPU s)" % (round_ + 1, name, seconds, used), flush=True)
        module, naive = slopes_of_report(report_dir), slopes_of_naive(naive_dir)
    if set(module) != set(naive):
        raise SystemExit("the two computed different series: %s" % sorted(set(module) ^ set(naive)))
    diff = max(abs(module[k] - naive[k]) for k in module)
    med = {name: statistics.median(values) for name, values in times.items()}
    for name, value in med.items():
        print("RESULT capacity_%s_seconds=%.2f" % (name, value))
    cores = os.cpu_count() or 1
    for name, values in cpu.items():
        print("RESULT capacity_%s_cpu_seconds=%.2f" % (name, statistics.median(values)))
    print("RESULT capacity_vs_floor=%.2fx (target <= 3x)" % (med["capacity"] / med["ping"]))
    print("RESULT capacity_nocharts_vs_floor=%.2fx (no target)" % (med["nocharts"] / med["ping"]))
    print("RESULT capacity_fixed_vs_floor=%.2fx (one day, no chart; none)" % (med["fixed"] / med["ping"]))
    # No run is shorter than its CPU seconds spread over every core of the machine.
    print(
        "RESULT capacity_cpu_bound_vs_floor=%.2fx (its CPU seconds over %d cores / the floor's time)"
        % (statistics.median(cpu["capacity"]) / cores / med["ping"], cores)
    )
    print("RESULT capacity_naive_vs_report=%.1fx (target >= 10x)" % (med["naive"] / med["capacity"]))
    print("RESULT capacity_slopes=%d max_difference=%.2e (target <= 1e-6)" % (len(module), diff))
    print(
        "RESULT load_average start=%s end=%s"
        % (" ".join("%.2f" % x for x in load_start), " ".join("%.2f" % x for x in os.getloadavg()))
    )


if __name__ == "__main__":
    main()
