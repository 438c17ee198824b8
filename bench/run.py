"""Benchmark of health_check.yml, measured side by side in one run (`make bench`).

On the demo inventory (two emulated clusters, forks as configured, gather_facts: false):

- health_check.yml as an operator runs it (no ops_report_dir),
- the floor: one ansible.builtin.ping task,
- the naive way: per component a k8s_info of its Deployment, a k8s_info of its pods by
  label and a uri of its endpoint, as looped tasks, plus the data tier checked in its pods
  with kubernetes.core.k8s_exec (pg_isready and SELECT 1, redis-cli PING), as the health
  check does it,
- the health check with the data tier checked directly (connections naming no component, so
  PostgreSQL and Redis are reached at their host and port): what exec costs over direct,

interleaved, median of RUNS runs each, on the demo MPLP platform reshaped to 10 components x
2 replicas with its in-cluster PostgreSQL and Redis (StatefulSets whose pods' environment
points at the stack's servers, as in the demo). Then the same health check at scale: 100
Deployments x 10 pods (1,000 pods) and 100 endpoints per cluster, against its time on the
demo platform.

Prints `RESULT name=value` lines. Not a test: nothing here asserts a time. The two
platforms are deleted at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
import stack  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from deploy_bench import clusters  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BIN = Path(sys.executable).parent
MODULES = ["context", "plan", "role", "confirm", "trace", "extension", "dialog", "collab", "core", "network"]


def components(names, replicas):
    comps = [
        {
            "name": n,
            "workload": "mplp-%s" % n,
            "image": "mplp/%s" % n,
            "replicas": replicas,
            "service": {"name": "mplp-%s" % n, "port": 8080},
            "health_paths": ["/api/v1/%s/health" % n],
        }
        for n in names
    ]
    return comps


# The demo's data tier: StatefulSets checked inside their pods (the demo inventory's
# demo_pod_env gives the pods the stack's PostgreSQL and Redis).
DATA_TIER = [
    {"name": "postgresql", "role": "database", "kind": "StatefulSet", "workload": "mplp-postgresql",
     "image": "postgres:15", "replicas": 1, "service": {"name": "mplp-postgresql", "port": 5432}},
    {"name": "redis", "role": "cache", "kind": "StatefulSet", "workload": "mplp-redis-master",
     "image": "redis:7", "replicas": 1, "service": {"name": "mplp-redis-master", "port": 6379}},
]  # fmt: skip


def direct_data_tier(facts):
    """The same platform with its data tier reached directly: the StatefulSets stay components
    (their workloads are looked at), the connections name none of them."""
    pg, redis = facts["postgresql"], facts["redis"]
    return {
        "platform_components": components(MODULES, 2) + [dict(c, role="app") for c in DATA_TIER],
        "platform_database": {
            "name": "postgresql-direct",
            "host": pg["host"],
            "port": pg["port"],
            "user": pg["user"],
            "dbname": pg["dbname"],
            "password": Path(pg["password_file"]).read_text().strip(),
        },
        "platform_cache": {
            "name": "redis-direct",
            "host": redis["host"],
            "port": redis["port"],
            "password": Path(redis["password_file"]).read_text().strip(),
        },
    }


def write_vars(tmp, name, data):
    path = Path(tmp) / ("%s.json" % name)
    path.write_text(json.dumps(data))
    return "@%s" % path


def playbook(path, extra=None, check=True):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
    )
    cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "demo"), str(ROOT / path)]
    if extra:
        cmd += ["-e", extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    if check and proc.returncode != 0:
        raise SystemExit("%s failed:\n%s\n%s" % (path, proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed


def measure(variants, runs):
    times = {name: [] for name in variants}
    for run in range(runs):
        for name, (path, extra) in variants.items():  # interleaved: one of each per round
            times[name].append(playbook(path, extra))
            print("  run %d %-20s %.2fs" % (run + 1, name, times[name][-1]), flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    if not stack.status_quiet():
        stack.up()
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_vars(
            tmp,
            "demo",
            {"platform_namespace": "bench-demo", "platform_components": components(MODULES, 2) + DATA_TIER},
        )
        direct = write_vars(
            tmp, "direct", dict(direct_data_tier(stack.facts()), platform_namespace="bench-demo")
        )
        scale_names = ["svc%03d" % i for i in range(100)]
        scale = write_vars(
            tmp,
            "scale",
            {
                "platform_namespace": "bench-scale",
                "platform_components": components(scale_names, 10),
                "platform_health_paths": [],
            },
        )
        print("loading the demo platform (10 x 2) and the scale platform (100 x 10) ...", flush=True)
        print("  demo loaded in %.1fs" % playbook("tests/stack/load_demo.yml", demo), flush=True)
        print("  scale loaded in %.1fs" % playbook("tests/stack/load_demo.yml", scale), flush=True)

        try:
            medians = measure(
                {
                    "health_check": ("playbooks/health_check.yml", demo),
                    "floor": ("bench/ping.yml", None),
                    "naive": ("bench/naive_health.yml", demo),
                    "health_check_direct": ("playbooks/health_check.yml", direct),
                    "health_check_scale": ("playbooks/health_check.yml", scale),
                },
                RUNS,
            )
        finally:
            # The emulator's controllers tick over every pod: 1,000 pods left behind would
            # slow down whatever runs next on this stack (tests, the other benchmarks).
            for cluster in clusters(["us-east-1", "eu-west-1"]):
                cluster.delete_namespaces(["bench-demo", "bench-scale"])
    for name, value in medians.items():
        print("RESULT %s_seconds=%.2f" % (name, value))
    print("RESULT health_vs_floor=%.2fx (target <= 3x)" % (medians["health_check"] / medians["floor"]))
    print("RESULT naive_vs_health=%.1fx (target >= 8x)" % (medians["naive"] / medians["health_check"]))
    print(
        "RESULT exec_vs_direct=%.2fx (the data tier checked in its pods / directly)"
        % (medians["health_check"] / medians["health_check_direct"])
    )
    print(
        "RESULT scale_vs_demo=%.2fx (target <= 2x)"
        % (medians["health_check_scale"] / medians["health_check"])
    )


if __name__ == "__main__":
    main()
