"""Contract: every object kubemu serves validates against the upstream 1.33 schemas (strict).

A realistic namespace is created and the controllers left to run (a faulted pod included), then
every object of every served resource is read back by LIST and by GET and validated with
kubernetes-validate, so the emulator cannot drift from what a real apiserver returns.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
from kubemu_testlib import Api, deployment, pod, wait_for

KUBERNETES_VERSION = "1.33"
NS = "contract"


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    base = f"/api/v1/namespaces/{NS}"
    apps = f"/apis/apps/v1/namespaces/{NS}"
    labels = {"app": "db"}
    return [
        (f"{apps}/deployments", deployment("web", replicas=2)),
        (f"{base}/pods", pod("broken", {"kubemu.multiagent.ops/fault": "crashloop"})),
        (f"{base}/pods", pod("unschedulable", {"kubemu.multiagent.ops/fault": "pending"})),
        (
            f"{apps}/statefulsets",
            {
                "metadata": {"name": "db"},
                "spec": {
                    "replicas": 1,
                    "serviceName": "db",
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
                    },
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
        ),
        (
            f"{base}/services",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8000}],
                },
            },
        ),
        (
            f"{base}/services",
            {
                "metadata": {"name": "db"},
                "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 5432}]},
            },
        ),
        (f"{base}/configmaps", {"metadata": {"name": "settings"}, "data": {"LOG_LEVEL": "info"}}),
        (f"{base}/secrets", {"metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}}),
        (f"{base}/serviceaccounts", {"metadata": {"name": "runner"}}),
        (
            f"{base}/persistentvolumeclaims",
            {
                "metadata": {"name": "scratch"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
            },
        ),
        (
            f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
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
        ),
        (
            f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets",
            {
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
            },
        ),
        (
            f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "rules": [
                        {
                            "host": "web.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            },
        ),
        (
            f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies",
            {"metadata": {"name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        ),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles",
            {
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
            },
        ),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings",
            {
                "metadata": {"name": "reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": NS}],
            },
        ),
        (
            f"/apis/batch/v1/namespaces/{NS}/cronjobs",
            {
                "metadata": {"name": "backup"},
                "spec": {
                    "schedule": "0 2 * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "OnFailure",
                                    "containers": [{"name": "dump", "image": "postgres:16"}],
                                }
                            }
                        }
                    },
                },
            },
        ),
    ]


def _validate(obj: dict[str, Any], where: str, failures: list[str]) -> bool:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError as exc:
        failures.append(f"{where}: {str(exc).splitlines()[0]} (at {list(exc.path)})")
    return True


def test_everything_served_validates_against_upstream_schemas(api: Api, emulator) -> None:
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    for path, manifest in _manifests():
        api.ok("POST", path, manifest)

    def settled() -> bool:
        web = api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web").get("status", {})
        db = api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/statefulsets/db").get("status", {})
        broken = api.ok("GET", f"/api/v1/namespaces/{NS}/pods/broken")["status"]
        return (
            web.get("availableReplicas") == 2
            and db.get("readyReplicas") == 1
            and bool(broken.get("containerStatuses") and broken["containerStatuses"][0]["restartCount"])
        )

    wait_for(settled)
    failures: list[str] = []
    validated: dict[str, int] = {}
    unschematised: set[str] = set()
    for group, versions in _served(api):
        for version, resources in versions.items():
            prefix = f"/apis/{group}/{version}" if group else "/api/v1"
            api_version = f"{group}/{version}" if group else "v1"
            for plural, kind in resources:
                listing = api.ok("GET", f"{prefix}/{plural}")
                assert listing["kind"] == f"{kind}List" and listing["apiVersion"] == api_version
                for item in listing["items"]:
                    meta = item["metadata"]
                    typed = {"apiVersion": api_version, "kind": kind, **item}
                    if not _validate(typed, f"LIST {prefix}/{plural} {meta['name']}", failures):
                        unschematised.add(f"{api_version}/{kind}")
                        continue
                    ns_part = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
                    fetched = api.ok("GET", f"{prefix}{ns_part}/{plural}/{meta['name']}")
                    _validate(fetched, f"GET {prefix}{ns_part}/{plural}/{meta['name']}", failures)
                    validated[f"{api_version}/{kind}"] = validated.get(f"{api_version}/{kind}", 0) + 1
    scale = api.ok("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale")
    _validate(scale, "GET deployments/web/scale", failures)
    assert not failures, "\n".join(failures)
    # The set really was exercised, including what the controllers made.
    for kind in (
        "v1/Pod",
        "v1/Event",
        "v1/Node",
        "v1/Endpoints",
        "v1/Namespace",
        "v1/Service",
        "v1/Secret",
        "v1/PersistentVolumeClaim",
        "apps/v1/ReplicaSet",
        "apps/v1/ControllerRevision",
        "apps/v1/StatefulSet",
        "autoscaling/v2/HorizontalPodAutoscaler",
        "autoscaling/v1/HorizontalPodAutoscaler",
        "policy/v1/PodDisruptionBudget",
        "events.k8s.io/v1/Event",
        "batch/v1/CronJob",
        "networking.k8s.io/v1/Ingress",
        "rbac.authorization.k8s.io/v1/RoleBinding",
    ):
        assert validated.get(kind), kind
    # Only the metrics API has no upstream schema (it is served by metrics-server, not kube).
    assert unschematised <= {"metrics.k8s.io/v1beta1/PodMetrics", "metrics.k8s.io/v1beta1/NodeMetrics"}


def _served(api: Api) -> list[tuple[str, dict[str, list[tuple[str, str]]]]]:
    """(group, {version: [(plural, kind)]}) for every listable resource in discovery."""
    groups = [("", ["v1"])] + [
        (g["name"], [v["version"] for v in g["versions"]]) for g in api.ok("GET", "/apis")["groups"]
    ]
    served = []
    for group, versions in groups:
        by_version = {}
        for version in versions:
            doc = api.ok("GET", f"/apis/{group}/{version}" if group else "/api/v1")
            by_version[version] = [
                (r["name"], r["kind"])
                for r in doc["resources"]
                if "/" not in r["name"] and "list" in r["verbs"]
            ]
        served.append((group, by_version))
    return served
