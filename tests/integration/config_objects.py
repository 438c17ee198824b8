"""A namespace with one object of every kind config_backup exports, for test_config_backup.py.

Built through the Kubernetes API with the kubernetes client, so it works the same on the
emulator and on a real cluster (images from MAOPS_TEST_IMAGE there).
"""

from __future__ import annotations

import os
import time

from kubernetes import client

IMAGE = os.environ.get("MAOPS_TEST_IMAGE", "mplp/core:1.0")


def crd(group):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.%s" % group},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def _pod_template(labels, env=None):
    container = {"name": "app", "image": IMAGE, "ports": [{"containerPort": 8080}]}
    if env:
        container["env"] = env
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def build(api, namespace, secret_value, group):
    """Create the namespace and its objects; returns nothing (the tests read them back)."""
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": namespace, "labels": {"team": "platform"}}})
    # The namespace controller makes the default ServiceAccount and kube-root-ca.crt.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = {cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items}
        accounts = {sa.metadata.name for sa in core.list_namespaced_service_account(namespace).items}
        if "kube-root-ca.crt" in names and "default" in accounts:
            break
        time.sleep(0.2)
    # A configured default ServiceAccount is configuration (an unconfigured one is not).
    core.patch_namespaced_service_account("default", namespace, {"imagePullSecrets": [{"name": "registry"}]})
    core.create_namespaced_service_account(
        namespace, {"metadata": {"name": "app-runner"}, "automountServiceAccountToken": False}
    )
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "app-credentials", "labels": {"app": "app"}},
            "type": "Opaque",
            "stringData": {"password": secret_value, "user": "app"},
        },
    )
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {"name": "app-config", "labels": {"app": "app"}},
            "data": {"LOG_LEVEL": "info", "app.yaml": "server:\n  port: 8080\n  workers: 4\n"},
        },
    )
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "app-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "app-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "app-reader"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "app-runner", "namespace": namespace},
                {"kind": "ServiceAccount", "name": "auditor", "namespace": "kube-system"},
            ],
        },
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "app-data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "app", "labels": {"app": "app"}},
            "spec": {"selector": {"app": "app"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "app-external"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "app"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
    )
    deployment = apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "app", "labels": {"app": "app"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "app"}},
                "template": _pod_template(
                    {"app": "app"},
                    env=[
                        {
                            "name": "LOG_LEVEL",
                            "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "LOG_LEVEL"}},
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "app-credentials", "key": "password"}},
                        },
                    ],
                ),
            },
        },
    )
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": _pod_template({"app": "db"}),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    )
    client.BatchV1Api(api).create_namespaced_cron_job(
        namespace,
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 2 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "job", "image": IMAGE}],
                            }
                        }
                    }
                },
            },
        },
    )
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(
        namespace,
        {
            "metadata": {"name": "app"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "minReplicas": 2,
                "maxReplicas": 5,
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
    )
    client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(
        namespace,
        {
            "metadata": {"name": "app"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "app"}}},
        },
    )
    networking = client.NetworkingV1Api(api)
    networking.create_namespaced_ingress(
        namespace,
        {
            "metadata": {"name": "app"},
            "spec": {
                "rules": [
                    {
                        "host": "app.example.test",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "app", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    networking.create_namespaced_network_policy(
        namespace,
        {
            "metadata": {"name": "app-ingress"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "app"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}],
            },
        },
    )
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        group,
        "v1",
        namespace,
        "widgets",
        {"apiVersion": "%s/v1" % group, "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}},
    )
    # An object a controller owns: never configuration.
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "app-generated",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "app",
                        "uid": deployment.metadata.uid,
                    }
                ],
            },
            "data": {"generated": "yes"},
        },
    )
    # The StatefulSet's controller makes its claim (data-db-0); wait for it, so that what a
    # backup sees does not depend on timing.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items}
        if "data-db-0" in claims:
            return
        time.sleep(0.2)
    raise AssertionError("the StatefulSet's claim data-db-0 did not appear in %s" % namespace)


def delete_namespace(api, namespace, wait=60):
    core = client.CoreV1Api(api)
    try:
        core.delete_namespace(namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return
        raise
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            core.read_namespace(namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.3)
    raise AssertionError("namespace %s was not gone after %ds" % (namespace, wait))
