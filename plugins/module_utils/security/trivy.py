# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""trivy's image reports as findings on the workloads that use the image (pure).

``parse(report)`` reads ``trivy image --format json`` output (SchemaVersion 2:
``Results[].Vulnerabilities[]`` with VulnerabilityID, PkgName, InstalledVersion,
FixedVersion, Severity, Title; a result without vulnerabilities has no such key) into counts
per severity, fixable counts (a FixedVersion is known) and the vulnerabilities, worst first.
``findings(summary, users)`` gives MAO-200 on every (workload, container) that runs the
image when it has critical or high vulnerabilities. ``image_users(objects)`` finds those
users in workloads and bare pods. Running trivy is trivy_exec.py's job.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.security.finding import make, object_ref, rule

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
NSA = "Kubernetes Pod security: scan containers and Pods for vulnerabilities"
RULES = (
    rule(
        "MAO-200",
        "Image with critical or high vulnerabilities",
        "high",
        "Rebuild the image on a patched base (or upgrade the packages that have a fixed version)",
        nsa=NSA,
    ),
    rule(
        "MAO-201",
        "Image not scanned for vulnerabilities",
        "info",
        "Install trivy where the audit runs (or set trivy: false to skip the scan on purpose)",
        nsa=NSA,
    ),
)
SHOWN = 5  # vulnerabilities named in a finding's message; the counts give the rest

# Where the pod spec of each kind lives.
_POD_SPEC = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


class ReportError(ValueError):
    """A report that is not trivy's JSON; the message says what is wrong."""


def parse(report):
    """``{"image", "counts", "fixable", "vulnerabilities"}`` of a trivy image report (a dict)."""
    if not isinstance(report, dict) or "Results" not in report and "SchemaVersion" not in report:
        raise ReportError("not a trivy JSON report (no SchemaVersion or Results)")
    if report.get("SchemaVersion") not in (None, 2):
        raise ReportError("trivy report schema %s is not the supported 2" % report.get("SchemaVersion"))
    counts = dict.fromkeys(SEVERITIES, 0)
    fixable = dict.fromkeys(SEVERITIES, 0)
    vulns, seen = [], set()
    for result in report.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            severity = str(vuln.get("Severity") or "UNKNOWN").upper()
            severity = severity if severity in counts else "UNKNOWN"
            key = (vuln.get("VulnerabilityID"), vuln.get("PkgName"), vuln.get("InstalledVersion"))
            if key in seen:
                continue
            seen.add(key)
            fixed = vuln.get("FixedVersion") or None
            counts[severity] += 1
            fixable[severity] += 1 if fixed else 0
            vulns.append(
                {
                    "id": vuln.get("VulnerabilityID"),
                    "severity": severity,
                    "package": vuln.get("PkgName"),
                    "installed": vuln.get("InstalledVersion"),
                    "fixed": fixed,
                    "title": vuln.get("Title"),
                    "target": result.get("Target"),
                }
            )
    vulns.sort(key=lambda v: (SEVERITIES.index(v["severity"]), v["fixed"] is None, v["id"] or ""))
    return {
        "image": report.get("ArtifactName"),
        "counts": counts,
        "fixable": fixable,
        "vulnerabilities": vulns,
    }


def image_users(objects):
    """``{image: [(object ref, container name, path of its image field)]}`` for the
    containers and init containers of workload objects and pods (a list of dicts)."""
    users = {}
    for obj in objects:
        kind = obj.get("kind")
        keys = _POD_SPEC.get(kind)
        if keys is None:
            continue
        spec = obj
        for key in keys:
            spec = (spec or {}).get(key) or {}
        for field in ("initContainers", "containers"):
            for index, container in enumerate(spec.get(field) or []):
                image = container.get("image")
                if image:
                    path = "%s.%s[%d].image" % (".".join(keys), field, index)
                    users.setdefault(image, []).append((object_ref(obj), container.get("name"), path))
    return users


def _counts_text(summary):
    parts = []
    for severity in SEVERITIES:
        count = summary["counts"][severity]
        if not count:
            continue
        text = "%d %s" % (count, severity.lower())
        if severity in ("CRITICAL", "HIGH"):
            text += " (%d fixable)" % summary["fixable"][severity]
        parts.append(text)
    return ", ".join(parts) or "no vulnerabilities"


def message(image, summary):
    worst = [v for v in summary["vulnerabilities"] if v["severity"] in ("CRITICAL", "HIGH")]
    named = [
        "%s %s %s %s (%s)" % (v["id"], v["severity"].lower(), v["package"], v["installed"], _fix(v))
        for v in worst[:SHOWN]
    ]
    more = " and %d more" % (len(worst) - SHOWN) if len(worst) > SHOWN else ""
    return "image %s: %s: %s%s" % (image, _counts_text(summary), "; ".join(named), more)


def _fix(vuln):
    return "fixed in %s" % vuln["fixed"] if vuln["fixed"] else "no fix yet"


def findings(summary, users, image=None):
    """MAO-200 on every user of the image when the scan found critical or high
    vulnerabilities (critical when one is critical); none otherwise. ``users`` as
    image_users gives them for the image; an image nobody runs gets one finding without object."""
    image = image or summary.get("image")
    counts = summary["counts"]
    if not counts["CRITICAL"] and not counts["HIGH"]:
        return []
    severity = "critical" if counts["CRITICAL"] else "high"
    text = message(image, summary)
    return [
        make("MAO-200", severity, text, obj, container=container, path=path)
        for obj, container, path in users or [(None, None, None)]
    ]


def not_checked(image, users, reason):
    """One MAO-201 "not_checked" finding for an image that could not be scanned, on its first
    user (the message names the others)."""
    users = list(users or [(None, None, None)])
    obj, container, path = users[0]
    names = sorted({"%s %s" % (u[0]["kind"], u[0]["name"]) for u in users if u[0]})
    used = " (used by %s)" % ", ".join(names) if names else ""
    return make(
        "MAO-201",
        "info",
        "image %s%s not scanned: %s" % (image, used, reason),
        obj,
        status="not_checked",
        container=container,
        path=path,
    )
