# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs trivy on images, when it is installed, and turns its reports into findings.

``trivy image --quiet --format json [--skip-db-update] IMAGE`` runs as an argument list
(never a shell) with a timeout per image. When trivy is not on PATH, each image gets one
"not_checked" finding (MAO-201) saying so; a scan that fails, times out or prints something
that is not a report is "not checked" with its reason too, never silence.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from ansible_collections.multiagent.ops.plugins.module_utils.security import trivy

DEFAULT_TIMEOUT = 300


class ScanError(Exception):
    """A scan that gave no report; the message is the reason."""


def command(executable, image, skip_db_update=False):
    argv = [executable, "image", "--quiet", "--format", "json"]
    if skip_db_update:
        argv.append("--skip-db-update")
    return argv + ["--", image]


def scan(executable, image, timeout=DEFAULT_TIMEOUT, skip_db_update=False, run=subprocess.run):
    """trivy's parsed report of ``image`` (see trivy.parse); raises ScanError."""
    try:
        proc = run(
            command(executable, image, skip_db_update),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ScanError("trivy did not finish within %s s" % timeout) from None
    except OSError as exc:
        raise ScanError("trivy could not be run: %s" % exc) from None
    if proc.returncode != 0:
        tail = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ScanError("trivy exited with %s: %s" % (proc.returncode, " ".join(tail) or "no message"))
    try:
        return trivy.parse(json.loads(proc.stdout))
    except ValueError as exc:  # JSON errors and ReportError
        raise ScanError("trivy printed no usable report: %s" % exc) from None


def scan_images(
    users_by_image, timeout=DEFAULT_TIMEOUT, skip_db_update=False, which=shutil.which, run=subprocess.run
):
    """Findings for every image of ``users_by_image`` (as trivy.image_users gives it):
    MAO-200 where the scan found critical or high vulnerabilities, MAO-201 "not_checked"
    where it could not run."""
    executable = which("trivy")
    findings = []
    for image in sorted(users_by_image):
        users = users_by_image[image]
        if executable is None:
            findings.append(trivy.not_checked(image, users, "trivy is not installed (not found on PATH)"))
            continue
        try:
            summary = scan(executable, image, timeout, skip_db_update, run)
        except ScanError as exc:
            findings.append(trivy.not_checked(image, users, str(exc)))
            continue
        findings.extend(trivy.findings(summary, users, image))
    return findings
