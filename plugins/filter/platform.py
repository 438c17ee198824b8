# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import recovery
from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as platform_render
from ansible_collections.multiagent.ops.plugins.module_utils.platform import selection
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec


def health_components(components):
    try:
        return platform_spec.health_components(components)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("health_components: %s" % exc)


def health_endpoints(components, base_url=None, via="url", extra_paths=None):
    try:
        return platform_spec.health_endpoints(components, base_url, via, extra_paths)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("health_endpoints: %s" % exc)


def workload_refs(components, exclude=None):
    try:
        return platform_spec.workload_refs(components, exclude)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("workload_refs: %s" % exc)


def data_tier(components, database=None, cache=None):
    try:
        return platform_spec.data_tier(components, database, cache)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("data_tier: %s" % exc)


def components_with_role(components, roles):
    try:
        return platform_spec.names_with_role(components, roles)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("components_with_role: %s" % exc)


def platform_components(components, overrides=None):
    try:
        return platform_spec.merge_overrides(components, overrides)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("platform_components: %s" % exc)


def select_components(components, names=None, kinds=None, one_kind=False):
    try:
        return selection.select_components(
            components, names, tuple(kinds) if kinds else (selection.DEFAULT_KIND,), one_kind
        )
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("select_components: %s" % exc)


def maintenance_targets(components, keep=None):
    try:
        return selection.maintenance_targets(components, keep)
    except platform_spec.SpecError as exc:
        raise AnsibleFilterError("maintenance_targets: %s" % exc)


def platform_manifests(spec, only=None):
    try:
        return platform_render.render_platform(spec, only)
    except platform_render.RenderError as exc:
        raise AnsibleFilterError("platform_manifests: %s" % exc)


def platform_problems(spec, only=None, secrets=None):
    return platform_render.check_spec(spec, only, secrets)


def recovery_plan(report, components, only=None, data_tier=None):
    try:
        return recovery.recovery_plan(report, components, only, data_tier)
    except recovery.PlanError as exc:
        raise AnsibleFilterError("recovery_plan: %s" % exc)


class FilterModule:
    def filters(self):
        return {
            "health_components": health_components,
            "data_tier": data_tier,
            "components_with_role": components_with_role,
            "health_endpoints": health_endpoints,
            "maintenance_targets": maintenance_targets,
            "platform_components": platform_components,
            "platform_manifests": platform_manifests,
            "platform_problems": platform_problems,
            "recovery_plan": recovery_plan,
            "select_components": select_components,
            "workload_refs": workload_refs,
        }
