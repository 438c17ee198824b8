# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import dashboards


# The dashboards hold Grafana's legends ("{{pod}}"): their strings are marked unsafe so that
# Ansible never reads them as Jinja, wherever the result goes (set_fact, module arguments).
def grafana_dashboards(
    components, platform, namespace, boards=None, datasource=None, prefix=None, extra=None, title=None
):
    components, boards, datasource, extra = (plain(v) for v in (components, boards, datasource, extra))
    try:
        rendered = dashboards.render_dashboards(
            components,
            platform,
            namespace,
            boards=boards,
            datasource=datasource or None,
            prefix=prefix,
            extra=extra,
            title=title or None,
        )
    except dashboards.DashboardError as exc:
        raise AnsibleFilterError("grafana_dashboards: %s" % exc) from exc
    return wrap_var(rendered)


def grafana_dashboard_configmaps(boards, namespace, labels=None, folder="", label=dashboards.SIDECAR_LABEL):
    if not namespace:
        raise AnsibleFilterError("grafana_dashboard_configmaps: the ConfigMaps need a namespace")
    boards, labels = plain(boards), plain(labels)
    return wrap_var(
        dashboards.dashboard_configmaps(boards, namespace, labels=labels, folder=folder, label=label)
    )


class FilterModule:
    def filters(self):
        return {
            "grafana_dashboards": grafana_dashboards,
            "grafana_dashboard_configmaps": grafana_dashboard_configmaps,
        }
