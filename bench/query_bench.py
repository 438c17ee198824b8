"""Benchmark of prometheus_query (issue 14): 100 queries in one task against one query in
one task and against 100 looped ``ansible.builtin.uri`` tasks, measured as task time (json
callback), interleaved, median of BENCH_RUNS rounds (default 5).

The queries are the capacity report's kind at a fixed time of the stack's backfilled month:
per region and component the memory working set, CPU usage and the CPU and memory requests
(3 x 10 x 4 = 120, the first 100). Prints ``RESULT name=value`` lines; asserts nothing.

    .venv/bin/python bench/query_bench.py
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
import backfill  # noqa: E402
import stack  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
BIN = Path(sys.executable).parent
AT = backfill.END - 10 * 86400 + 12 * 3600

METRICS = (
    'sum(container_memory_working_set_bytes{region="%s",container="%s"})',
    'sum(rate(container_cpu_usage_seconds_total{region="%s",container="%s"}[10m]))',
    'sum(kube_pod_container_resource_requests{resource="cpu",region="%s",container="%s"})',
    'sum(kube_pod_container_resource_requests{resource="memory",region="%s",container="%s"})',
)


def queries():
    out = [
        {"name": "m%d_%s_%s" % (i, region, comp), "query": metric % (region, comp), "time": AT}
        for region in backfill.REGIONS
        for comp in backfill.COMPONENTS
        for i, metric in enumerate(METRICS)
    ]
    return out[:100]


def run(playbook, variables, scratch):
    varsfile = Path(scratch) / "vars.json"
    varsfile.write_text(json.dumps(variables))
    inventory = Path(scratch) / "inventory.ini"
    inventory.write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
    )
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / playbook), "-e", "@%s" % varsfile]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{") :])
        task = data["plays"][0]["tasks"][-1]
        result = task["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise SystemExit(
            "%s: no result (exit code %d)\n%s" % (playbook, proc.returncode, proc.stderr[-2000:])
        )
    if proc.returncode != 0 or result.get("failed"):
        raise SystemExit("%s failed: %s" % (playbook, result.get("msg")))
    duration = task["task"]["duration"]
    start, end = (
        datetime.datetime.fromisoformat(duration[k].replace("Z", "+00:00")) for k in ("start", "end")
    )
    return (end - start).total_seconds(), result


def main():
    facts = stack.monitoring_up()
    prom = facts["prometheus"]
    many = queries()
    variants = {
        "module_100": ("bench/query_module.yml", {"bench_prometheus": prom, "bench_queries": many}),
        "module_1": ("bench/query_module.yml", {"bench_prometheus": prom, "bench_queries": many[:1]}),
        "uri_100": ("bench/query_uri.yml", {"bench_prometheus": prom, "bench_queries": many}),
    }
    times = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (playbook, variables) in variants.items():  # warm-up, also checks the answers
            _, result = run(playbook, variables, scratch)
            if name == "module_100" and len(result["query_results"]) != 100:
                raise SystemExit("module_100 answered %d queries" % len(result["query_results"]))
        for round_ in range(RUNS):
            for name, (playbook, variables) in variants.items():
                seconds, _ = run(playbook, variables, scratch)
                times[name].append(seconds)
                print("  run %d %-12s %.3fs" % (round_ + 1, name, seconds), flush=True)
    med = {name: statistics.median(values) for name, values in times.items()}
    for name, value in med.items():
        print("RESULT query_%s_task_seconds=%.3f" % (name, value))
    print("RESULT query_100_vs_1=%.2fx (target <= 1.5x)" % (med["module_100"] / med["module_1"]))
    print("RESULT query_uri_vs_module=%.1fx (target >= 5x)" % (med["uri_100"] / med["module_100"]))
    print("RESULT load_average=%s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
