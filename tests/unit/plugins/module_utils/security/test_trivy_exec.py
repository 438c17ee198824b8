"""trivy_exec with a fake trivy on PATH that replays the recorded report, and without trivy."""

import os
import stat
from pathlib import Path

from ansible_collections.multiagent.ops.plugins.module_utils.security import trivy, trivy_exec

ROOT = Path(__file__).resolve().parents[5]
REPORT = ROOT / "tests" / "fixtures" / "security" / "trivy" / "python_3.11-slim.json"
IMAGE = "python:3.11-slim"
WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "mplp"},
    "spec": {"template": {"spec": {"containers": [{"name": "app", "image": IMAGE}]}}},
}
CLEAN = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "tiny", "namespace": "mplp"},
    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "tiny:1"}]}}},
}


def fake_trivy(bindir, body):
    """A trivy on PATH that records its arguments and runs ``body`` (sh)."""
    bindir.mkdir(exist_ok=True)
    path = bindir / "trivy"
    path.write_text('#!/bin/sh\nprintf "%%s\\n" "$@" >> "%s"\n%s\n' % (bindir / "args", body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_fake_trivy_replays_the_recorded_report(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    body = (
        'for last; do :; done\nif [ "$last" = "%s" ]; then cat "%s"; '
        'else echo \'{"SchemaVersion": 2, "ArtifactName": "tiny:1", "Results": []}\'; fi'
    ) % (IMAGE, REPORT)
    fake_trivy(bindir, body)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    findings = trivy_exec.scan_images(trivy.image_users([WEB, CLEAN]), timeout=30, skip_db_update=True)
    assert [(f["rule"], f["severity"], f["object"]["name"]) for f in findings] == [
        ("MAO-200", "critical", "web")
    ]
    calls = (bindir / "args").read_text().split("\n")
    assert calls[:7] == ["image", "--quiet", "--format", "json", "--skip-db-update", "--", IMAGE]
    assert "tiny:1" in calls


def test_without_trivy_every_image_is_not_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    findings = trivy_exec.scan_images(trivy.image_users([WEB, CLEAN]))
    assert [(f["rule"], f["status"], f["object"]["name"]) for f in findings] == [
        ("MAO-201", "not_checked", "web"),
        ("MAO-201", "not_checked", "tiny"),
    ]
    assert "trivy is not installed" in findings[0]["message"]


def test_a_failing_or_hanging_trivy_is_not_checked_with_its_reason(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    fake_trivy(bindir, 'echo "FATAL image scan error: unable to find the specified image" >&2; exit 1')
    monkeypatch.setenv("PATH", str(bindir))
    [finding] = trivy_exec.scan_images(trivy.image_users([WEB]))
    assert finding["status"] == "not_checked"
    assert finding["message"].endswith(
        "trivy exited with 1: FATAL image scan error: unable to find the specified image"
    )

    fake_trivy(bindir, "echo not json")
    [finding] = trivy_exec.scan_images(trivy.image_users([WEB]))
    assert "trivy printed no usable report" in finding["message"]

    fake_trivy(bindir, "exec /bin/sleep 5")
    [finding] = trivy_exec.scan_images(trivy.image_users([WEB]), timeout=0.3)
    assert finding["message"].endswith("trivy did not finish within 0.3 s")
