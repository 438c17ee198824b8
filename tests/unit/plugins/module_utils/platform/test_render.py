"""platform_render: inventory data -> manifests, validated against upstream schemas."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as pr

ROOT = Path(__file__).resolve().parents[5]
K8S_VERSION = "1.33"


def inventory_spec(platform):
    data = yaml.safe_load(
        (ROOT / "inventories" / platform / "group_vars" / "all" / "platform.yml").read_text()
    )
    return {
        "name": data["platform_name"],
        "namespace": data["platform_namespace"],
        "version": data["platform_version"],
        "components": data["platform_components"],
        "config": {"LOG_LEVEL": "info"},
        "ingress": {
            "enabled": True,
            "host": "api.example.com",
            "class_name": "nginx",
            "tls_secret": "platform-tls",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt-prod"},
        },
    }


def by_kind(manifests, kind):
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def validate(manifests):
    errors = []
    for obj in manifests:
        if obj["kind"] == "Route":
            continue  # OpenShift's schema is not among upstream's; checked by test_route_fields
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append("%s/%s: %s" % (obj["kind"], obj["metadata"]["name"], exc.message))
    return errors


@pytest.mark.parametrize("platform", ["mplp", "langgraph"])
def test_inventories_render_schema_valid_manifests(platform):
    manifests = pr.render_platform(inventory_spec(platform))
    assert validate(manifests) == []
    names = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(names) == len(set(names)), "duplicate objects"
    assert manifests[0]["kind"] == "Namespace"


def test_mplp_renders_every_component_with_its_hpa_and_budget():
    spec = inventory_spec("mplp")
    manifests = pr.render_platform(spec)
    deployments = by_kind(manifests, "Deployment")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert sorted(deployments) == sorted(
        "mplp-%s" % m
        for m in ("context plan role confirm trace extension dialog collab core network".split())
    )
    assert sorted(by_kind(manifests, "StatefulSet")) == ["mplp-postgresql", "mplp-redis-master"]
    core = hpas["mplp-core"]["spec"]
    assert (core["minReplicas"], core["maxReplicas"]) == (3, 20)
    assert [m["resource"]["name"] for m in core["metrics"]] == ["cpu", "memory"]
    assert core["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert core["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mplp-core"}
    # the HPA owns the replicas: a re-deploy must not reset them
    assert all("replicas" not in d["spec"] for d in deployments.values())
    assert by_kind(manifests, "StatefulSet")["mplp-postgresql"]["spec"]["replicas"] == 1
    budgets = by_kind(manifests, "PodDisruptionBudget")
    assert "mplp-extension" not in budgets  # one replica minimum: a budget would block drains
    assert budgets["mplp-core"]["spec"] == {
        "selector": {"matchLabels": deployments["mplp-core"]["spec"]["selector"]["matchLabels"]},
        "maxUnavailable": 1,
    }


def test_workload_pod_template_is_restricted_and_probed():
    manifests = pr.render_platform(inventory_spec("mplp"))
    core = by_kind(manifests, "Deployment")["mplp-core"]
    pod = core["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "mplp/core:1.0.0-alpha"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/v1/core/health", "port": "http"}
    assert container["livenessProbe"]["initialDelaySeconds"] == 15
    assert container["envFrom"] == [{"configMapRef": {"name": "mplp-config"}}]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert pod["serviceAccountName"] == "mplp" and pod["automountServiceAccountToken"] is False
    # selector labels never carry the version: they are immutable
    assert "app.kubernetes.io/version" not in core["spec"]["selector"]["matchLabels"]
    assert core["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.0.0-alpha"
    assert core["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}


def test_namespace_carries_pod_security_labels():
    spec = inventory_spec("langgraph")
    spec["pod_security"] = "baseline"
    ns = pr.render_platform(spec)[0]
    assert ns["metadata"]["name"] == "langgraph-multi-agent"
    assert {k: v for k, v in ns["metadata"]["labels"].items() if k.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/audit": "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
    }


def test_statefulset_gets_headless_service_storage_and_tcp_probe():
    spec = inventory_spec("mplp")
    pg = next(c for c in spec["components"] if c["name"] == "postgresql")
    pg["storage"] = {"size": "100Gi", "storage_class": "fast-ssd", "mount_path": "/var/lib/postgresql/data"}
    manifests = pr.render_platform(spec, only=["postgresql"])
    sts = by_kind(manifests, "StatefulSet")["mplp-postgresql"]
    services = by_kind(manifests, "Service")
    assert sts["spec"]["serviceName"] == "mplp-postgresql-headless"
    assert services["mplp-postgresql-headless"]["spec"]["clusterIP"] == "None"
    assert services["mplp-postgresql"]["spec"]["ports"][0]["port"] == 5432
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert container["image"] == "postgres:15"
    # the app's shared config is not the database's; its own Secret is
    assert container["envFrom"] == [{"secretRef": {"name": "mplp-postgresql-credentials"}}]
    assert sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 999
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    assert validate(manifests) == []


def test_only_limits_component_objects_but_keeps_shared_ones():
    spec = inventory_spec("mplp")
    for comp in spec["components"][2:]:
        comp.pop("ingress_paths", None)
    manifests = pr.render_platform(spec, only=["plan"])
    assert sorted(by_kind(manifests, "Deployment")) == ["mplp-plan"]
    assert {"Namespace", "ServiceAccount", "ConfigMap", "Ingress"} <= {m["kind"] for m in manifests}
    # the Ingress keeps every component's paths (its rule list is replaced whole on apply)
    paths = by_kind(manifests, "Ingress")["mplp"]["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/api/v1/context", "/api/v1/plan"]


def test_ingress_tls_and_class():
    spec = inventory_spec("langgraph")
    spec["components"][0]["ingress_paths"] = ["/"]
    ingress = by_kind(pr.render_platform(spec), "Ingress")["langgraph"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["api.example.com"], "secretName": "platform-tls"}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "langgraph-multi-agent", "port": {"number": 8000}}}
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}


def test_route_fields():
    spec = inventory_spec("mplp")
    spec["ingress"]["kind"] = "route"
    spec["ingress"]["paths"] = [{"path": "/health", "component": "core"}]
    for comp in spec["components"][1:]:
        comp.pop("ingress_paths", None)
    manifests = pr.render_platform(spec)
    assert "Ingress" not in {m["kind"] for m in manifests}
    routes = by_kind(manifests, "Route")
    assert sorted(routes) == ["mplp-0", "mplp-1"]
    route = routes["mplp-1"]
    assert route["apiVersion"] == "route.openshift.io/v1"
    assert route["spec"]["path"] == "/health"
    assert route["spec"]["to"] == {"kind": "Service", "name": "mplp-core", "weight": 100}
    assert route["spec"]["tls"]["termination"] == "edge"


def test_external_database_by_name_and_by_ip():
    spec = inventory_spec("mplp")
    for comp in spec["components"]:
        if comp["name"] == "postgresql":
            comp.update(kind="external", external={"host": "mplp.abc.rds.amazonaws.com"})
        if comp["name"] == "redis":
            comp.update(kind="external", external={"host": "10.0.3.7", "port": 6380})
    manifests = pr.render_platform(spec)
    assert "mplp-postgresql" not in by_kind(manifests, "StatefulSet")
    services = by_kind(manifests, "Service")
    assert services["mplp-postgresql"]["spec"] == {
        "type": "ExternalName",
        "externalName": "mplp.abc.rds.amazonaws.com",
    }
    assert "selector" not in services["mplp-redis-master"]["spec"]
    endpoints = by_kind(manifests, "Endpoints")["mplp-redis-master"]
    assert endpoints["subsets"] == [
        {"addresses": [{"ip": "10.0.3.7"}], "ports": [{"name": "tcp", "port": 6380}]}
    ]
    assert services["mplp-redis-master"]["spec"]["ports"][0]["targetPort"] == 6380
    assert validate(manifests) == []


def test_component_overrides():
    spec = inventory_spec("langgraph")
    comp = spec["components"][0]
    comp.update(
        tag="2.4.1",
        env={"WORKERS": 4, "MODE": "prod"},
        config={"CACHE_TTL": 3600},
        secrets=["langgraph-secrets"],
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        anti_affinity="required",
        probes={"liveness": {"path": "/health"}, "readiness": False},
        pdb={"min_available": 2},
    )
    spec["image_registry"] = "registry.example.com"
    manifests = pr.render_platform(spec, only=["langgraph-multi-agent"])
    dep = by_kind(manifests, "Deployment")["langgraph-multi-agent"]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/langgraph-multi-agent:2.4.1"
    assert container["env"] == [{"name": "MODE", "value": "prod"}, {"name": "WORKERS", "value": "4"}]
    assert container["envFrom"] == [
        {"configMapRef": {"name": "langgraph-config"}},
        {"configMapRef": {"name": "langgraph-multi-agent-config"}},
        {"secretRef": {"name": "langgraph-secrets"}},
    ]
    assert by_kind(manifests, "ConfigMap")["langgraph-multi-agent-config"]["data"] == {"CACHE_TTL": "3600"}
    assert "readinessProbe" not in container
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    affinity = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in affinity
    assert by_kind(manifests, "PodDisruptionBudget")["langgraph-multi-agent"]["spec"]["minAvailable"] == 2
    assert pr.referenced_secrets(spec) == ["langgraph-secrets"]
    assert validate(manifests) == []


@pytest.mark.parametrize(
    "image,tag,expected",
    [
        ("mplp/core", None, "mplp/core:1.0"),
        ("mplp/core:2.0", None, "mplp/core:2.0"),
        ("mplp/core:2.0", "3.0", "mplp/core:3.0"),
        ("registry:5000/mplp/core", None, "registry:5000/mplp/core:1.0"),
        ("mplp/core@sha256:abc", None, "mplp/core@sha256:abc"),
    ],
)
def test_image_references(image, tag, expected):
    comp = {"name": "core", "image": image}
    if tag:
        comp["tag"] = tag
    assert pr.image_ref({"version": "1.0"}, comp) == expected


def test_registry_prefix_is_not_added_twice():
    spec = {"version": "1", "image_registry": "registry.example.com/"}
    assert pr.image_ref(spec, {"image": "ghcr.io/org/app"}) == "ghcr.io/org/app:1"
    assert pr.image_ref(spec, {"image": "app"}) == "registry.example.com/app:1"


def test_rendering_is_deterministic():
    spec = inventory_spec("mplp")
    assert pr.render_platform(copy.deepcopy(spec)) == pr.render_platform(copy.deepcopy(spec))


@pytest.mark.parametrize(
    "change,only,message",
    [
        ({"replicas": 25}, None, "component 'core': replicas 25 is outside its autoscaling range 3-20"),
        ({"autoscaling": {"min": 5, "max": 2}}, None, "autoscaling.min 5 is above autoscaling.max 2"),
        ({"image": ""}, None, "component 'core': image is required"),
        ({"replicas": "three"}, None, "component 'core': replicas must be an integer"),
        ({"kind": "Job"}, None, "kind 'Job' is not one of"),
        ({"workload": "Core_1"}, None, "workload name 'Core_1' is not a valid DNS label"),
        ({"service": {"name": "mplp-core", "port": 70000}}, None, "service.port must be a port number"),
        (
            {"pdb": {"min_available": 1, "max_unavailable": 1}},
            None,
            "pdb must be false or a dict with one of",
        ),
        ({}, ["core", "billing"], "unknown component 'billing'; the platform has: context, plan"),
    ],
)
def test_bad_descriptions_name_component_and_field(change, only, message):
    spec = inventory_spec("mplp")
    core = next(c for c in spec["components"] if c["name"] == "core")
    core.update(change)
    problems = pr.check_spec(spec, only)
    assert any(message in p for p in problems), problems
    with pytest.raises(pr.RenderError, match="core|billing"):
        pr.render_platform(spec, only)


def test_every_problem_is_reported_at_once():
    spec = inventory_spec("mplp")
    spec["components"][0]["replicas"] = 50
    spec["components"][1]["image"] = None
    spec["components"].append(dict(spec["components"][2]))
    problems = pr.check_spec(spec)
    assert len(problems) == 4, problems  # range, image, duplicate name, duplicate workload
    assert any("described twice" in p for p in problems)


def test_external_component_needs_host_and_service():
    spec = inventory_spec("mplp")
    spec["components"][-1] = {"name": "redis", "kind": "external"}
    problems = pr.check_spec(spec)
    assert any("external.host" in p for p in problems)
    assert any("needs service.name" in p for p in problems)


def test_ingress_needs_host_and_known_components():
    spec = inventory_spec("mplp")
    spec["ingress"] = {"enabled": True, "paths": [{"path": "/x", "component": "nope"}]}
    problems = pr.check_spec(spec)
    assert "ingress.host is required when the ingress is enabled" in problems
    assert any("needs a path and a known component" in p for p in problems)


def test_overrides_change_one_component_without_repeating_the_list():
    spec = inventory_spec("mplp")
    spec["overrides"] = {"core": {"replicas": 5, "tag": "1.0.1"}, "postgresql": {"env": {"PGDATA": "/data"}}}
    manifests = pr.render_platform(spec)
    core = by_kind(manifests, "Deployment")["mplp-core"]
    assert core["spec"]["template"]["spec"]["containers"][0]["image"] == "mplp/core:1.0.1"
    assert (
        by_kind(manifests, "Deployment")["mplp-plan"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "mplp/plan:1.0.0-alpha"
    )
    pg = by_kind(manifests, "StatefulSet")["mplp-postgresql"]["spec"]["template"]["spec"]["containers"][0]
    assert pg["env"] == [{"name": "PGDATA", "value": "/data"}]
    spec["overrides"] = {"core": {"replicas": 50}, "billing": {"replicas": 1}}
    problems = pr.check_spec(spec)
    assert "component 'core': replicas 50 is outside its autoscaling range 3-20" in problems
    assert any("overrides name unknown component 'billing'" in p for p in problems)


def test_secrets_problems_name_secret_and_key_never_the_value():
    secrets = [
        {"name": "db", "data": {"POSTGRES_PASSWORD": "", "POSTGRES_USER": "s3cr3t-user"}},
        {"name": "db", "data": {"x": "y"}},
        {"data": {"a": "b"}},
        {"name": "empty", "data": {}},
    ]
    problems = pr.check_spec(inventory_spec("mplp"), secrets=secrets)
    assert "secret 'db': key 'POSTGRES_PASSWORD' is empty (an unset vault variable?)" in problems
    assert "secret 'db' is given twice" in problems
    assert "secret #2 has no valid name" in problems
    assert "secret 'empty' needs data, a dict of keys and values" in problems
    assert not any("s3cr3t" in p for p in problems)
    assert pr.check_secrets([{"name": "ok", "data": {"k": "v"}}]) == []


def test_tags_win_over_overrides_and_are_checked():
    spec = inventory_spec("mplp")
    spec["overrides"] = {"core": {"tag": "1.0.1"}}
    spec["tags"] = {"core": "1.1.0", "plan": "1.1.0"}
    images = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in by_kind(pr.render_platform(spec), "Deployment").values()
    }
    assert images["mplp-core"] == "mplp/core:1.1.0"
    assert images["mplp-plan"] == "mplp/plan:1.1.0"
    assert images["mplp-role"] == "mplp/role:1.0.0-alpha"
    spec["tags"] = {"core": "1.1.0; rm -rf /"}
    assert pr.check_spec(spec)[0].startswith("tags must map component names to image tags")
    spec["tags"] = {"billing": "2"}
    assert any("tags name unknown component 'billing'" in p for p in pr.check_spec(spec))


def test_auto_renders_both_with_serving_conditions():
    spec = inventory_spec("mplp")
    spec["ingress"]["kind"] = "auto"
    manifests = pr.render_platform(spec)
    ingress = by_kind(manifests, "Ingress")["mplp"]
    routes = by_kind(manifests, "Route")
    assert ingress["metadata"]["annotations"]["multiagent.ops/apply-unless-served"] == "route.openshift.io/v1"
    assert len(routes) == 10 and all(
        r["metadata"]["annotations"]["multiagent.ops/apply-if-served"] == "route.openshift.io/v1"
        for r in routes.values()
    )
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    spec["ingress"]["kind"] = "ingress"
    plain = by_kind(pr.render_platform(spec), "Ingress")["mplp"]
    assert "multiagent.ops/apply-unless-served" not in plain["metadata"]["annotations"]
