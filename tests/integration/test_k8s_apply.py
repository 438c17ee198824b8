"""multiagent.ops.k8s_apply through ansible-playbook: a platform of twenty objects in one
task, idempotence, check mode, configuration rollouts, HPA-owned replicas, Secret values
kept out of the output, and failures that leave the cluster as it was or say what was done.

Each test works in a namespace of its own that the module creates; it is deleted afterwards.
"""

from __future__ import annotations

import base64
import copy
import os
import uuid

import pytest
import yaml
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
APPLY = "tests/integration/playbooks/k8s_apply.yml"
CLUSTER = "us-east-1"
IMAGE = os.environ.get("MAOPS_TEST_IMAGE", "mplp/app:1.0.0")
COMPONENTS = ("alpha", "beta", "gamma")
CHECKSUM = "multiagent.ops/config-checksum"


@pytest.fixture
def namespace(kube):
    name = "ka-%s" % uuid.uuid4().hex[:8]
    yield name
    try:
        client.CoreV1Api(kube[CLUSTER]).delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def call(ansible, resources, secrets=None, args=(), json_output=True, **options):
    extra = {"apply_resources": resources}
    if secrets is not None:
        extra["apply_secrets"] = secrets
    extra.update({"apply_%s" % key: value for key, value in options.items()})
    run = ansible(APPLY, limit=CLUSTER, extra_vars=extra, args=args, json_output=json_output)
    return run, (run.results("Apply call", CLUSTER) if json_output else None)


def component(ns, name, config, uses_secret=False, replicas=None, min_replicas=2):
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "ka-test"}
    container = {
        "name": name,
        "image": IMAGE,
        "ports": [{"containerPort": 8080, "name": "http"}],
        "envFrom": [{"configMapRef": {"name": config}}],
    }
    if uses_secret:
        container["env"] = [
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "app-credentials", "key": "password"}},
            }
        ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"serviceAccountName": "app", "containers": [container]},
            },
        },
    }
    if replicas is not None:
        deployment["spec"]["replicas"] = replicas
    return [
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": min_replicas,
                "maxReplicas": 6,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
    ]


def platform(ns, log_level="info", gamma_mode="fast", password=None):
    """Twenty objects: the namespace, its configuration, three components (Deployment,
    Service, HPA, PDB each), an Ingress; the credentials come through the secrets option."""
    resources = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": "ops"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": ns}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": ns},
            "data": {"LOG_LEVEL": log_level, "REGION": "us-east-1"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "gamma-config", "namespace": ns},
            "data": {"MODE": gamma_mode},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "app", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "app", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {
                "rules": [
                    {
                        "host": "%s.example.test" % ns,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "alpha", "port": {"number": 8080}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]
    resources += component(ns, "alpha", "app-config", uses_secret=True)  # replicas from its HPA
    resources += component(ns, "beta", "app-config", replicas=2)
    resources += component(ns, "gamma", "gamma-config", replicas=1, min_replicas=1)
    password = password or "pw-%s" % uuid.uuid4().hex
    secrets = [{"name": "app-credentials", "namespace": ns, "data": {"password": password}}]
    return resources, secrets


def apps(kube):
    return client.AppsV1Api(kube[CLUSTER])


def core(kube):
    return client.CoreV1Api(kube[CLUSTER])


def checksum(kube, ns, name):
    template = apps(kube).read_namespaced_deployment(name, ns).spec.template
    return (template.metadata.annotations or {}).get(CHECKSUM)


def replicasets(kube, ns, name):
    selector = "app.kubernetes.io/name=%s" % name
    return sorted(
        rs.metadata.name for rs in apps(kube).list_namespaced_replica_set(ns, label_selector=selector).items
    )


def by_object(result):
    return {"%s/%s" % (r["kind"], r["name"]): r for r in result["results"]}


def namespace_exists(kube, ns):
    try:
        core(kube).read_namespace(ns)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_a_platform_in_one_task_then_nothing_to_do_and_hpa_replicas_are_kept(ansible, kube, namespace):
    resources, secrets = platform(namespace)
    run, first = call(ansible, resources, secrets, wait=True)
    assert run.rc == 0, run.failure_messages()
    assert first["changed"] is True
    assert first["summary"] == {
        "created": 20,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "not_attempted": 0,
        "skipped": 0,
    }
    results = by_object(first)
    assert [r["kind"] for r in first["results"][:2]] == ["Namespace", "ServiceAccount"]  # tier order
    assert {results["Deployment/%s" % c]["replicas_owner"] for c in COMPONENTS} == {
        "hpa/alpha",
        "hpa/beta",
        "hpa/gamma",
    }
    assert sorted((r["name"], r["done"]) for r in first["rollouts"]) == [
        ("alpha", True),
        ("beta", True),
        ("gamma", True),
    ]
    for name, replicas in (("alpha", 2), ("beta", 2), ("gamma", 1)):
        dep = apps(kube).read_namespaced_deployment(name, namespace)
        assert dep.spec.replicas == replicas  # alpha: the HPA's minReplicas
        assert dep.status.ready_replicas == replicas  # waited for
    stored = core(kube).read_namespaced_secret("app-credentials", namespace)
    assert base64.b64decode(stored.data["password"]).decode() == secrets[0]["data"]["password"]
    assert len({checksum(kube, namespace, c) for c in COMPONENTS}) == 3  # each its own configuration

    run, again = call(ansible, resources, secrets, wait=True)
    assert run.rc == 0, run.failure_messages()
    assert again["changed"] is False
    assert again["summary"]["unchanged"] == 20 and again["rollouts"] == []

    # The HPA (here: someone) scales beta to 5; a re-apply that changes beta keeps 5.
    apps(kube).patch_namespaced_deployment_scale("beta", namespace, {"spec": {"replicas": 5}})
    changed = copy.deepcopy(resources)
    beta = next(r for r in changed if r["kind"] == "Deployment" and r["metadata"]["name"] == "beta")
    beta["metadata"]["labels"]["tier"] = "backend"
    run, third = call(ansible, changed, secrets)
    assert run.rc == 0, run.failure_messages()
    assert by_object(third)["Deployment/beta"]["action"] == "updated"
    dep = apps(kube).read_namespaced_deployment("beta", namespace)
    assert dep.metadata.labels["tier"] == "backend"
    assert dep.spec.replicas == 5


def test_a_configuration_change_in_check_mode_then_for_real_rolls_only_its_users(ansible, kube, namespace):
    resources, secrets = platform(namespace)
    run, _first = call(ansible, resources, secrets, wait=True)
    assert run.rc == 0, run.failure_messages()
    before = {c: checksum(kube, namespace, c) for c in COMPONENTS}
    rs_before = {c: replicasets(kube, namespace, c) for c in COMPONENTS}

    changed, _ = platform(namespace, log_level="debug")
    run, checked = call(ansible, changed, secrets, args=["--check", "--diff"])
    assert run.rc == 0, run.failure_messages()
    assert checked["changed"] is True
    actions = {key: r["action"] for key, r in by_object(checked).items() if r["action"] != "unchanged"}
    assert actions == {
        "ConfigMap/app-config": "updated",
        "Deployment/alpha": "updated",
        "Deployment/beta": "updated",
    }
    diffs = {d["before_header"].split(" (")[0]: d for d in checked["diff"]}
    alpha_before = yaml.safe_load(diffs["Deployment %s/alpha" % namespace]["before"])
    alpha_after = yaml.safe_load(diffs["Deployment %s/alpha" % namespace]["after"])
    assert alpha_before["spec"]["template"]["metadata"]["annotations"][CHECKSUM] == before["alpha"]
    assert alpha_after["spec"]["template"]["metadata"]["annotations"][CHECKSUM] != before["alpha"]
    # check mode wrote nothing
    config = core(kube).read_namespaced_config_map("app-config", namespace)
    assert config.data["LOG_LEVEL"] == "info"
    assert {c: checksum(kube, namespace, c) for c in COMPONENTS} == before

    run, applied = call(ansible, changed, secrets, wait=True)
    assert run.rc == 0, run.failure_messages()
    assert sorted(r["name"] for r in applied["rollouts"]) == ["alpha", "beta"]
    assert all(r["done"] for r in applied["rollouts"])
    after = {c: checksum(kube, namespace, c) for c in COMPONENTS}
    assert after["alpha"] != before["alpha"] and after["beta"] != before["beta"]
    assert after["gamma"] == before["gamma"]
    for name in ("alpha", "beta"):
        assert len(replicasets(kube, namespace, name)) == len(rs_before[name]) + 1  # new pods
    assert replicasets(kube, namespace, "gamma") == rs_before["gamma"]  # untouched


def test_diff_and_vvv_output_never_show_a_secret_value(ansible, kube, namespace):
    first_password = "first-%s" % uuid.uuid4().hex
    second_password = "second-%s" % uuid.uuid4().hex
    resources, secrets = platform(namespace, password=first_password)
    run, _ = call(ansible, resources, secrets, args=["--diff", "-vvv"], json_output=False)
    assert run.rc == 0, run.stdout[-3000:]
    assert "Secret %s/app-credentials" % namespace in run.stdout  # the diff shows the Secret...
    _resources, rotated = platform(namespace, password=second_password)
    run, _ = call(ansible, resources, rotated, args=["--diff", "-vvv"], json_output=False)
    assert run.rc == 0, run.stdout[-3000:]
    assert "password: <redacted, changed>" in run.stdout  # ...and which key changed
    assert "app-credentials" in run.stdout  # names stay visible
    for value in (first_password, second_password):
        encoded = base64.b64encode(value.encode()).decode()
        for output in (run.stdout, run.stderr):
            assert value not in output and encoded not in output
    stored = core(kube).read_namespaced_secret("app-credentials", namespace)
    assert base64.b64decode(stored.data["password"]).decode() == second_password


def test_a_missing_referenced_secret_fails_before_anything_is_written(ansible, kube, namespace):
    resources, secrets = platform(namespace)
    gamma = next(r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == "gamma")
    gamma["spec"]["template"]["spec"]["volumes"] = [{"name": "tls", "secret": {"secretName": "gamma-tls"}}]
    run, result = call(ansible, resources, secrets)
    assert run.rc != 0
    assert result["msg"].startswith(
        "Cannot apply the batch: Deployment %s/gamma needs Secret gamma-tls" % namespace
    )
    assert result["msg"].endswith("; nothing was changed")
    assert "(volume tls)" in result["msg"]
    assert not namespace_exists(kube, namespace)


def test_an_unknown_kind_fails_before_anything_is_written(ansible, kube, namespace):
    resources, secrets = platform(namespace)
    resources.append(
        {
            "apiVersion": "gizmos.example.com/v1",
            "kind": "Gizmo",
            "metadata": {"name": "g", "namespace": namespace},
        }
    )
    run, result = call(ansible, resources, secrets)
    assert run.rc != 0
    assert (
        "kind Gizmo (apiVersion gizmos.example.com/v1) of Gizmo %s/g is not served" % namespace
        in result["msg"]
    )
    assert not namespace_exists(kube, namespace)


@pytest.mark.global_state
@pytest.mark.emulator_only
def test_a_denied_tier_reports_what_was_applied_failed_and_not_attempted(ansible, kube, namespace, faults):
    faults.deny(CLUSTER, "create", "", "services", namespace)
    resources, secrets = platform(namespace)
    run, result = call(ansible, resources, secrets)
    assert run.rc != 0
    actions = {key: r["action"] for key, r in by_object(result).items()}
    assert {k for k, a in actions.items() if a == "failed"} == {
        "Service/alpha",
        "Service/beta",
        "Service/gamma",
    }
    assert {k for k, a in actions.items() if a == "created"} == {
        "Namespace/%s" % namespace,
        "ServiceAccount/app",
        "ConfigMap/app-config",
        "ConfigMap/gamma-config",
        "Secret/app-credentials",
        "Role/app",
        "RoleBinding/app",
    }
    assert {k for k, a in actions.items() if a == "not_attempted"} == {
        "Deployment/alpha",
        "Deployment/beta",
        "Deployment/gamma",
        "HorizontalPodAutoscaler/alpha",
        "HorizontalPodAutoscaler/beta",
        "HorizontalPodAutoscaler/gamma",
        "PodDisruptionBudget/alpha",
        "PodDisruptionBudget/beta",
        "PodDisruptionBudget/gamma",
        "Ingress/app",
    }
    assert result["summary"] == {
        "created": 7,
        "updated": 0,
        "unchanged": 0,
        "failed": 3,
        "not_attempted": 10,
        "skipped": 0,
    }
    for name in ("alpha", "beta", "gamma"):
        assert (
            "Service %s/%s: permission denied to create services in namespace %s"
            % (
                namespace,
                name,
                namespace,
            )
            in result["msg"]
        )
    assert apps(kube).list_namespaced_deployment(namespace).items == []


@pytest.mark.emulator_only
def test_a_rollout_that_does_not_finish_fails_the_task_with_every_result(ansible, kube, namespace):
    resources, secrets = platform(namespace)
    gamma = next(r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == "gamma")
    gamma["spec"]["template"]["metadata"]["annotations"] = {"kubemu.multiagent.ops/fault": "imagepull"}
    run, result = call(ansible, resources, secrets, wait=True, wait_timeout=8)
    assert run.rc != 0
    assert result["summary"]["created"] == 20  # everything was applied; only the rollout failed
    assert result["msg"].startswith("Applied (20 created), but 1 rollout(s) did not complete: ")
    assert "Deployment gamma in %s: rollout did not finish within 8 s" % namespace in result["msg"]
    assert "ImagePull" in result["msg"] or "ErrImagePull" in result["msg"]
    rollouts = {r["name"]: r for r in result["rollouts"]}
    assert rollouts["alpha"]["done"] and rollouts["beta"]["done"]
    assert rollouts["gamma"]["failed"] and not rollouts["gamma"]["done"]
