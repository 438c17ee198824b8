# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.module_utils.common.plain import plain_arguments
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import alertmanager, scrape


def _filter(name, function, errors):
    """``function`` as the filter ``name``: a problem with the description becomes an
    AnsibleFilterError that starts with the filter's name (the messages never hold a secret).
    The input is made plain first (common/plain.py)."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        args, kwargs = plain_arguments(args, kwargs)
        try:
            return function(*args, **kwargs)
        except errors as exc:
            raise AnsibleFilterError("%s: %s" % (name, exc)) from exc

    return run


ROUTING = (alertmanager.RoutingError,)
FILTERS = {
    "service_monitors": _filter("service_monitors", scrape.service_monitors, (scrape.ScrapeError,)),
    "alertmanager_config": _filter("alertmanager_config", alertmanager.alertmanager_config, ROUTING),
    "alertmanager_secrets": _filter("alertmanager_secrets", alertmanager.alertmanager_secrets, ROUTING),
    "alertmanager_file": _filter("alertmanager_file", alertmanager.alertmanager_file, ROUTING),
    "alertmanager_secret_files": _filter("alertmanager_secret_files", alertmanager.secret_files, ROUTING),
    # every problem as data: it never raises
    "alertmanager_problems": alertmanager.problems,
}


class FilterModule:
    def filters(self):
        return dict(FILTERS)
