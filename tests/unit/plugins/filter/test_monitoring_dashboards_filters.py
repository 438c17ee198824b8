"""The filters grafana_dashboards and grafana_dashboard_configmaps."""

import inspect
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.multiagent.ops.plugins.filter.monitoring_dashboards import FilterModule

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every string

    def trust_as_template(text):
        return text


F = FilterModule().filters()
FILTER_DIR = Path(__file__).resolve().parents[4] / "plugins" / "filter"
COMPONENTS = [
    {"name": "langgraph-multi-agent", "service": {"name": "langgraph-multi-agent", "port": 8000}},
    {"name": "postgres", "role": "database", "service": {"name": "postgres", "port": 5432}},
]


def test_dashboards_and_their_configmaps():
    boards = F["grafana_dashboards"](COMPONENTS, "langgraph", "langgraph-multi-agent", boards=["business"])
    assert [(b["uid"], b["title"]) for b in boards] == [("langgraph-business", "langgraph / Business")]
    maps = F["grafana_dashboard_configmaps"](
        boards, "monitoring", labels={"release": "kps"}, folder="LangGraph"
    )
    assert [m["metadata"]["name"] for m in maps] == ["langgraph-business-dashboard"]
    assert maps[0]["metadata"]["labels"] == {"release": "kps", "grafana_dashboard": "1"}
    assert json.loads(maps[0]["data"]["langgraph-business.json"])["uid"] == "langgraph-business"


def test_empty_options_from_the_role_mean_the_defaults():
    boards = F["grafana_dashboards"](COMPONENTS, "langgraph", "ns", datasource={}, title="")
    assert boards[0]["title"] == "langgraph / System overview"
    assert "current" not in boards[0]["json"]["templating"]["list"][0]


def test_grafanas_legends_are_never_templated_by_ansible():
    boards = F["grafana_dashboards"](COMPONENTS, "langgraph", "ns", boards=["performance"])
    maps = F["grafana_dashboard_configmaps"](boards, "monitoring")
    # set_fact and then a module argument: the result is templated again
    templar = Templar(loader=DataLoader(), variables={"maps": maps, "again": trust_as_template("{{ maps }}")})
    # "{{pod}}" is Grafana's legend: Ansible must hand it on as text, not look up a variable pod
    text = templar.template(trust_as_template("{{ again }}"))[0]["data"]["langgraph-performance.json"]
    assert "{{pod}}" in text
    assert json.loads(text) == boards[0]["json"]


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: F["grafana_dashboards"](COMPONENTS, "langgraph", "ns", boards=["nope"]),
            "grafana_dashboards: board 'nope'",
        ),
        (
            lambda: F["grafana_dashboards"](COMPONENTS, "", "ns"),
            "grafana_dashboards: the platform needs a name",
        ),
        (
            lambda: F["grafana_dashboard_configmaps"]([], ""),
            "grafana_dashboard_configmaps: the ConfigMaps need a namespace",
        ),
    ],
)
def test_errors_start_with_the_filters_name(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


@pytest.mark.parametrize("name", sorted(F))
def test_each_filter_has_a_sidecar_that_documents_its_options(name):
    docs = yaml.safe_load((FILTER_DIR / ("%s.yml" % name)).read_text())
    assert docs["DOCUMENTATION"]["name"] == name
    params = list(inspect.signature(F[name]).parameters)
    assert sorted(docs["DOCUMENTATION"]["options"]) == sorted(["_input"] + params[1:])
