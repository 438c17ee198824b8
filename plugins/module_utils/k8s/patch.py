# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one patch loop: send planned patches in order, and on a failure say what was done.

Runbook steps that change several objects (quiesce, scale, re-point Services, restart)
plan every patch first, from objects read before anything changes, then send them here.
The first failure stops the loop; its error names the change that failed, the cause, and
the changes already made, so the operator knows the state the cluster was left in.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, status_message


class Change:
    """One patch: ``path`` (from resources.py), ``body``, ``action`` (what a failure says:
    ``scale Deployment web in ns to 3 replicas``), ``done`` (what the list of changes made
    says once it succeeded; the action by default). ``idempotent``: sending it twice is the
    same as once (it sets fields to fixed values), so the client may retry it. ``result``:
    the runner's per-object result this change belongs to (see :func:`patch_all`)."""

    __slots__ = ("path", "body", "action", "done", "content_type", "idempotent", "result")

    def __init__(
        self, path, body, action, done=None, content_type=resources.MERGE, idempotent=True, result=None
    ):
        self.path = path
        self.body = body
        self.action = action
        self.done = done or action
        self.content_type = content_type
        self.idempotent = idempotent
        self.result = result


class PatchError(Exception):
    """A change that failed; ``done`` lists the changes made before it and ``answers`` the
    server's answers to them, ``status`` is the HTTP status (None when no answer came: then
    whether the change was made is unknown)."""

    def __init__(self, message, done, answers, status=None):
        super().__init__(message)
        self.done = done
        self.answers = answers
        self.status = status


def already_done(done):
    return ", ".join(done) or "nothing"


def patch_each(client, changes):
    """Send ``changes`` in order; returns their decoded answers. Raises PatchError at the
    first failure: ``Failed to <action>: <cause>; already done: <changes made>``."""
    answers, done = [], []
    for change in changes:
        try:
            status, answer = client.send(
                "PATCH",
                change.path,
                change.body,
                change.action,
                content_type=change.content_type,
                idempotent=change.idempotent,
            )
        except ApiError as exc:
            raise PatchError(
                "Failed to %s: %s (no answer: whether this change was made is unknown); already done: %s"
                % (change.action, exc, already_done(done)),
                done,
                answers,
            ) from None
        if not 200 <= status < 300:
            raise PatchError(
                "Failed to %s: HTTP %d %s; already done: %s"
                % (change.action, status, status_message(answer) or "", already_done(done)),
                done,
                answers,
                status,
            )
        answers.append(answer)
        done.append(change.done)
    return answers


def patch_all(client, changes, output):
    """:func:`patch_each` for a runner: on a failure, each change's ``result`` says
    ``changed`` only when one of its changes was made, ``output["changed"]`` whether any
    was, and OpsError carries the message and ``output``."""
    try:
        return patch_each(client, changes)
    except PatchError as exc:
        made = changes[: len(exc.done)]
        for change in changes:
            if change.result is not None:
                change.result["changed"] = any(c.result is change.result for c in made)
        output["changed"] = bool(exc.done)
        raise OpsError(str(exc), **output) from None
