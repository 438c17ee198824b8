"""Speed of the deploy role, measured side by side in one run (`make bench-deploy`).

On the demo inventory (the MPLP platform: ten module Deployments, PostgreSQL and Redis
StatefulSets, their Services, HPAs, PDBs, the Ingress, ConfigMap, ServiceAccount, Namespace and
the PostgreSQL Secret), limited to one emulated cluster (us-east-1; --all-clusters: both),
interleaved (A, B, C, D per round), median of RUNS rounds (at least 3):

- (A) ``playbooks/deploy.yml -e platform_namespace=<fresh namespace>``: the whole role
  (argument validation, preflight, one multiagent.ops.k8s_apply with every object and its
  wait for the rollouts, the platform_health validation) creating everything;
- (B) the naive way, bench/naive_deploy.yml: the same rendered manifests (rendered once,
  untimed, by bench/render_manifests.yml from the role's own variables; what k8s_apply
  skips on the cluster left out, the role's Secret added as a plain manifest) applied by one
  ``kubernetes.core.k8s`` task (``state: present``, ``apply: true``) looped over the objects,
  no waits, into another fresh namespace;
- (C) A again on the namespace A just created: a re-run with nothing to change (the bench
  checks that the play reported changed=0 and warns if not);
- (D) bench/ping.yml: one ``ansible.builtin.ping`` task, the floor.

Each time is the wall time of the whole ``ansible-playbook`` process; same inventory, limit,
forks (ansible.cfg) and callback for all four. After each round its two namespaces are deleted
(untimed, waited for), so every round starts from the same emulator state; after the first
round the bench checks that A and B created the same objects. Namespaces left by an
interrupted run (``bench-deploy-<pid>-*`` of a process that is gone) are deleted first.

Prints `RESULT name=value` lines: ``naive_vs_deploy`` = B/A (target >= 5x), ``rerun_vs_ping``
= C/D (target <= 6x), the medians, the object count and the load average. Not a test: nothing
here asserts a time. Options and environment: --runs / BENCH_RUNS (default 3, at least 3),
--profile / BENCH_PROFILE=1 (then A, C and D once more with the ansible.posix.profile_tasks
callback: the time of each task), --all-clusters / BENCH_ALL_CLUSTERS=1 (both clusters at
once: A with ops_serial=100%, so that both variants use the forks alike).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
sys.path.insert(0, str(ROOT / ".collections"))
import stack  # noqa: E402

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply.plan import render_secret  # noqa: E402

BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventories" / "demo"
PREFIX = "bench-deploy-"
LEFTOVER = re.compile(r"^%s(\d+)-" % re.escape(PREFIX))
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
VARIANTS = ("deploy", "naive", "rerun", "ping")
# What the measured playbooks run: a change while the bench runs mixes two versions.
WATCHED = (
    "playbooks/deploy.yml",
    "roles/deploy/defaults",
    "roles/deploy/meta",
    "roles/deploy/tasks",
    "roles/deploy/vars",
    "plugins",
    "inventories/demo",
    "inventories/mplp",
)


class BenchError(Exception):
    """A playbook or a cluster request failed: the message says which, with its output."""


# ---------------------------------------------------------------------------------------
# The emulated clusters, through their REST API (untimed housekeeping)


def ns_path(name):
    return "/api/v1/namespaces/%s" % quote(name, safe="")


class Cluster:
    def __init__(self, name, api, token):
        self.name = name
        self.api = api
        self.token = token

    def request(self, path, method="GET"):
        """``(status, decoded JSON or None)``."""
        req = urllib.request.Request(self.api + path, method=method)
        req.add_header("Authorization", "Bearer %s" % self.token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except OSError as exc:
            raise BenchError("cluster %s: %s %s: %s" % (self.name, method, path, exc))

    def namespaces(self):
        status, body = self.request("/api/v1/namespaces")
        if status != 200:
            raise BenchError("cluster %s: listing namespaces answered %d" % (self.name, status))
        return [item["metadata"]["name"] for item in body.get("items") or []]

    def names(self, api_version, kind, namespace):
        """Names of the objects of a kind in a namespace."""
        root = "/apis/%s" % api_version if "/" in api_version else "/api/%s" % api_version
        plural = kind.lower() + ("es" if kind.endswith("s") else "s")
        status, body = self.request("%s/namespaces/%s/%s" % (root, quote(namespace, safe=""), plural))
        if status != 200:
            raise BenchError(
                "cluster %s: listing %s in %s answered %d" % (self.name, plural, namespace, status)
            )
        return sorted(item["metadata"]["name"] for item in body.get("items") or [])

    def delete_namespaces(self, names, timeout=120.0):
        """Delete the namespaces and wait until they are gone; True when they are."""
        for name in names:
            status, _body = self.request(ns_path(name), method="DELETE")
            if status not in (200, 202, 404):
                print("  warning: deleting namespace %s on %s answered %d" % (name, self.name, status))
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending and time.monotonic() < deadline:
            pending = [n for n in pending if self.request(ns_path(n))[0] != 404]
            if pending:
                time.sleep(0.2)
        if pending:
            print("  warning: %s on %s not gone after %ds" % (", ".join(pending), self.name, timeout))
        return not pending


def clusters(hosts):
    facts = stack.facts()
    config = json.loads(Path(facts["kubeconfig"]).read_text())
    users = {u["name"]: u["user"]["token"] for u in config["users"]}
    contexts = {c["name"]: c["context"]["user"] for c in config["contexts"]}
    return [
        Cluster(host, facts["clusters"][host]["api"], users[contexts[facts["clusters"][host]["context"]]])
        for host in hosts
    ]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_leftovers(targets):
    """Namespaces of an earlier run whose process is gone (an interrupted bench)."""
    for cluster in targets:
        stale = []
        for name in cluster.namespaces():
            match = LEFTOVER.match(name)
            if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
                stale.append(name)
        if stale:
            print("deleting %d namespace(s) left by an interrupted run on %s" % (len(stale), cluster.name))
            cluster.delete_namespaces(stale)


# ---------------------------------------------------------------------------------------
# Playbooks


class Run:
    def __init__(self, seconds, stdout, changed):
        self.seconds = seconds
        self.stdout = stdout
        self.changed = changed


def ansible_env(profile=False):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
    )
    # The same output for every variant: ansible.cfg's default callback, nothing else.
    for key in ("ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_CALLBACK_WHITELIST"):
        env.pop(key, None)
    if profile:
        env.update(
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
            PROFILE_TASKS_SORT_ORDER="none",
            PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
        )
    return env


def playbook(path, limit, extra=(), profile=False):
    cmd = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), str(ROOT / path)]
    if limit:
        cmd += ["-l", limit]
    for value in extra:
        cmd += ["-e", value]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(profile), check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise BenchError(
            "%s failed (exit %d, %.1fs):\n  %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s"
            % (path, proc.returncode, seconds, " ".join(cmd), proc.stdout[-4000:], proc.stderr[-2000:])
        )
    changed = sum(int(m.group(3)) for m in RECAP.finditer(proc.stdout))
    return Run(seconds, proc.stdout, changed)


# ---------------------------------------------------------------------------------------
# The naive variant's manifests


# With deploy_ingress_kind auto, the renderer returns both the OpenShift Routes and the Ingress,
# annotated; k8s_apply applies the one the cluster serves (the module's documented contract).
APPLY_IF_SERVED = "multiagent.ops/apply-if-served"
APPLY_UNLESS_SERVED = "multiagent.ops/apply-unless-served"


def served_only(cluster, objects):
    """The objects k8s_apply applies on this cluster: those whose serving condition holds."""
    served = {}

    def is_served(api_version):
        if api_version not in served:
            root = "/apis/%s" % api_version if "/" in api_version else "/api/%s" % api_version
            served[api_version] = cluster.request(root)[0] == 200
        return served[api_version]

    kept = []
    for obj in objects:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        wanted, unwanted = annotations.get(APPLY_IF_SERVED), annotations.get(APPLY_UNLESS_SERVED)
        if (wanted and not is_served(wanted)) or (unwanted and is_served(unwanted)):
            continue
        kept.append(obj)
    return kept


def render(targets, limit, namespaces, tmp):
    """Render the role's manifests once (untimed) for every namespace B deploys into; write
    one list per host and namespace: the objects k8s_apply would apply there, with the role's
    Secrets as plain manifests after the Namespace. Returns the object count per host."""
    extra = json.dumps({"bench_namespaces": namespaces, "bench_dir": str(tmp)})
    started = time.monotonic()
    playbook("bench/render_manifests.yml", limit, [extra])
    counts = {}
    for cluster in targets:
        rendered = json.loads((tmp / ("%s.json" % cluster.name)).read_text())
        for namespace in namespaces:
            manifests = served_only(cluster, rendered["manifests"][namespace])
            secrets = [render_secret(spec, i) for i, spec in enumerate(rendered["secrets"])]
            for secret in secrets:
                secret["metadata"]["namespace"] = namespace
            objects = manifests[:1] + secrets + manifests[1:]
            path = tmp / ("%s-%s.json" % (cluster.name, namespace))
            path.write_text(json.dumps(objects))
            path.chmod(0o600)
            counts[cluster.name] = len(objects)
        (tmp / ("%s.json" % cluster.name)).unlink()
    print("rendered %s objects per cluster in %.1fs (untimed)" % (counts, time.monotonic() - started))
    return counts


def compare(targets, objects_file, ns_a, ns_b):
    """After the first round: did A and B create the same objects? The warnings, if not."""
    objects = json.loads(Path(objects_file).read_text())
    kinds = sorted({(o["apiVersion"], o["kind"]) for o in objects if o["kind"] != "Namespace"})
    problems = []
    for cluster in targets:
        for api_version, kind in kinds:
            expected = {o["metadata"]["name"] for o in objects if o["kind"] == kind}
            in_a, in_b = cluster.names(api_version, kind, ns_a), cluster.names(api_version, kind, ns_b)
            if set(in_a) != set(in_b) or not expected <= set(in_a):
                problems.append("%s %s: deploy %s, naive %s" % (cluster.name, kind, in_a, in_b))
    if problems:
        print("  WARNING: the two variants did not create the same objects: %s" % "; ".join(problems))
        return ["the two variants did not create the same objects"]
    print("  checked: deploy and naive created the same objects (%d kinds)" % len(kinds))
    return []


# ---------------------------------------------------------------------------------------
# Measurement


def namespace(round_name, variant):
    return "%s%d-%s-%s" % (PREFIX, os.getpid(), round_name, variant)


def deploy_extra(ns, all_clusters):
    extra = ["platform_namespace=%s" % ns]
    return extra + ["ops_serial=100%"] if all_clusters else extra


def measure(args, hosts, limit, targets, tmp, created, warnings):
    times = {name: [] for name in VARIANTS}
    for run in range(args.runs):
        ns_a, ns_b = namespace(str(run + 1), "a"), namespace(str(run + 1), "b")
        created.extend([ns_a, ns_b])
        manifests = str(tmp / ("{{ inventory_hostname }}-%s.json" % ns_b))
        steps = (
            ("deploy", "playbooks/deploy.yml", deploy_extra(ns_a, args.all_clusters)),
            ("naive", "bench/naive_deploy.yml", ["bench_manifests=%s" % manifests]),
            ("rerun", "playbooks/deploy.yml", deploy_extra(ns_a, args.all_clusters)),
            ("ping", "bench/ping.yml", []),
        )
        for name, path, extra in steps:  # interleaved: one of each per round
            result = playbook(path, limit, extra)
            times[name].append(result.seconds)
            note = ""
            if name == "rerun" and result.changed:
                note = "  WARNING: the re-run reported changed=%d (expected 0)" % result.changed
                warnings.append("round %d: the re-run reported changed=%d" % (run + 1, result.changed))
            print("  round %d %-7s %6.2fs%s" % (run + 1, name, result.seconds, note), flush=True)
        if run == 0:
            warnings += compare(targets, tmp / ("%s-%s.json" % (hosts[0], ns_b)), ns_a, ns_b)
        for cluster in targets:  # untimed: every round starts from the same emulator state
            cluster.delete_namespaces([ns_a, ns_b])
    return times


def recap_of(stdout):
    """profile_tasks' TASKS RECAP: the lines after its header, without the banner."""
    lines = stdout.split("TASKS RECAP", 1)[-1].splitlines()[2:]  # after the header and the clock line
    return [line for line in lines if line.strip() and not line.startswith("=")]


def task_seconds(lines):
    total = 0.0
    for line in lines:
        m = re.search(r"-+ (\d+(?:\.\d+)?)s$", line.strip())
        if m:
            total += float(m.group(1))
    return total


def profile(args, limit, targets, created):
    """A, C and D once more with the profile_tasks callback."""
    ns = namespace("profile", "a")
    created.append(ns)
    print("\nprofile (ansible.posix.profile_tasks, tasks in execution order; not part of the medians):")
    for name, path, extra in (
        ("deploy", "playbooks/deploy.yml", deploy_extra(ns, args.all_clusters)),
        ("rerun", "playbooks/deploy.yml", deploy_extra(ns, args.all_clusters)),
        ("ping", "bench/ping.yml", []),
    ):
        result = playbook(path, limit, extra, profile=True)
        lines = recap_of(result.stdout)
        tasks = task_seconds(lines)
        print(
            "\n%s: %.2fs wall, %.2fs in tasks, %.2fs outside them (start-up, inventory, play set-up, exit)"
            % (name, result.seconds, tasks, result.seconds - tasks)
        )
        for line in lines:
            print("  " + line.strip())
    for cluster in targets:
        cluster.delete_namespaces([ns])


def report(times, objects, clusters_count):
    med = {name: statistics.median(values) for name, values in times.items()}
    print()
    print("RESULT clusters=%d" % clusters_count)
    print("RESULT objects_per_cluster=%d" % objects)
    for name in VARIANTS:
        print("RESULT %s_seconds=%.2f" % (name, med[name]))
    print("RESULT naive_per_object_seconds=%.2f" % (med["naive"] / objects))
    print("RESULT naive_vs_deploy=%.2fx (target >= 5x)" % (med["naive"] / med["deploy"]))
    print("RESULT rerun_vs_ping=%.2fx (target <= 6x)" % (med["rerun"] / med["ping"]))


def cleanup(targets, created):
    """Delete what this run created and is still there (also after a failure or Ctrl-C)."""
    for cluster in targets:
        try:
            present = set(cluster.namespaces())
            left = [n for n in created if n in present]
            if left:
                cluster.delete_namespaces(left)
        except BenchError as exc:
            print("warning: could not delete the bench's namespaces on %s: %s" % (cluster.name, exc))


def code_state():
    """``{path: mtime}`` of the files the measured playbooks run."""
    state = {}
    for entry in WATCHED:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                state[str(file.relative_to(ROOT))] = file.stat().st_mtime
    return state


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    parser.add_argument("--profile", action="store_true", default=os.environ.get("BENCH_PROFILE") == "1")
    parser.add_argument(
        "--all-clusters",
        action="store_true",
        default=os.environ.get("BENCH_ALL_CLUSTERS") == "1",
        help="both emulated clusters at once (default: us-east-1 only)",
    )
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs / BENCH_RUNS must be at least 3 (medians of at least 3 rounds)")
    if not stack.status_quiet():
        stack.up()
    hosts = ["us-east-1", "eu-west-1"] if args.all_clusters else ["us-east-1"]
    limit = None if args.all_clusters else "us-east-1"
    targets = clusters(hosts)
    created, warnings = [], []
    code_before = code_state()
    load_start = os.getloadavg()[0]
    print(
        "deploy bench: %s, %d rounds; %d CPUs, load average %.2f"
        % (", ".join(hosts), args.runs, os.cpu_count(), load_start),
        flush=True,
    )
    try:
        delete_leftovers(targets)
        with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp:
            tmp = Path(tmp)
            counts = render(targets, limit, [namespace(str(r + 1), "b") for r in range(args.runs)], tmp)
            times = measure(args, hosts, limit, targets, tmp, created, warnings)
        load_end = os.getloadavg()[0]
        if args.profile:
            profile(args, limit, targets, created)
    except BenchError as exc:
        print("\nFAILED: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        cleanup(targets, created)
    report(times, counts[hosts[0]], len(hosts))
    print("RESULT load_average_start=%.2f" % load_start)
    print("RESULT load_average_end=%.2f" % load_end)
    if max(load_start, load_end) > os.cpu_count():
        print(
            "note: load average above the %d CPUs: other jobs share the machine, the ratios move"
            % os.cpu_count()
        )
    code_after = code_state()
    moved = sorted(p for p in set(code_before) | set(code_after) if code_before.get(p) != code_after.get(p))
    if moved:
        warnings.append(
            "%d file(s) the playbooks run changed during the bench (%s): the rounds mixed versions, "
            "run it again" % (len(moved), ", ".join(moved[:5]) + (" ..." if len(moved) > 5 else ""))
        )
    for warning in warnings:
        print("WARNING: %s" % warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
