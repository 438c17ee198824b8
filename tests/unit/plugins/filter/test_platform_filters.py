import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter.platform import FilterModule

F = FilterModule().filters()
COMPONENTS = [
    {
        "name": "core",
        "workload": "mplp-core",
        "image": "mplp/core:1",
        "replicas": 3,
        "service": {"name": "mplp-core", "port": 8080},
        "health_paths": ["/api/v1/core/health"],
    },
    {"name": "postgresql", "kind": "StatefulSet"},
]


def test_health_components_projects_and_defaults():
    assert F["health_components"](COMPONENTS) == [
        {"name": "core", "kind": "Deployment", "workload": "mplp-core"},
        {"name": "postgresql", "kind": "StatefulSet", "workload": "postgresql"},
    ]


def test_workload_refs_leave_out_the_excluded_components():
    assert F["workload_refs"](COMPONENTS) == [
        {"kind": "Deployment", "name": "mplp-core"},
        {"kind": "StatefulSet", "name": "postgresql"},
    ]
    assert F["workload_refs"](COMPONENTS, exclude=["postgresql"]) == [
        {"kind": "Deployment", "name": "mplp-core"}
    ]
    with pytest.raises(AnsibleFilterError, match="workload_refs: component 'x'"):
        F["workload_refs"]([{"name": "x", "kind": "Job"}])


def test_health_endpoints_via_url_and_service():
    eps = F["health_endpoints"](COMPONENTS, base_url="http://gw:80/", extra_paths=["/health", "ready"])
    assert eps == [
        {"name": "core /api/v1/core/health", "component": "core", "url": "http://gw:80/api/v1/core/health"},
        {"name": "/health", "url": "http://gw:80/health"},
        {"name": "/ready", "url": "http://gw:80/ready"},
    ]
    eps = F["health_endpoints"](COMPONENTS, via="service")
    assert eps == [
        {
            "name": "core /api/v1/core/health",
            "component": "core",
            "service": "mplp-core",
            "path": "/api/v1/core/health",
            "port": "8080",
        }
    ]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: F["health_components"]([{"kind": "Deployment"}]), "component #0 has no name"),
        (lambda: F["health_components"]([{"name": "x", "kind": "Job"}]), "component 'x': kind 'Job'"),
        (lambda: F["health_endpoints"](COMPONENTS), "component 'core': health paths need a base_url"),
        (
            lambda: F["health_endpoints"]([{"name": "a", "health_paths": ["/h"]}], via="service"),
            "component 'a': probing through the service proxy needs service.name",
        ),
        (lambda: F["health_endpoints"](COMPONENTS, via="carrier-pigeon"), "via must be 'url' or 'service'"),
    ],
)
def test_errors_name_the_component(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_select_components_chooses_and_explains():
    chosen = F["select_components"](COMPONENTS, names=["core"])
    assert chosen["workloads"] == ["mplp-core"] and chosen["problems"] == []
    assert F["select_components"](COMPONENTS)["names"] == ["core"]  # every Deployment
    refused = F["select_components"](COMPONENTS, names=["postgresql"])
    assert refused["problems"] == ["not Deployments: postgresql (StatefulSet)"]
    allowed = F["select_components"](COMPONENTS, names=["postgresql"], kinds=["StatefulSet"], one_kind=True)
    assert allowed["kind"] == "StatefulSet" and allowed["problems"] == []
    with pytest.raises(AnsibleFilterError, match="select_components: component 'x': kind 'Job'"):
        F["select_components"]([{"name": "x", "kind": "Job"}])


def test_maintenance_targets_keep_the_database():
    targets = F["maintenance_targets"](COMPONENTS, keep=["postgresql"])
    assert targets == {
        "workloads": [{"kind": "Deployment", "name": "mplp-core"}],
        "services": ["mplp-core"],
        "kept": ["postgresql"],
        "problems": [],
    }
    with pytest.raises(AnsibleFilterError, match="maintenance_targets: platform component #0 has no name"):
        F["maintenance_targets"]([{}])
