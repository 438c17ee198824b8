# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finding shape of the live analyses (RBAC, NetworkPolicy coverage, images), pure.

A finding is a plain dict (rule, severity, message, object, container, path, source,
status, waiver); the live analyses never have a source file, and waivers are applied later
by the audit, so both start as None.
"""

from __future__ import annotations


def object_ref(obj, kind=None, api_version=None):
    """``{"apiVersion", "kind", "namespace", "name"}`` of an object (namespace None when
    cluster-scoped); ``kind``/``api_version`` fill in what a listed item lacks."""
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion") or api_version,
        "kind": obj.get("kind") or kind,
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
    }


def ref(api_version, kind, namespace, name):
    return {"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name}


def make(rule, severity, message, obj, status="fail", container=None, path=None):
    """One finding of ``rule`` on ``obj`` (an object_ref)."""
    return {
        "rule": rule,
        "severity": severity,
        "message": message,
        "object": obj,
        "container": container,
        "path": path,
        "source": None,
        "status": status,
        "waiver": None,
    }


def rule(rule_id, title, severity, hint, pss=None, nsa=None, cis=None):
    """A catalogue entry of a live-only rule."""
    return {
        "id": rule_id,
        "title": title,
        "severity": severity,
        "hint": hint,
        "scope": "live",
        "references": {"pss": pss, "nsa": nsa, "cis": cis},
    }


# Namespaces of the cluster's own components: left out of a whole-cluster audit unless the
# caller names them (their controllers hold the rights and run without policies by design).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
