import re

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


DATA_TIER = [
    {"name": "api", "image": "api:1"},
    {
        "name": "postgres",
        "role": "database",
        "image": "postgres:15",
        "service": {"name": "postgres", "port": 5432},
    },
    {"name": "redis", "role": "cache", "kind": "external", "service": {"name": "redis", "port": 6379}},
]


def test_data_tier_follows_the_roles_not_the_names():
    tier = F["data_tier"](DATA_TIER, {"name": "postgres", "host": "x"}, {"name": "redis"})
    assert tier["database"] == {
        "name": "postgres",
        "role": "database",
        "kind": "StatefulSet",  # a database without a kind keeps its data in a volume claim
        "workload": "postgres",
        "in_cluster": True,
        "service": "postgres",
        "port": 5432,
    }
    assert tier["cache"]["in_cluster"] is False and tier["cache"]["workload"] is None
    # a connection naming no component is outside the cluster; none at all is None
    assert F["data_tier"]([{"name": "api"}], {"name": "rds"})["database"]["in_cluster"] is False
    assert F["data_tier"]([{"name": "api"}])["database"] is None
    assert F["components_with_role"](DATA_TIER, ["database", "cache"]) == ["postgres", "redis"]
    assert F["components_with_role"](DATA_TIER, "app") == ["api"]


@pytest.mark.parametrize(
    "components, database, cache, message",
    [
        (DATA_TIER, {"name": "api"}, None, "platform_database.name is 'api', a component whose role is app"),
        (
            DATA_TIER,
            {"name": "pg"},
            None,
            "platform_database.name is 'pg', but the component with role database",
        ),
        (
            DATA_TIER,
            None,
            {"name": "postgres"},
            "platform_cache.name is 'postgres', a component whose role is database",
        ),
        (
            DATA_TIER + [{"name": "pg2", "role": "database"}],
            None,
            None,
            "postgres, pg2 all have role database",
        ),
        (
            [{"name": "api", "role": "db"}],
            None,
            None,
            "component 'api': role 'db' is not one of app, database, cache",
        ),
        (DATA_TIER, {"host": "x"}, None, "platform_database has no name"),
    ],
)
def test_data_tier_refuses_a_description_that_disagrees_with_itself(components, database, cache, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        F["data_tier"](components, database, cache)


def test_platform_components_merges_one_hosts_overrides():
    merged = F["platform_components"](COMPONENTS, {"core": {"replicas": 2, "service": {"port": 9090}}})
    assert merged[0]["replicas"] == 2
    assert merged[0]["service"] == {"name": "mplp-core", "port": 9090}
    assert F["platform_components"](COMPONENTS) == COMPONENTS
    with pytest.raises(AnsibleFilterError, match="platform_components: overrides name unknown component 'x'"):
        F["platform_components"](COMPONENTS, {"x": {"replicas": 1}})


def test_scale_targets_read_the_hosts_ranges_through_platform_components():
    from ansible_collections.multiagent.ops.plugins.filter.lifecycle import FilterModule as Lifecycle

    components = [dict(COMPONENTS[0], autoscaling={"min": 3, "max": 20}), {"name": "db", "role": "database"}]
    merged = F["platform_components"](components, {"core": {"autoscaling": {"min": 2, "max": 10}}})
    plan = Lifecycle().filters()["scale_targets"](merged, {"core": 4, "db": 1})
    assert plan["problems"] == []
    assert [(t["component"], t["kind"], t["min"], t["max"]) for t in plan["targets"]] == [
        ("core", "Deployment", 2, 10),
        ("db", "StatefulSet", None, None),  # a database without a kind is a StatefulSet
    ]


def test_platform_security_manifests_keeps_the_security_objects_of_the_render():
    spec = {
        "name": "demo",
        "namespace": "demo",
        "components": [dict(COMPONENTS[0], api_access=[{"resources": ["pods"], "verbs": ["get"]}])],
        "security": {"network_policies": True, "api_server": {"cidrs": ["10.96.0.1/32"]}},
    }
    rendered = F["platform_manifests"](spec)
    subset = F["platform_security_manifests"](spec)
    assert subset == [
        m for m in rendered if m["kind"] in ("ServiceAccount", "Role", "RoleBinding", "NetworkPolicy")
    ]
    assert [m["kind"] for m in F["platform_security_manifests"](spec, with_namespace=True)][:1] == [
        "Namespace"
    ]
    spec["security"]["api_server"] = {"cidrs": []}
    with pytest.raises(
        AnsibleFilterError, match="platform_security_manifests: security.api_server.cidrs is needed"
    ):
        F["platform_security_manifests"](spec)
