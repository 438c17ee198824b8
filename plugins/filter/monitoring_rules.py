# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import functools

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain_arguments
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import rules


def _filter(name, function):
    """``function`` as the filter ``name``: a RulesError becomes an AnsibleFilterError that
    starts with the filter's name. The result is marked unsafe: its annotations are Prometheus
    templates (``{{ $value }}``), which Jinja must never evaluate. The input is made plain first
    (common/plain.py)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        args, kwargs = plain_arguments(args, kwargs)
        try:
            return wrap_var(function(*args, **kwargs))
        except rules.RulesError as exc:
            raise AnsibleFilterError("%s: %s" % (name, exc)) from exc

    return run


def _alert_rules(
    components,
    platform,
    namespace,
    database=None,
    cache=None,
    overrides=None,
    runbook_base_url="",
    backup_cronjob=None,
    jobs=None,
    labels=None,
):
    ctx = rules.platform_context(platform, namespace, components, database, cache, backup_cronjob, jobs)
    return rules.rule_groups(ctx, overrides, runbook_base_url or "", labels)


FILTERS = {
    "alert_rules": _filter("alert_rules", _alert_rules),
    "prometheus_rule": _filter("prometheus_rule", rules.prometheus_rule),
}


class FilterModule:
    def filters(self):
        return dict(FILTERS)
