"""plugins/filter/monitoring_routing.py: each filter has its doc sidecar; problems become
AnsibleFilterErrors that name the filter, and never hold a secret."""

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.monitoring_routing import FilterModule

F = FilterModule().filters()
FILTERS = Path(__file__).resolve().parents[4] / "plugins" / "filter"
SECRET = "https://hooks.slack.com/services/T0/B0/never-shown"
ROUTING = {"receivers": [{"name": "pager", "slack": {"channel": "#c", "api_url": SECRET}}]}


@pytest.mark.parametrize("name", sorted(F))
def test_every_filter_has_its_doc_sidecar(name):
    doc = yaml.safe_load((FILTERS / ("%s.yml" % name)).read_text())
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["RETURN"]["_value"]["type"]


def test_a_description_problem_names_the_filter():
    with pytest.raises(AnsibleFilterError, match=r"^service_monitors: component 'core'"):
        F["service_monitors"]([{"name": "core", "service": {"name": "c"}, "metrics": "yes"}], "mplp", "ns")


@pytest.mark.parametrize("name", ["alertmanager_config", "alertmanager_secrets"])
def test_routing_problems_name_the_filter_and_not_the_secret(name):
    routing = dict(ROUTING, routes=[{"severity": "critical", "receiver": "nobody"}])
    with pytest.raises(AnsibleFilterError, match=r"^%s: route #0: receiver 'nobody'" % name) as err:
        F[name](routing, "mplp", "ns", "secret")
    assert SECRET not in str(err.value)


def test_problems_never_raise_and_the_forms_carry_the_secret_only_where_named():
    assert F["alertmanager_problems"]({"receivers": "nope"})
    assert F["alertmanager_problems"](ROUTING) == []
    assert SECRET not in str(F["alertmanager_config"](ROUTING, "mplp", "ns", "s"))
    assert SECRET not in str(F["alertmanager_file"](ROUTING, "/etc/am/secrets"))
    assert F["alertmanager_secret_files"](ROUTING, "/etc/am/secrets")[0]["content"] == SECRET
    assert SECRET in F["alertmanager_secrets"](ROUTING, "s", "ns")[0]["data"].values()
