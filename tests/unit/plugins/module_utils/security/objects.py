"""Literal objects the security tests share: a hardened Deployment (every workload rule
passes) and ways to put it into the other workload kinds."""

from __future__ import annotations

import copy


def container(name="app", image="registry.example.com/mplp/core:1.4.2@sha256:" + "a" * 64):
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8000}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8000}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}},
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
    }


def pod_spec():
    return {
        "serviceAccountName": "mplp-core",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def deployment(name="mplp-core", namespace="mplp"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec()},
        },
    }


def workload(kind, name="w", namespace="mplp"):
    """A hardened object of ``kind`` (any workload kind, or a bare Pod)."""
    base = deployment(name, namespace)
    template = base["spec"]["template"]
    if kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": dict(base["metadata"], labels=template["metadata"]["labels"]),
            "spec": template["spec"],
        }
    if kind == "CronJob":
        template["spec"]["restartPolicy"] = "OnFailure"
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": base["metadata"],
            "spec": {"schedule": "0 4 * * 0", "jobTemplate": {"spec": {"template": template}}},
        }
    if kind == "Job":
        template["spec"]["restartPolicy"] = "OnFailure"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": base["metadata"],
            "spec": {"template": template},
        }
    base["kind"] = kind
    return base


def pod_spec_of(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def with_init(obj):
    """``obj`` with a hardened init container (no probes) before its app container."""
    obj = copy.deepcopy(obj)
    init = container("migrate")
    del init["livenessProbe"], init["readinessProbe"]
    pod_spec_of(obj)["initContainers"] = [init]
    return obj
