"""Benchmark of multiagent.ops.k8s_security_audit (issue 15) side by side with checkov 3.3.30.

Manifests: bench/security_gen.py's 5,000 and 10,000 Deployments (a mix of hardened, partly
hardened and bad specs; see its docstring), generated once per run into a scratch directory.
checkov is installed at run time into its own virtualenv (bench/checkov_peer.py:
.cache/checkov-venv, kept between runs), never into .venv.

Measured, interleaved (one of each per round), median of BENCH_RUNS rounds (default 3):

- ``audit_5000`` / ``audit_10000``: one ``k8s_security_audit`` task (bench/security_audit_files.yml:
  ``src: [FILE]``, ``formats: [sarif]``, ``report_dir``) on localhost, the json callback: the
  module's own time from reading the files to writing the SARIF is its ``durations`` when the
  result has them (their sum, or ``total``), else the task's wall time (and it says which);
  the task time is printed too;
- peak RSS: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs the one
  ``ansible-playbook`` and nothing else: the largest process of the run, the controller or the
  module (the floor, ``bench/ping.yml`` measured the same way, tells which); the module's own
  peak when its result reports one (``peak_rss_bytes`` / ``max_rss``);
- checkov once on the same 5,000 file (``checkov -f FILE --framework kubernetes --skip-download
  --quiet -o sarif``, its cheapest mode; about 3 minutes here), wall time and peak RSS. With
  ``BENCH_CHECKOV_N=500`` it runs on a 500-Deployment file instead and its time is scaled to
  5,000 linearly (said in the result); run by default it is the full-size number;
- live: the same module on the emulator (bench/security_audit_live.yml, ``namespaces: [NS]``),
  a namespace of 100 pods (10 Deployments x 10) against one of 1,000 (100 x 10), task time;
  the namespaces are loaded with tests/stack/load_demo.yml as bench/run.py does and deleted at
  the end (also after a failure).

Results: ``audit_5000_seconds`` (target <= 3 s), ``audit_5000_peak_rss_mb`` (<= 300 MB),
``audit_10000_vs_5000`` (<= 2.2x), ``checkov_vs_audit`` (>= 50x), ``live_1000_vs_100``
(<= 1.5x), ``recall_5000`` (on checkov's file, the share of checkov's findings of mapped
checks that are ours on the same object, from security/checks.py in-process; 100 %), and the
load average. ``--no-live`` leaves the emulator out, ``--no-checkov``
checkov. ``--recall`` also regenerates the recall fixture's SARIF into the scratch directory
and says whether the committed one is current.

Prints ``RESULT name=value`` lines; asserts nothing.

    .venv/bin/python bench/security_bench.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "stack"))
import checkov_peer  # noqa: E402
import security_gen  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CHECKOV_N = int(os.environ.get("BENCH_CHECKOV_N", "5000"))
BIN = Path(sys.executable).parent
FILES_TASK = "Audit the manifests"
LIVE_TASK = "Audit the namespace"
LIVE_HOST = "us-east-1"
LIVE_SIZES = {100: 10, 1000: 100}  # pods: Deployments of 10 replicas

# Runs one command and prints the largest RSS (KiB) of it and its descendants.
RSS_WRAPPER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.call(sys.argv[1:]); "
    "sys.stderr.write('\\nMAXRSS_KB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(rc)"
)


def env(json_output):
    out = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
    )
    out.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    out.pop("ANSIBLE_STDOUT_CALLBACK", None)
    if json_output:
        out["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    return out


def measured(cmd, cwd=None, environ=None, ok=(0,)):
    """(wall seconds, peak RSS in MB, stdout) of cmd run under the RSS wrapper."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, *cmd],
        check=False,
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if proc.returncode not in ok:
        raise SystemExit(
            "%s failed (exit %d):\n%s\n%s"
            % (cmd[0], proc.returncode, proc.stdout[-3000:], proc.stderr[-2000:])
        )
    rss_kb = int(proc.stderr.rsplit("MAXRSS_KB=", 1)[1].split()[0])
    return seconds, rss_kb / 1024.0, proc.stdout


def playbook(path, variables, scratch, inventory=None, limit=None, json_output=True):
    varsfile = scratch / ("vars-%d.json" % time.monotonic_ns())
    varsfile.write_text(json.dumps(variables))
    if inventory is None:  # localhost, local connection, this interpreter
        cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local"]
        cmd += ["-e", "ansible_python_interpreter=%s" % sys.executable]
    else:
        cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory)]
    if limit:
        cmd += ["-l", limit]
    cmd += [str(ROOT / path), "-e", "@%s" % varsfile]
    return measured(cmd, environ=env(json_output))


def task_result(stdout, name):
    """(the task's wall seconds, its result) from the json callback's output."""
    doc = json.loads(stdout[stdout.index("{") :])
    for play in doc["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == name:
                duration = task["task"]["duration"]
                seconds = _seconds(duration["end"]) - _seconds(duration["start"])
                result = next(iter(task["hosts"].values()))
                return seconds, result
    raise SystemExit("task %r not in the playbook's output" % name)


def _seconds(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def module_seconds(task_seconds, result):
    """The module's own time when it reports its durations, else the task's; and which."""
    durations = result.get("durations")
    if isinstance(durations, dict) and durations:
        if "total" in durations:
            return float(durations["total"]), "module durations.total"
        return sum(
            float(v) for v in durations.values() if isinstance(v, (int, float))
        ), "sum of module durations"
    return task_seconds, "task time (the module returned no durations)"


def module_rss_mb(result):
    for key in ("peak_rss_bytes", "max_rss"):
        if isinstance(result.get(key), (int, float)):
            return result[key] / 1024.0 / 1024.0
    return None


def audit_files(path, scratch):
    report_dir = scratch / ("report-%s" % path.stem)
    variables = {"bench_src": [str(path)], "bench_report_dir": str(report_dir)}
    wall, rss, stdout = playbook("bench/security_audit_files.yml", variables, scratch)
    task_seconds, result = task_result(stdout, FILES_TASK)
    if "findings" not in result:
        raise SystemExit("the audit of %s returned no findings: %s" % (path, result.get("msg", result)))
    if not list(report_dir.glob("*.sarif")):
        print("  WARNING: no SARIF written into %s" % report_dir, flush=True)
    own, how = module_seconds(task_seconds, result)
    return {
        "own": own,
        "how": how,
        "task": task_seconds,
        "wall": wall,
        "rss": rss,
        "module_rss": module_rss_mb(result),
    }


def checkov_run(scratch, files):
    """checkov on the 5,000 file (or BENCH_CHECKOV_N's), scaled to 5,000 when smaller."""
    checkov_peer.install()
    if CHECKOV_N == 5000:
        path = files[5000]
    else:
        path = security_gen.write_bench(CHECKOV_N, scratch / ("deploy-%d.yaml" % CHECKOV_N))
    workdir = scratch / "checkov"
    workdir.mkdir(exist_ok=True)
    cmd = checkov_peer.command([path])  # writes results.sarif into workdir
    seconds, rss, _ = measured(cmd, cwd=workdir, ok=(0, 1))
    sarif = json.loads((workdir / "results.sarif").read_text())
    found = sum(len(r["results"]) for r in sarif["runs"])
    return {
        "seconds": seconds * 5000 / CHECKOV_N,
        "measured": seconds,
        "n": CHECKOV_N,
        "rss": rss,
        "found": found,
        "recall": recall(path, sarif),
    }


def recall(path, sarif):
    """On checkov's file: how many of checkov's findings of mapped checks are ours on the same
    object with one of the check's rules (security/checks.py check_objects, in-process), and
    the checks of the missed ones. None when the checks are not there."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / ".collections"))
    import yaml

    from tests.checkov_sarif import Loader, findings, object_key

    try:
        from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov, checks
    except ImportError:
        return None
    objects = [doc for doc in yaml.load_all(path.read_text(), Loader=Loader) if doc]
    ours = {}
    for finding in checks.check_objects(objects):
        if finding["status"] == "fail":
            obj = finding["object"]
            ours.setdefault(object_key(obj["kind"], obj.get("namespace"), obj["name"]), set()).add(
                finding["rule"]
            )
    theirs = [f for f in findings(sarif) if f[0] in checkov.CHECKOV]
    missed = {}
    for check, _file, kind, namespace, name in theirs:
        if not set(checkov.CHECKOV[check]) & ours.get(object_key(kind, namespace, name), set()):
            missed[check] = missed.get(check, 0) + 1
    return {"theirs": len(theirs), "missed": missed}


def live(scratch):
    import stack
    from deploy_bench import clusters
    from run import components

    if not stack.status_quiet():
        stack.up()
    namespaces = {pods: "bench-security-%d-%d" % (pods, os.getpid()) for pods in LIVE_SIZES}
    inventory = ROOT / "inventories" / "demo"
    try:
        for pods, deployments in LIVE_SIZES.items():
            names = ["sec%03d" % i for i in range(deployments)]
            variables = {"platform_namespace": namespaces[pods], "platform_components": components(names, 10)}
            seconds, _, _ = playbook(
                "tests/stack/load_demo.yml", variables, scratch, inventory, LIVE_HOST, False
            )
            print("  loaded %d pods in %.1fs" % (pods, seconds), flush=True)
        times = {pods: [] for pods in LIVE_SIZES}
        for round_ in range(RUNS):
            for pods in LIVE_SIZES:
                variables = {
                    "bench_namespaces": [namespaces[pods]],
                    "bench_report_dir": str(scratch / "live"),
                }
                _, _, stdout = playbook(
                    "bench/security_audit_live.yml", variables, scratch, inventory, LIVE_HOST
                )
                seconds, result = task_result(stdout, LIVE_TASK)
                if "findings" not in result:
                    raise SystemExit("the live audit returned no findings: %s" % result.get("msg", result))
                times[pods].append(seconds)
                print(
                    "  run %d live %4d pods %.2fs (%d findings)"
                    % (round_ + 1, pods, seconds, len(result.get("findings", []))),
                    flush=True,
                )
        return {pods: statistics.median(values) for pods, values in times.items()}
    finally:
        # The emulator's controllers tick over every pod: 1,100 pods left behind would slow
        # down whatever runs next on this stack.
        for cluster in clusters([LIVE_HOST]):
            cluster.delete_namespaces(list(namespaces.values()))


def recall_current(scratch):
    """Regenerate the recall fixture in scratch and compare its findings with the committed."""
    sys.path.insert(0, str(ROOT))
    from tests.checkov_sarif import findings

    fresh = checkov_peer.recall_fixture(scratch / "recall")

    def read(directory):
        texts = {p.name: p.read_text() for p in directory.glob("*.yaml")}
        return findings(json.loads((directory / "checkov.sarif").read_text()), texts)

    return read(fresh) == read(checkov_peer.FIXTURE)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-live", action="store_true")
    parser.add_argument("--no-checkov", action="store_true")
    parser.add_argument("--recall", action="store_true")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="security-bench-") as tmp:
        scratch = Path(tmp)
        files = {n: security_gen.write_bench(n, scratch / ("deploy-%d.yaml" % n)) for n in (5000, 10000)}
        for n, path in files.items():
            print("  %d Deployments: %.1f MB" % (n, path.stat().st_size / 1e6), flush=True)
        # Untimed warm-up (the payload cache, the page cache of the files), and the floor.
        audit_files(files[5000], scratch)
        _, floor_rss, _ = playbook("bench/ping.yml", {}, scratch, json_output=False)
        runs = {n: [] for n in files}
        for round_ in range(RUNS):
            for n, path in files.items():
                got = audit_files(path, scratch)
                runs[n].append(got)
                print(
                    "  run %d audit %5d: own %.2fs (%s), task %.2fs, playbook %.2fs, peak RSS %.0f MB"
                    % (round_ + 1, n, got["own"], got["how"], got["task"], got["wall"], got["rss"]),
                    flush=True,
                )
        peer = None if args.no_checkov else checkov_run(scratch, files)
        pods = None if args.no_live else live(scratch)
        current = recall_current(scratch) if args.recall else None
    own = {n: statistics.median(r["own"] for r in runs[n]) for n in runs}
    rss = {n: max(r["rss"] for r in runs[n]) for n in runs}
    module_rss = [r["module_rss"] for r in runs[5000] if r["module_rss"] is not None]
    print("RESULT audit_5000_seconds=%.2f (%s; target <= 3 s)" % (own[5000], runs[5000][0]["how"]))
    print("RESULT audit_10000_seconds=%.2f" % own[10000])
    print("RESULT audit_5000_task_seconds=%.2f" % statistics.median(r["task"] for r in runs[5000]))
    print(
        "RESULT audit_5000_peak_rss_mb=%.0f (the run's largest process; ping's %.0f MB; target <= 300 MB)"
        % (rss[5000], floor_rss)
    )
    if module_rss:
        print("RESULT audit_5000_module_peak_rss_mb=%.0f (as the module reports it)" % max(module_rss))
    print("RESULT audit_10000_peak_rss_mb=%.0f" % rss[10000])
    print("RESULT audit_10000_vs_5000=%.2fx (target <= 2.2x)" % (own[10000] / own[5000]))
    if peer:
        scaled = (
            ""
            if peer["n"] == 5000
            else " (measured on %d Deployments: %.1f s, scaled)"
            % (
                peer["n"],
                peer["measured"],
            )
        )
        print("RESULT checkov_5000_seconds=%.1f%s" % (peer["seconds"], scaled))
        print("RESULT checkov_peak_rss_mb=%.0f (checkov's findings: %d)" % (peer["rss"], peer["found"]))
        print("RESULT checkov_vs_audit=%.0fx (target >= 50x)" % (peer["seconds"] / own[5000]))
        got = peer["recall"]
        if got is None:
            print("RESULT recall_%d=not measured (security/checks.py is not there)" % peer["n"])
        else:
            share = 100.0 * (got["theirs"] - sum(got["missed"].values())) / max(got["theirs"], 1)
            missed = ", ".join("%s x%d" % kv for kv in sorted(got["missed"].items())) or "none"
            print(
                "RESULT recall_%d=%.1f%% of checkov's %d findings of mapped checks (missed: %s; target 100%%)"
                % (peer["n"], share, got["theirs"], missed)
            )
    if pods:
        print("RESULT live_100_pods_seconds=%.2f" % pods[100])
        print("RESULT live_1000_pods_seconds=%.2f" % pods[1000])
        print("RESULT live_1000_vs_100=%.2fx (target <= 1.5x)" % (pods[1000] / pods[100]))
    if current is not None:
        print(
            "RESULT recall_fixture=%s"
            % ("current" if current else "stale: run bench/checkov_peer.py recall-fixture")
        )
    print(
        "RESULT load_average start=%s end=%s"
        % (" ".join("%.2f" % x for x in load_start), " ".join("%.2f" % x for x in os.getloadavg()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
