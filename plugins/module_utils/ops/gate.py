# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's decisions, for role multiagent.ops._ops (entry point gate): may this run
change the platform now (an open maintenance window, a forced run, or a runbook that needs
no window), and which Lease is its lock, held by whom. Pure: the window comes from
windows.status(), the clock and the environment from the caller.
"""

from __future__ import annotations

import json
import re

LOCK_PREFIX = "maops-lock-"
NAME_MAX = 63  # a Lease's name is a DNS subdomain; kept to a label's length


class GateError(ValueError):
    """Input the gate cannot decide on; the message names it."""


def verdict(window, purpose, cluster, force=False, need_window=True, windows=None):
    """``{"allowed", "message"}``: whether the run may go on, and why (or why not, naming the
    windows, their time zone and when the next one opens). ``window``: what
    windows.status() said now."""
    if not isinstance(window, dict) or "open" not in window:
        raise GateError("the window status must be what maintenance_window answered, got %r" % (window,))
    if window["open"]:
        return {
            "allowed": True,
            "message": "maintenance window %s open until %s" % (window.get("window"), window.get("ends_at")),
        }
    if force:
        return {"allowed": True, "message": "forced outside the maintenance windows"}
    if not need_window:
        return {"allowed": True, "message": "no maintenance window needed"}
    return {
        "allowed": False,
        "message": "%s: outside the maintenance windows of %s (%s, %s); the next opens at %s (%s). Run then, "
        "or pass -e ops_force=true."
        % (
            purpose,
            cluster,
            json.dumps(windows if windows is not None else {}, sort_keys=True),
            window.get("timezone"),
            window.get("next_start") or "never",
            window.get("next_window") or "none",
        ),
    }


def lock_name(target):
    """The Lease of ``target``: ``maops-lock-<target>``, lower case, every run of other
    characters a ``-``, cut to 63 characters without a trailing ``-`` or ``.``."""
    if not target or not str(target).strip():
        raise GateError("the gate needs a target to lock (ops_gate_target)")
    name = re.sub(r"[^a-z0-9.-]+", "-", (LOCK_PREFIX + str(target)).lower())[:NAME_MAX]
    return re.sub(r"[.-]+$", "", name)


def lock(target, namespace, fallback_namespace=None):
    """``{"target", "name", "namespace", "fallback_namespace"}`` of the lock: the Lease is in
    ``namespace``, or in ``fallback_namespace`` while ``namespace`` does not exist yet (a
    first deploy); multiagent.ops.lease decides which when it runs."""
    if not namespace:
        raise GateError("the gate needs the namespace of its lock (platform_namespace or ops_gate_namespace)")
    fallback = fallback_namespace if fallback_namespace and fallback_namespace != namespace else None
    return {
        "target": target,
        "name": lock_name(target),
        "namespace": namespace,
        "fallback_namespace": fallback,
    }


def holder(
    given=None, awx_job_id=None, user=None, stamp=None, suffix=None, template=None, awx_user=None, pod=None
):
    """Who holds the lock, the same way in every runbook: the holder given
    (``ops_lock_holder``); else the AWX job, with its template and the user who launched it
    when AWX says (``awx-job-<id> (template '<name>', user <name>)``); else the pod a
    CronJob runs in (``pod/<name>``); else ``ansible-<user>-<stamp>-<suffix>`` (the suffix
    tells two runs of one user apart)."""
    if given:
        return str(given)
    if awx_job_id not in (None, ""):
        about = []
        if template:
            about.append("template '%s'" % template)
        if awx_user:
            about.append("user %s" % awx_user)
        return "awx-job-%s%s" % (awx_job_id, " (%s)" % ", ".join(about) if about else "")
    if pod:
        return "pod/%s" % pod
    if not stamp or suffix in (None, ""):
        raise GateError("a holder needs the run's time and a random suffix when no AWX job names it")
    return "ansible-%s-%s-%s" % (user or "operator", stamp, suffix)
