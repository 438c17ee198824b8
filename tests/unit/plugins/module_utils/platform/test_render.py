"""platform_render: inventory data -> manifests, validated against upstream schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every string it is given

    def trust_as_template(value):
        return value


from ansible_collections.multiagent.ops.plugins.module_utils.platform import render as pr
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec

ROOT = Path(__file__).resolve().parents[5]
K8S_VERSION = "1.33"
# The newest Kubernetes the installed kubernetes-validate has schemas for.
K8S_NEWEST = kubernetes_validate.utils.major_minor(kubernetes_validate.utils.latest_version())
# Test values of the vault variables the inventories template into their Secrets.
VAULT = {
    "vault_mplp_db_password": "test-mplp-db-password",
    "vault_mplp_redis_password": "test-mplp-redis-password",
    "vault_langgraph_db_password": "test/langgraph@db",
    "vault_langgraph_redis_password": "test-langgraph-redis",
}


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def inventory_vars(platform, host=None, vault=None):
    """An inventory's variables as a host sees them: its group_vars (and the host's host_vars)
    templated by Ansible, with test values for the vault variables."""
    base = ROOT / "inventories" / platform
    data = yaml.safe_load((base / "group_vars" / "all" / "platform.yml").read_text())
    if host:
        data.update(yaml.safe_load((base / "host_vars" / ("%s.yml" % host)).read_text()) or {})
    data = _trusted(data)
    templar = Templar(loader=DataLoader(), variables=dict(VAULT if vault is None else vault, **data))
    return templar.template(data)


def inventory_spec(platform, host=None, vault=None):
    """The description the deploy role (roles/deploy/vars/main.yml) builds from an inventory:
    the components through the host's platform_component_overrides, the inventory's ingress,
    configuration, database and cache."""
    data = inventory_vars(platform, host, vault)
    return {
        "name": data["platform_name"],
        "namespace": data["platform_namespace"],
        "version": data["platform_version"],
        "components": platform_spec.merge_overrides(
            data["platform_components"], data.get("platform_component_overrides")
        ),
        "config": data.get("deploy_config") or {"LOG_LEVEL": "info"},
        "database": {k: data["platform_database"][k] for k in ("name", "user", "dbname")},
        "cache": {"name": data["platform_cache"]["name"]},
        "security": data.get("platform_security") or {},
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


def validate(manifests, version=K8S_VERSION):
    errors = []
    for obj in manifests:
        if obj["kind"] == "Route":
            continue  # OpenShift's schema is not among upstream's; checked by test_route_fields
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append("%s/%s: %s" % (obj["kind"], obj["metadata"]["name"], exc.message))
    return errors


@pytest.mark.parametrize("version", sorted({K8S_VERSION, K8S_NEWEST}))
@pytest.mark.parametrize("platform", ["mplp", "langgraph"])
def test_inventories_render_schema_valid_manifests(platform, version):
    manifests = pr.render_platform(inventory_spec(platform))
    assert validate(manifests, version) == []
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


def _container(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def _env(container):
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container.get("env", [])}


def _secret_ref(secret, key):
    return {"secretKeyRef": {"name": secret, "key": key}}


def test_database_role_renders_what_the_postgres_image_needs():
    spec = inventory_spec("mplp")
    manifests = pr.render_platform(spec, only=["postgresql"])
    sts = by_kind(manifests, "StatefulSet")["mplp-postgresql"]
    services = by_kind(manifests, "Service")
    assert sts["spec"]["serviceName"] == "mplp-postgresql-headless"
    assert services["mplp-postgresql-headless"]["spec"]["clusterIP"] == "None"
    assert services["mplp-postgresql"]["spec"]["ports"] == [
        {"name": "postgresql", "port": 5432, "targetPort": "postgresql", "protocol": "TCP"}
    ]
    # the volume claim: size and class from the inventory, mounted where the image keeps data
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "100Gi"
    pod = sts["spec"]["template"]["spec"]
    container = _container(sts)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/var/lib/postgresql/data"] == "data"
    # the official image's user; PGDATA below the mount (a fresh volume has lost+found)
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["fsGroup"] == 999
    env = _env(container)
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    # the password comes from the Secret the inventory names, never as a value; the user and
    # the database name are platform_database's, as plain values (a Secret's values are
    # masked in every output: a user called "mplp" would hide the platform's name everywhere)
    assert env["POSTGRES_PASSWORD"] == _secret_ref("mplp-postgresql-credentials", "POSTGRES_PASSWORD")
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("mplp", "mplp_production")
    # without them in platform_database, they too come from the Secret
    spec["database"] = {"name": "postgresql"}
    env = _env(
        _container(by_kind(pr.render_platform(spec, only=["postgresql"]), "StatefulSet")["mplp-postgresql"])
    )
    for key in ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"):
        assert env[key] == _secret_ref("mplp-postgresql-credentials", key)
    assert "envFrom" not in container  # neither the app's shared config nor the whole Secret
    # PostgreSQL reads its credentials only when it initialises its data: a new password (set
    # by ALTER ROLE, rotate_secret.yml) must not restart it, so its config checksum skips them
    assert sts["metadata"]["annotations"] == {
        "multiagent.ops/config-checksum-skip": "Secret/mplp-postgresql-credentials"
    }
    app = by_kind(pr.render_platform(inventory_spec("mplp"), only=["core"]), "Deployment")["mplp-core"]
    assert "multiagent.ops/config-checksum-skip" not in (app["metadata"].get("annotations") or {})
    # a read-only root with emptyDirs for the socket directory and /tmp
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert {mounts["/tmp"], mounts["/var/run/postgresql"]} <= empty
    # ready and live when pg_isready answers over TCP as the Secret's user and database
    for probe in ("readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[:2] == ["sh", "-c"] and command[2].startswith("pg_isready -h 127.0.0.1 -p 5432")
        assert '-U "${POSTGRES_USER' in command[2] and '-d "${POSTGRES_DB' in command[2]
    assert container["ports"] == [{"name": "postgresql", "containerPort": 5432, "protocol": "TCP"}]
    assert validate(manifests) == []


def test_cache_role_gets_requirepass_from_the_secret_and_probes_without_a_password_argument():
    spec = inventory_spec("mplp")
    manifests = pr.render_platform(spec, only=["redis"])
    sts = by_kind(manifests, "StatefulSet")["mplp-redis-master"]
    container = _container(sts)
    assert container["args"] == ["--dir", "/data", "--requirepass", "$(REDIS_PASSWORD)"]
    env = _env(container)
    assert env["REDIS_PASSWORD"] == _secret_ref("mplp-redis-credentials", "REDIS_PASSWORD")
    assert env["REDISCLI_AUTH"] == _secret_ref("mplp-redis-credentials", "REDIS_PASSWORD")
    # REDIS_PASSWORD is defined before the args that expand it
    assert [v["name"] for v in container["env"]].index("REDIS_PASSWORD") == 0
    command = container["readinessProbe"]["exec"]["command"]
    assert "redis-cli" in command[2] and "ping" in command[2] and " -a" not in command[2]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/data"}
    assert sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 999
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "test-mplp-redis-password" not in json.dumps(manifests)
    assert validate(manifests) == []
    # without the vault variable: no Secret, no password
    spec = inventory_spec("mplp", vault={"vault_mplp_db_password": "x"})
    container = _container(
        by_kind(pr.render_platform(spec, only=["redis"]), "StatefulSet")["mplp-redis-master"]
    )
    assert container["args"] == ["--dir", "/data"]
    assert "env" not in container


def test_a_database_or_cache_without_kind_is_a_statefulset_and_an_app_statefulset_keeps_tcp_probes():
    spec = inventory_spec("langgraph")
    manifests = pr.render_platform(spec)
    assert sorted(by_kind(manifests, "StatefulSet")) == ["postgres", "redis"]
    assert sorted(by_kind(manifests, "Deployment")) == ["langgraph-multi-agent"]
    assert by_kind(manifests, "Service")["postgres-headless"]["spec"]["clusterIP"] == "None"
    app = {"name": "queue", "kind": "StatefulSet", "image": "q:1", "service": {"name": "queue", "port": 5672}}
    spec["components"].append(app)
    sts = by_kind(pr.render_platform(spec, only=["queue"]), "StatefulSet")["queue"]
    container = _container(sts)
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1001
    assert "env" not in container and "args" not in container


def test_langgraph_app_gets_the_runbooks_config_secret_and_resources():
    data = inventory_vars("langgraph")
    manifests = pr.render_platform(inventory_spec("langgraph"))
    app = by_kind(manifests, "Deployment")["langgraph-multi-agent"]
    container = _container(app)
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2000m", "memory": "4Gi"},
    }
    assert container["envFrom"] == [
        {"configMapRef": {"name": "langgraph-config"}},
        {"secretRef": {"name": "langgraph-secrets"}},
    ]
    config = by_kind(manifests, "ConfigMap")["langgraph-config"]["data"]
    assert config["DATABASE_POOL_SIZE"] == "20" and config["MAX_CONCURRENT_WORKFLOWS"] == "50"
    hpa = by_kind(manifests, "HorizontalPodAutoscaler")["langgraph-multi-agent"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 20)
    # the Secrets' values come from the vault variables; none is in a manifest
    secrets = {s["name"]: s["data"] for s in data["deploy_secrets"]}
    assert pr.check_secrets(data["deploy_secrets"]) == []
    assert secrets["langgraph-secrets"] == {
        "DATABASE_URL": "postgresql://langgraph_user:test%2Flanggraph%40db@postgres.langgraph-multi-agent.svc:5432/langgraph_db",
        "REDIS_URL": "redis://:test-langgraph-redis@redis.langgraph-multi-agent.svc:6379/0",
    }
    assert secrets["langgraph-postgres-credentials"]["POSTGRES_PASSWORD"] == "test/langgraph@db"
    assert secrets["langgraph-redis-credentials"] == {"REDIS_PASSWORD": "test-langgraph-redis"}
    assert sorted(pr.referenced_secrets(inventory_spec("langgraph"))) == sorted(secrets)
    text = json.dumps(manifests)
    assert "test-langgraph-redis" not in text and "langgraph@db" not in text
    pg = _container(by_kind(manifests, "StatefulSet")["postgres"])
    assert _env(pg)["POSTGRES_PASSWORD"] == _secret_ref("langgraph-postgres-credentials", "POSTGRES_PASSWORD")
    # without a Redis password: a plain URL, no Redis Secret
    data = inventory_vars("langgraph", vault={"vault_langgraph_db_password": "x"})
    secrets = {s["name"]: s["data"] for s in data["deploy_secrets"]}
    assert secrets["langgraph-secrets"]["REDIS_URL"] == "redis://redis.langgraph-multi-agent.svc:6379/0"
    assert "langgraph-redis-credentials" not in secrets


@pytest.mark.parametrize("platform", ["mplp", "langgraph"])
def test_platform_database_must_name_the_component_with_the_database_role(platform):
    spec = inventory_spec(platform)
    assert pr.check_spec(spec) == []
    app = spec["components"][0]["name"]
    spec["database"] = {"name": app}
    problems = pr.check_spec(spec)
    assert any("platform_database.name is '%s'" % app in p and "role is app" in p for p in problems), problems
    spec["database"] = None
    spec["components"][0]["role"] = "database"
    assert any("all have role database" in p for p in pr.check_spec(spec))
    spec["components"][0]["role"] = "queue"
    assert any("role 'queue' is not one of" in p for p in pr.check_spec(spec))


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
    assert pr.referenced_secrets(spec) == [
        "langgraph-postgres-credentials",
        "langgraph-redis-credentials",
        "langgraph-secrets",
    ]
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
    # the component's own variable wins over the role's; the role's others stay
    assert [v for v in pg["env"] if v["name"] == "PGDATA"] == [{"name": "PGDATA", "value": "/data"}]
    assert "POSTGRES_PASSWORD" in _env(pg)
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


# The guides' per-region sizing of the core module: replicas (deployment guide,
# multi-region-values.yaml), HPA range and resources (scaling guide, multi-region-deployment.yaml).
REGIONS = {
    "us-east-1": (3, 3, 20, "1000m"),
    "eu-west-1": (2, 2, 15, "500m"),
    "ap-southeast-1": (2, 2, 10, "500m"),
}


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_each_mplp_region_renders_its_own_sizing(region):
    replicas, low, high, cpu = REGIONS[region]
    spec = inventory_spec("mplp", host=region)
    core = next(c for c in spec["components"] if c["name"] == "core")
    assert core["replicas"] == replicas
    manifests = pr.render_platform(spec)
    hpa = by_kind(manifests, "HorizontalPodAutoscaler")["mplp-core"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (low, high)
    # the rest of the autoscaler is the group's: the overrides are merged, not replacing
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu", "memory"]
    assert _container(by_kind(manifests, "Deployment")["mplp-core"])["resources"]["requests"]["cpu"] == cpu
    # the other components keep the group's sizing
    plan = by_kind(manifests, "HorizontalPodAutoscaler")["mplp-plan"]["spec"]
    assert (plan["minReplicas"], plan["maxReplicas"]) == (2, 8)
    assert validate(manifests) == []


def test_ha_profile_gives_min_available_and_required_anti_affinity_to_components_of_three_or_more():
    spec = inventory_spec("mplp")
    spec["availability"] = "ha"
    manifests = pr.render_platform(spec)
    budgets = by_kind(manifests, "PodDisruptionBudget")
    deployments = by_kind(manifests, "Deployment")
    # core and role run at least 3 replicas: the guide's HA values
    for name in ("mplp-core", "mplp-role"):
        assert budgets[name]["spec"]["minAvailable"] == 2
        affinity = deployments[name]["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        assert list(affinity) == ["requiredDuringSchedulingIgnoredDuringExecution"]
    # two replicas: minAvailable 2 would block every drain; the standard budget stays
    assert budgets["mplp-plan"]["spec"] == {
        "selector": deployments["mplp-plan"]["spec"]["selector"],
        "maxUnavailable": 1,
    }
    affinity = deployments["mplp-plan"]["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert list(affinity) == ["preferredDuringSchedulingIgnoredDuringExecution"]
    assert validate(manifests) == []
    # a region where core runs 2: the standard budget there
    spec = inventory_spec("mplp", host="eu-west-1")
    spec["availability"] = "ha"
    budgets = by_kind(pr.render_platform(spec), "PodDisruptionBudget")
    assert budgets["mplp-core"]["spec"]["maxUnavailable"] == 1
    # the standard default
    budgets = by_kind(pr.render_platform(inventory_spec("mplp")), "PodDisruptionBudget")
    assert budgets["mplp-core"]["spec"]["maxUnavailable"] == 1


def test_a_min_available_not_below_the_replicas_is_refused_naming_the_component():
    spec = inventory_spec("mplp")
    spec["overrides"] = {"plan": {"pdb": {"min_available": 2}}}
    problems = pr.check_spec(spec)
    assert any(
        p.startswith("component 'plan': its PodDisruptionBudget's minAvailable 2 is not below its 2 replica")
        for p in problems
    ), problems
    with pytest.raises(pr.RenderError, match="plan"):
        pr.render_platform(spec)
    spec["overrides"] = {}
    spec["defaults"] = {"pdb": {"min_available": 3}}
    problems = pr.check_spec(spec)
    assert any("component 'core'" in p and "minAvailable 3" in p for p in problems)
    spec["defaults"] = {}
    spec["availability"] = "always"
    assert "availability 'always' is not one of standard, ha" in pr.check_spec(spec)
