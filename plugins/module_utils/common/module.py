# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue every module shares: a Request from the module, a runner's result or OpsError
turned into exit_json or fail_json (see result.py)."""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request


def request_of(module):
    """The Request of an AnsibleModule (or kubernetes.core's AnsibleK8SModule, which wraps one)."""
    target = getattr(module, "_module", module)

    def deprecate(text, version):
        target.deprecate(text, version=version, collection_name="multiagent.ops")

    return Request(
        module.params,
        check_mode=module.check_mode,
        diff=module._diff,
        warn=module.warn,
        mask=target.no_log_values.update,
        deprecate=deprecate if hasattr(target, "deprecate") else None,
    )


def finish(module, runner, *args, **kwargs):
    """Run ``runner(request, *args, **kwargs)`` and end the task with its result, or fail
    it with an OpsError's message and result."""
    try:
        result = runner(request_of(module), *args, **kwargs)
    except OpsError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


def keeps_remote_files(module):
    """Whether Ansible was asked to keep the module's remote files (ANSIBLE_KEEP_REMOTE_FILES,
    for debugging): then the module leaves the file it was run from (cancel.forget_wrapper)."""
    return bool(getattr(getattr(module, "_module", module), "_keep_remote_files", False))


def missing_library(library, error, reason=None):
    """fail_json's ``msg`` and ``exception`` for a declared requirement that cannot be imported
    (``error``, its ImportError): Ansible's message for a missing library, which names the host
    and the Python that lack it."""
    import traceback

    from ansible.module_utils.basic import missing_required_lib

    return {
        "msg": missing_required_lib(library, reason=reason),
        "exception": "".join(traceback.format_exception_only(type(error), error)),
    }


def require(module, library, error, reason=None):
    """When ``error`` (the ImportError of a declared requirement) is set: fail with
    :func:`missing_library`'s message."""
    if error is not None:
        module.fail_json(changed=False, **missing_library(library, error, reason))
