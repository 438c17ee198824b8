# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of k8s_security_audit: objects (manifests read from ``src``, the ``objects``
option, and whatever a live reader hands over) checked in one pass, waived, summed up,
and written as reports.

The live reader calls the same runner with what it read and found::

    audit.run(request, objects, extra_findings=rbac_and_policy_findings,
              not_checked=findings_it_could_not_check, present=owner_keys, rules=(rbac.RULES, ...))

``objects`` are Kubernetes objects (or ``(object, source)`` pairs); an object whose
controller is among them (or in ``present``, keys of checks.keys()) is audited through its
owner, not again. ``extra_findings`` are waived by the waiver list like the checks' own;
``not_checked`` findings are reported as they are.
"""

from __future__ import annotations

import datetime
import gc
import shutil

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import store
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import (
    OpsError,
    Request,
    nothing_changed,
)
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.security import (
    catalogue,
    checks,
    cluster,
    manifests,
    netpol,
    rbac,
    report,
    trivy,
    trivy_exec,
)
from ansible_collections.multiagent.ops.plugins.module_utils.security import waivers as waiving

#: How many failing findings the failure message names.
NAMED = 5
#: Every rule the audit knows, by the file that checks it (the README's table is made from it).
ALL_RULES = (catalogue.RULES, trivy.RULES, rbac.RULES, netpol.RULES, cluster.RULES)
#: The LISTs each live analysis stands on: where one failed, it does not run there.
RBAC_READS = frozenset(("Role", "RoleBinding", "ClusterRoleBinding"))
NETWORK_READS = frozenset(("NetworkPolicy", "Pod"))


def gather(params, objects=(), warn=None):
    """``[(object, source)]``: the manifests of ``src``, the ``objects`` option (source
    ``{file: None, document: index}``: manifests without a file) and ``objects``."""
    pairs = []
    if params.get("src"):
        pairs.extend(manifests.read(params["src"], warn))
    for index, obj in enumerate(params.get("objects") or ()):
        pairs.append((obj, {"file": None, "document": index}))
    for obj in objects:
        pairs.append(obj if isinstance(obj, tuple) else (obj, None))
    return pairs


def audit(
    pairs,
    rules,
    registries=None,
    waiver_lists=(),
    today=None,
    present=None,
    extra_findings=(),
    not_checked=(),
):
    """``(findings, checked)`` of ``pairs`` (see report.Audit): one pass over the objects."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    known = frozenset(rules)
    objects = [pair[0] for pair in pairs if isinstance(pair[0], dict)]
    context = checks.Context.of(objects, registries)
    owners = checks.keys(objects) | set(present or ())
    listed, findings = [], []
    for where, entries in waiver_lists:
        valid, problems = waiving.of_entries(entries, where, today, known)
        listed.extend(valid)
        findings.extend(problems)
    by_rule = waiving.index(listed)
    checked = []
    for obj, source in pairs:
        if not isinstance(obj, dict) or not obj.get("kind"):
            continue
        if checks.owned(obj, owners):
            continue
        applicable = checks.applicable(obj, context)
        if not applicable:
            continue
        obj_ref = checks.ref(obj)
        checked.append((obj_ref, source, applicable))
        found = checks.check(obj, context, source)
        own, problems = waiving.of_object(obj, obj_ref, source, today, known)
        if own:
            waiving.apply(found, waiving.index(own), by_rule)
        elif by_rule:
            waiving.apply(found, by_rule)
        findings.extend(found)
        findings.extend(problems)
    extra = [dict(f) for f in extra_findings]
    if by_rule:
        waiving.apply(extra, by_rule)
    findings.extend(extra)
    findings.extend(dict(f, status="not_checked") for f in not_checked)
    return findings, checked


_STATUS_ORDER = {status: rank for rank, status in enumerate(report.STATUSES)}


def most_severe(findings, limit):
    """``(findings, how many were left out)``: at most ``limit`` findings (all when None),
    failing ones first, the most severe first, in their order otherwise. The reports hold
    them all; a task result of 40,000 findings costs Ansible more than the audit."""
    if limit is None or len(findings) <= limit:
        return findings, 0
    ordered = sorted(findings, key=lambda f: (_STATUS_ORDER[f["status"]], catalogue.RANK[f["severity"]]))
    return ordered[: max(limit, 0)], len(findings) - max(limit, 0)


def waiver_list(params):
    """``[(where, entries)]``: the ``waivers`` option and the ``waiver_file``."""
    lists = [("waivers", params.get("waivers") or ())]
    if params.get("waiver_file"):
        lists.append((params["waiver_file"], manifests.read_waivers(params["waiver_file"])))
    return lists


def _failure(result_audit, fail_on, files):
    failing = [
        f
        for f in result_audit.findings
        if f["status"] == "fail" and catalogue.RANK[f["severity"]] <= catalogue.RANK[fail_on]
    ]
    named = "; ".join(
        "%s %s %s" % (f["rule"], report.label(f["object"]), f["message"]) for f in failing[:NAMED]
    )
    more = " and %d more" % (len(failing) - NAMED) if len(failing) > NAMED else ""
    message = "The security audit fails: %d finding%s at severity %s or above (%s%s)" % (
        len(failing),
        "" if len(failing) == 1 else "s",
        fail_on,
        named,
        more,
    )
    if not any(f["changed"] for f in files):
        message = nothing_changed(message)
    return message


def image_findings(pairs, present=None, mode="auto", which=None, scan=None):
    """``(findings, not_checked)`` of the images the audited objects run (each workload once,
    not again through its pods), scanned with trivy: MAO-200 where it finds critical or high
    vulnerabilities, MAO-201 "not checked" where it cannot run. ``mode`` false: no scan;
    true: trivy must be installed (OpsError otherwise); auto: scan where it is."""
    if mode == "false":
        return [], []
    which = which or shutil.which
    if mode == "true" and which("trivy") is None:
        raise OpsError(
            nothing_changed("trivy is true, but trivy is not installed where the module runs (not on PATH)"),
            changed=False,
        )
    objects = [pair[0] for pair in pairs if isinstance(pair[0], dict)]
    owners = checks.keys(objects) | set(present or ())
    tops = [obj for obj in objects if not checks.owned(obj, owners)]
    users = trivy.image_users(tops)
    if not users:
        return [], []
    found = (scan or trivy_exec.scan_images)(users, which=which)
    return [f for f in found if f["status"] != "not_checked"], [
        f for f in found if f["status"] == "not_checked"
    ]


def live_findings(objects, unread, namespaces=None):
    """The live-only analyses of what ``cluster.read`` gave: RBAC from the Roles and Bindings,
    NetworkPolicy coverage; neither runs where its objects could not be read (``unread``
    already says "not checked" there, and a missing read must never look clean)."""
    found = []
    rbac_everywhere, rbac_missing = cluster.unread_scope(unread, RBAC_READS)
    if not rbac_everywhere:
        scope = namespaces
        if rbac_missing:
            if scope is None:
                bindings = objects.get("RoleBinding") or ()
                scope = sorted({(b.get("metadata") or {}).get("namespace") for b in bindings} - {None})
            scope = [n for n in scope if n not in rbac_missing]
        found.extend(
            rbac.analyze(
                objects,
                scope,
                cluster_roles_read="ClusterRole" not in cluster.unread_kinds(unread),
            )
        )
    net_everywhere, net_missing = cluster.unread_scope(unread, NETWORK_READS)
    if not net_everywhere:
        if namespaces is None:
            found.extend(netpol.analyze(objects, None, tuple(netpol.SYSTEM_NAMESPACES) + tuple(net_missing)))
        else:
            found.extend(netpol.analyze(objects, [n for n in namespaces if n not in net_missing]))
    return found


def run_live(request, client, read=cluster.read):
    """The live audit: one read of the namespaces (or the cluster), the object checks on what
    was read (each workload once, through its owner), RBAC and NetworkPolicy coverage, the
    images' scan, and what could not be read as "not checked"."""
    params = request.params
    namespaces = None if params.get("all_namespaces") else list(dict.fromkeys(params.get("namespaces") or ()))
    try:
        objects, unread = read(client, namespaces)
    except ApiError as exc:
        raise OpsError(nothing_changed("Cannot read the cluster for the security audit: %s" % exc)) from None
    listed = [obj for items in objects.values() for obj in items]
    found = live_findings(objects, unread, namespaces)
    return run(
        request,
        listed,
        extra_findings=[f for f in found if f["status"] != "not_checked"],
        not_checked=list(unread) + [f for f in found if f["status"] == "not_checked"],
        rules=ALL_RULES[2:],
        live=True,
    )


def run(
    request, objects=(), extra_findings=(), not_checked=(), present=None, rules=(), today=None, live=False
):
    """Audit, write the reports (``report_dir``; atomically, only those whose content
    changed, none in check mode) and return {changed, findings, summary, failed, files};
    an OpsError when the audit fails at ``fail_on`` (with the same result), or when the
    manifests or the waiver file cannot be read."""
    # Python's cyclic collector would walk the growing heap of objects and findings (which
    # hold no cycles) again and again: 10,000 objects took 2.3 times as long as 5,000.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(request, objects, extra_findings, not_checked, present, rules, today, live)
    finally:
        if collecting:
            gc.enable()


def _run(request, objects, extra_findings, not_checked, present, rules, today, live):
    params = request.params
    try:
        merged = catalogue.catalogue(
            catalogue.RULES, trivy.RULES, *[r for r in rules if r is not trivy.RULES]
        )
        pairs = gather(params, objects, request.warn)
        entries = waiver_list(params)
    except (manifests.ManifestError, ValueError) as exc:
        raise OpsError(nothing_changed(str(exc)), changed=False) from None
    if not pairs and not objects and not extra_findings and not not_checked and not live:
        request.warn("No Kubernetes object to audit (src and objects hold none)")
    scanned, unscanned = image_findings(pairs, present, params.get("trivy") or "auto")
    extra_findings = list(extra_findings) + scanned
    not_checked = list(not_checked) + unscanned
    findings, checked = audit(
        pairs,
        merged,
        params.get("registries"),
        entries,
        today,
        present,
        extra_findings,
        not_checked,
    )
    fail_on = params.get("fail_on") or "critical"
    result_audit = report.Audit(findings, checked, merged, fail_on)
    summary = result_audit.summary()
    failed = result_audit.failed()
    files = []
    if params.get("report_dir"):
        name = params.get("report_name") or "security-audit"
        rendered = {}
        for fmt in params.get("formats") or ():
            extension, render = report.FORMATS[fmt]
            rendered[name + extension] = render(result_audit, summary)
        try:
            store.put(params["report_dir"], rendered, request.check_mode, out=files)
        except OSError as exc:
            written = any(f["changed"] for f in files) and not request.check_mode
            message = "Cannot write the security audit report into %s: %s" % (params["report_dir"], exc)
            raise OpsError(
                message if written else nothing_changed(message),
                changed=written,
                findings=findings,
                summary=summary,
                failed=failed,
                files=files,
            ) from None
    returned, omitted = most_severe(findings, params.get("max_findings"))
    result = {
        "changed": any(f["changed"] for f in files),
        "findings": returned,
        "findings_omitted": omitted,
        "summary": summary,
        "failed": failed,
        "files": files,
    }
    if failed:
        result.pop("failed")
        raise OpsError(_failure(result_audit, fail_on, files), **result)
    return result


def verdict(objects, fail_on="critical", waivers=(), registries=(), max_findings=20, today=None):
    """The audit of ``objects`` (rendered manifests) as the controller judges it before a
    deploy, without a module run or report files: ``{failed, message, summary, findings,
    waived}``. ``message`` says what fails (as the module would) or, when nothing does, the
    score and each waiver that let a finding through, with its reason and expiry."""
    params = {
        "objects": list(objects or ()),
        "fail_on": fail_on,
        "waivers": list(waivers or ()),
        "registries": list(registries or ()),
        "trivy": "false",
        "max_findings": max_findings,
    }
    try:
        result = run(Request(params, check_mode=True), today=today)
        failed, message = False, None
    except OpsError as exc:
        result, failed, message = exc.result, True, exc.msg
    findings = result.get("findings") or []
    waived = [
        "%s %s until %s (%s)"
        % (
            f["rule"],
            report.label(f["object"]),
            (f.get("waiver") or {}).get("expires") or "-",
            (f.get("waiver") or {}).get("reason") or "no reason",
        )
        for f in findings
        if f["status"] == "waived"
    ]
    summary = result.get("summary") or {}
    if not failed:
        message = "The security audit passes at %s: score %s%s" % (
            fail_on,
            summary.get("score"),
            "; waived: " + "; ".join(waived) if waived else "",
        )
    return {"failed": failed, "message": message, "summary": summary, "findings": findings, "waived": waived}
