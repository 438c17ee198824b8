# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import recovery
from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as platform_render
from ansible_collections.multiagent.ops.plugins.module_utils.platform import selection
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec


def _filter(name, function, errors=(platform_spec.SpecError,)):
    """``function`` as the filter ``name``: a problem with the description it reports
    (``errors``) becomes an AnsibleFilterError that starts with the filter's name. The
    input is made plain first (common/plain.py)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        if args:
            args = (plain(args[0]),) + args[1:]
        try:
            return function(*args, **kwargs)
        except errors as exc:
            raise AnsibleFilterError("%s: %s" % (name, exc)) from exc

    return run


def _select_components(components, names=None, kinds=None, one_kind=False):
    return selection.select_components(
        components, names, tuple(kinds) if kinds else (selection.DEFAULT_KIND,), one_kind
    )


def _recovery_plan(report, components, only=None, data_tier=None):
    return recovery.recovery_plan(report, components, only, data_tier)


FILTERS = {
    "health_components": _filter("health_components", platform_spec.health_components),
    "health_endpoints": _filter("health_endpoints", platform_spec.health_endpoints),
    "workload_refs": _filter("workload_refs", platform_spec.workload_refs),
    "data_tier": _filter("data_tier", platform_spec.data_tier),
    "components_with_role": _filter("components_with_role", platform_spec.names_with_role),
    "platform_components": _filter("platform_components", platform_spec.merge_overrides),
    "select_components": _filter("select_components", _select_components),
    "maintenance_targets": _filter("maintenance_targets", selection.maintenance_targets),
    "platform_manifests": _filter(
        "platform_manifests", platform_render.render_platform, (platform_render.RenderError,)
    ),
    # the subset the security role applies: the same objects as deploy's
    "platform_security_manifests": _filter(
        "platform_security_manifests", platform_render.security_manifests, (platform_render.RenderError,)
    ),
    # every problem at once, as data: it never raises
    "platform_problems": platform_render.check_spec,
    "recovery_plan": _filter("recovery_plan", _recovery_plan, (recovery.PlanError,)),
}


class FilterModule:
    def filters(self):
        return dict(FILTERS)
