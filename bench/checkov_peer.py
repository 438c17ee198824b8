"""checkov as a benchmark peer: its own virtualenv, installed from the package registry at run
time (never into .venv), and the recall fixture regenerated with it.

    .venv/bin/python bench/checkov_peer.py install          # once; kept in .cache/checkov-venv
    .venv/bin/python bench/checkov_peer.py recall-fixture   # rewrite tests/fixtures/security/recall/

How checkov 3.3.30 writes SARIF: ``-o sarif`` prints its CLI report to stdout and writes the
SARIF to ``results.sarif`` in the current directory; with ``--output-file-path DIR`` the
files are ``DIR/results_sarif.sarif`` (and ``DIR/results_json.json`` for ``-o json``). The
SARIF has failed checks only; ``--quiet`` drops the passed ones from the JSON too, so the
fixture's passes are taken from a run without it. Artifact URIs are the paths checkov was
given: it runs in the fixture directory on relative names, and any absolute prefix is trimmed.
The committed SARIF also leaves out each region's snippet (the object's whole YAML document,
five sixths of the file): the region's lines point into the committed YAML, which has the
same text, and tests/checkov_sarif.py reads the object from them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import security_gen  # noqa: E402

from tests.checkov_sarif import document_object, relative  # noqa: E402

sys.path.insert(0, str(ROOT / "plugins" / "module_utils" / "security"))
import checkov as mapping  # noqa: E402  (security/checkov.py: pure data, no Ansible)

VERSION = "3.3.30"
VENV = Path(os.environ.get("BENCH_CHECKOV_VENV", ROOT / ".cache" / "checkov-venv"))
CHECKOV = VENV / "bin" / "checkov"
FIXTURE = ROOT / "tests" / "fixtures" / "security" / "recall"


def installed():
    if not CHECKOV.exists():
        return False
    proc = subprocess.run([str(CHECKOV), "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() == VERSION


def install():
    """checkov==VERSION in its own virtualenv (from the system's python3, not .venv's)."""
    if installed():
        return CHECKOV
    base = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"
    if VENV.exists():
        shutil.rmtree(VENV)
    print("installing checkov %s into %s (once) ..." % (VERSION, VENV), flush=True)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "checkov==%s" % VERSION], check=True)
    if not installed():
        raise SystemExit("checkov %s did not install into %s" % (VERSION, VENV))
    return CHECKOV


def command(files, quiet=True, outputs=("sarif",), output_dir=None):
    """The issue's cheapest mode: ``checkov -f FILE --framework kubernetes --skip-download
    --quiet -o sarif`` (more -f for more files)."""
    cmd = [str(CHECKOV)]
    for f in files:
        cmd += ["-f", str(f)]
    cmd += ["--framework", "kubernetes", "--skip-download"]
    if quiet:
        cmd.append("--quiet")
    for o in outputs:
        cmd += ["-o", o]
    if output_dir:
        cmd += ["--output-file-path", str(output_dir)]
    return cmd


def run(files, cwd, **kw):
    """checkov on files from cwd; exit status 1 means "found something", not a failure."""
    proc = subprocess.run(command(files, **kw), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit("checkov failed (exit %d):\n%s" % (proc.returncode, proc.stderr[-3000:]))
    return proc


def trim_sarif(sarif, root, snippets=False):
    """Artifact URIs relative to root (checkov writes what it was given); without the
    regions' snippets unless asked."""
    for r in sarif.get("runs", []):
        for result in r.get("results", []):
            for loc in result.get("locations", []):
                art = loc["physicalLocation"]["artifactLocation"]
                art["uri"] = relative(art["uri"], root)
                if not snippets:
                    loc["physicalLocation"].get("region", {}).pop("snippet", None)
    return sarif


def passes_of(json_report, root):
    """{check id: ["file kind namespace name", ...]} of every passed mapped check in checkov's
    JSON report (namespace "-" when the manifest names none)."""
    reports = json_report if isinstance(json_report, list) else [json_report]
    out = {}
    for report in reports:
        for check in report["results"].get("passed_checks", []):
            if check["check_id"] not in mapping.CHECKOV:
                continue
            text = "".join(line for _, line in check["code_block"])
            kind, namespace, name = document_object(text)
            entry = " ".join((relative(check["file_path"], root), kind, namespace or "-", name))
            out.setdefault(check["check_id"], []).append(entry)
    return {check: sorted(entries) for check, entries in sorted(out.items())}


def recall_fixture(directory=FIXTURE):
    """Write the recall set into directory and checkov's verdicts beside it: checkov.sarif
    (its SARIF, failed checks) and checkov_passed.json (the passed checks)."""
    install()
    directory = Path(directory)
    files = [p.name for p in security_gen.write_recall(directory)]
    with tempfile.TemporaryDirectory() as out:
        run(files, directory, quiet=False, outputs=("sarif", "json"), output_dir=out)
        sarif = json.loads((Path(out) / "results_sarif.sarif").read_text())
        report = json.loads((Path(out) / "results_json.json").read_text())
    (directory / "checkov.sarif").write_text(json.dumps(trim_sarif(sarif, directory), indent=1) + "\n")
    passed = {"checkov": VERSION, "passed": passes_of(report, directory)}
    (directory / "checkov_passed.json").write_text(json.dumps(passed, indent=1) + "\n")
    return directory


def main(argv):
    if argv[:1] == ["install"]:
        print(install())
    elif argv[:1] == ["recall-fixture"]:
        print(recall_fixture(Path(argv[1]) if len(argv) > 1 else FIXTURE))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
