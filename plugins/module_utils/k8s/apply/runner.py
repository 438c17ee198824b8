# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""multiagent.ops.k8s_apply's runner: its options into a batch, the batch through the one
applier (applier.py, which config_restore uses too), then the rollouts it started waited
for, and the task's result.

The runner is apart from applier.py so that the engine both modules share knows nothing of
one module's options, waits or result keys.
"""

from __future__ import annotations

import time

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply.applier import Applier
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.rollout import failure_message, wait_rollouts

SHOWN = 10


def _names(labels):
    shown = ", ".join(labels[:SHOWN])
    return shown + (" and %d more" % (len(labels) - SHOWN) if len(labels) > SHOWN else "")


def failure_text(plan, outcome):
    """What failed, what was applied before and what was not attempted."""
    by_action = {}
    # The results of skipped objects follow those of the plan's items.
    for item, result in zip(plan.items, outcome.results[: len(plan.items)], strict=True):
        by_action.setdefault(result["action"], []).append(item.label)
    applied = [
        "%d %s" % (len(by_action[a]), a) for a in ("created", "updated", "unchanged") if by_action.get(a)
    ]
    later = by_action.get("not_attempted") or []
    text = (
        "%d object(s) could not be applied: %s. Applied: %s. Not attempted: %s. Fix the cause and run "
        "again (the apply is idempotent)"
        % (
            len(outcome.failures),
            "; ".join(outcome.failures),
            ", ".join(applied) or "nothing",
            _names(later) if later else "nothing",
        )
    )
    return text + "." if outcome.changed else nothing_changed(text)


def _refused(problem):
    return nothing_changed("Cannot apply the batch: %s" % problem)


def _check_hold_fields(hold_fields):
    for annotation, fields in hold_fields.items():
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            raise OpsError(
                _refused("hold_fields: %s must map to a list of field paths, got %r" % (annotation, fields)),
                changed=False,
            )


def run(request, client, clock=time.monotonic, sleep=time.sleep):
    """Apply ``resources`` and ``secrets`` in one batch (multiagent.ops.k8s_apply)."""
    p = request.params
    _check_hold_fields(p["hold_fields"])
    try:
        manifests = ap.collect(p["resources"], p["secrets"])
    except ap.PlanError as exc:
        raise OpsError(_refused(exc), changed=False) from None
    values = wl.secret_values(obj for obj in manifests if wl.is_secret(obj))
    request.mask(wl.maskable(values))
    applier = Applier(
        client,
        concurrency=p["concurrency"],
        field_manager=p["field_manager"],
        check_mode=request.check_mode,
        diff=request.diff,
        secret_values=values,
        clock=clock,
        sleep=sleep,
    )
    try:
        plan, version_doc = applier.prepare(
            manifests,
            p["namespace"],
            p["min_server_version"],
            refuse_annotations=p["refuse_annotations"],
            hold_fields=p["hold_fields"],
        )
    except ap.PlanError as exc:
        raise OpsError(wl.mask(_refused(exc), values), changed=False) from None
    outcome = applier.apply(plan)
    result = dict(
        changed=outcome.changed,
        results=outcome.results,
        summary=outcome.summary,
        rollouts=[],
        server_version=ap.server_version(version_doc)[0],
    )
    if request.diff:
        result["diff"] = outcome.diffs
    if outcome.failures:
        raise OpsError(failure_text(plan, outcome), **result)
    if not p["wait"] or request.check_mode or not outcome.targets:
        return result
    result["rollouts"] = wait_rollouts(client, outcome.targets, p["wait_timeout"], clock=clock, sleep=sleep)
    late = [r for r in result["rollouts"] if not r["done"]]
    if late:
        raise OpsError(
            "Applied (%s), but %d rollout(s) did not complete: %s"
            % (
                ", ".join("%s %s" % (count, action) for action, count in outcome.summary.items() if count),
                len(late),
                "; ".join(failure_message(r) for r in late),
            ),
            **result,
        )
    return result
