# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state a stopped runbook left, told from what each of its steps registered.

A changing runbook that fails half-way must say what it changed and how to finish or go
back. The runbook hands over the result each step registered (None for a step it never
reached); the state follows from the first step that did not complete: the steps before it
are done, that one may be partly done, the ones after it were not started.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import NOTHING_CHANGED
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.records import (
    RECORDED_REPLICAS,
    RECORDED_SELECTOR,
)

# maintenance.yml, per action: its steps in order, each with (state code, what is left when
# that step did not complete); then the state when every step completed.
MAINTENANCE = {
    "enable": {
        "steps": [
            (
                "page",
                "page_partly_up",
                "the maintenance page (Deployment {page}) may be partly up; traffic and the application "
                "are untouched.",
            ),
            (
                "routed",
                "partly_routed",
                "the maintenance page is up; Services annotated %s already point at it, the others "
                "still at the application, which is still running." % RECORDED_SELECTOR,
            ),
            (
                "quiesced",
                "partly_quiesced",
                "traffic is on the maintenance page (every Service re-pointed, its selector recorded); "
                "the application is still running or partly scaled down (replicas recorded on the "
                "workloads).",
            ),
        ],
        "unchanged": NOTHING_CHANGED + ".",
        "done": ("on", "maintenance mode is on."),
        "advice": "Re-run with -e maintenance_action=enable to finish (records are kept, never taken twice), "
        "or -e maintenance_action=disable to go back.",
    },
    "disable": {
        "steps": [
            (
                "workloads_restored",
                "workloads_partly_restored",
                "traffic is still on the maintenance page; the application is being scaled back "
                "(workloads not yet back keep their %s record)." % RECORDED_REPLICAS,
            ),
            (
                "services_restored",
                "services_partly_restored",
                "the application is running again; Services still annotated %s still point at the "
                "maintenance page." % RECORDED_SELECTOR,
            ),
            (
                "unpaged",
                "page_left",
                "the application is running and receives its traffic again; the maintenance page "
                "(Deployment {page}) is still there.",
            ),
        ],
        "unchanged": NOTHING_CHANGED + "; maintenance mode is as it was.",
        "done": (
            "off_unhealthy",
            "maintenance mode is off (traffic back on the application, the page removed), but the "
            "platform is not healthy.",
        ),
        "advice": "Re-run with -e maintenance_action=disable to finish.",
    },
}


class StateError(ValueError):
    """Input the state cannot be told from; the message says which."""


def _failed(result):
    return isinstance(result, dict) and bool(result.get("failed"))


def _changed(results):
    return any(isinstance(r, dict) and r.get("changed") and not r.get("skipped") for r in results)


def maintenance_state(steps, action, cluster=None, stopped_at=None, error=None, page=None):
    """maintenance.yml stopped: ``steps`` maps each step (``page``, ``routed``, ``quiesced`` to
    enable; ``workloads_restored``, ``services_restored``, ``unpaged`` to disable) to what it registered, None
    when it was never reached. Returns ``{"state", "changed", "message"}``: a state code
    (``unchanged``, ``page_partly_up``, ..., ``on``, ``off_unhealthy``), whether anything
    was written, and the message naming the step that stopped it, the cause, the state left
    and how to finish or go back."""
    table = MAINTENANCE.get(action)
    if table is None:
        raise StateError("action must be enable or disable, got %r" % (action,))
    steps = steps or {}
    first = table["steps"][0][0]
    if steps.get(first) is None:
        state, text = "unchanged", table["unchanged"]
    else:
        state, text = table["done"]
        for key, code, left in table["steps"]:
            # A step never reached after the first one counts as possibly partly done: the
            # runbook stopped between two steps, and saying less would hide a change.
            if steps.get(key) is None or _failed(steps.get(key)):
                state, text = code, left
                break
    text = text.format(page=page or "maintenance page")
    head = "maintenance.yml %s%s" % (action, " on %s" % cluster if cluster else "")
    if stopped_at:
        head += ' stopped at "%s"' % stopped_at
    else:
        head += " stopped"
    cause = (error or "see the task output").rstrip(". ")
    return {
        "state": state,
        "changed": _changed(steps.values()),
        "message": "%s: %s. State: %s %s" % (head, cause, text, table["advice"]),
    }


def upgrade_outcome(cluster, reason, components=(), undo=None, undo_error=None):
    """upgrade.yml failed and tried to put back the revisions that ran before.

    ``undo`` is what the one k8s_rollout ``action=undo`` call registered (None when there
    was nothing to undo: the upgrade failed before any workload's revision was read),
    ``undo_error`` its failure (task and message) when the rollback itself failed. Returns
    ``{"state", "rolled_back", "message"}``: ``rolled_back`` (``[{name, revision}]`` of the
    workloads put back), ``state`` ``rolled_back``, ``unchanged`` (no workload had changed)
    or ``unknown`` (the rollback failed: some workloads may run the new release).
    """
    where = "upgrade on %s" % cluster
    if undo_error:
        return {
            "state": "unknown",
            "rolled_back": [],
            "message": "%s failed — %s — and rolling it back failed too — %s. Some workloads of %s may "
            "run the new release: run playbooks/rollback.yml (or upgrade.yml with the previous version) "
            "once the cluster answers; no further cluster was touched."
            % (where, reason, str(undo_error).rstrip(". "), ", ".join(components) or "the platform"),
        }
    undo = undo or {}
    workloads = [] if undo.get("skipped") else undo.get("workloads") or []
    rolled_back = [
        {"name": w.get("name"), "revision": w.get("target_revision")} for w in workloads if w.get("changed")
    ]
    if rolled_back:
        done = "rolled back: %s" % ", ".join(
            "%s to revision %s" % (w["name"], "?" if w["revision"] is None else w["revision"])
            for w in rolled_back
        )
    else:
        done = "no workload had changed"
    return {
        "state": "rolled_back" if rolled_back else "unchanged",
        "rolled_back": rolled_back,
        "message": "%s failed and was rolled back — %s — %s; the platform runs the revisions it ran "
        "before; no further cluster was touched." % (where, reason, done),
    }
