#!/usr/bin/env python3
"""Manifests for the security audit's benchmark and its recall test set (deterministic).

    python bench/security_gen.py bench 5000 OUT.yaml [--seed 15]   # N Deployments, one file
    python bench/security_gen.py recall DIR                        # the recall test set

**bench**: N Deployments in one multi-document YAML file, spread over 20 namespaces
(``team-00``..``team-19``), drawn with ``random.Random(seed)`` so the same N and seed give the
same bytes. Each pod has its app container, a sidecar in 30% of them and an init container in
30%. Three profiles:

- 40% *hardened*: every setting the catalogue asks for (non-root UID 10001, no privilege
  escalation, read-only root, ALL capabilities dropped, RuntimeDefault seccomp, requests and
  limits, both probes, a digest-pinned image pulled Always, its own ServiceAccount with no
  token automounted);
- 35% *partly hardened*: the hardened spec with 1 to 4 of its settings undone, drawn from 20
  (a missing limit or probe, a tag without digest, runAsUser 1000, writable root, no seccomp,
  a capability added, a Secret in env, a hostPort...);
- 25% *bad*: what a first draft looks like: ``image: name:latest`` or no tag, no
  securityContext, no resources or probes, the default ServiceAccount, a credential literal
  in env; and each with a 15% chance of privileged, hostNetwork, hostPID, the docker socket as
  a hostPath, SYS_ADMIN, and 10% of landing in the default namespace.

**recall**: the small set on which checkov's findings are compared with ours (committed
under tests/fixtures/security/recall/). A hardened object of every kind (Deployment,
StatefulSet, DaemonSet, CronJob, bare Pod; with init and sidecar containers) that passes every
mapped checkov check, then per check one or two objects that undo exactly one setting, in a
kind and container (app, sidecar or init) that rotate, so each mapped check fails on some
object and passes on others. Plus Roles, ClusterRoles, (Cluster)RoleBindings,
ServiceAccounts, Services, Ingresses and Secrets used from env (secretKeyRef, envFrom, and a
credential literal). Files: workloads.yaml, rbac.yaml, network.yaml (Services, Ingresses,
ServiceAccounts, Secrets).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import random
import sys
from pathlib import Path

import yaml

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - libyaml is in .venv
    from yaml import SafeDumper as _Dumper


class Dumper(_Dumper):
    """Writes shared dicts (a workload's labels) out again instead of as YAML anchors."""

    def ignore_aliases(self, data):
        return True


UID = 10001
NAMESPACES = tuple(f"team-{i:02d}" for i in range(20))
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Pod")


def digest(name):
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def probe(port=8080, path="/healthz"):
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": 10}


def container(name, image="registry.example.com/app", tag="1.4.2", role="app"):
    """A hardened container; role init gets no probes (none are allowed there)."""
    spec = {
        "name": name,
        "image": f"{image}:{tag}@{digest(image + tag)}",
        "imagePullPolicy": "Always",
        "ports": [{"containerPort": 8080}] if role == "app" else [],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }
    if not spec["ports"]:
        del spec["ports"]
    if role != "init":
        spec["livenessProbe"] = probe()
        spec["readinessProbe"] = probe(path="/ready")
    return spec


def pod_spec(app, sidecar=False, init=False, service_account=None):
    spec = {
        "serviceAccountName": service_account or app,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container("app")],
    }
    if sidecar:
        spec["containers"].append(container("proxy", "registry.example.com/proxy", "2.0.1", "sidecar"))
    if init:
        spec["initContainers"] = [container("migrate", "registry.example.com/migrate", "1.4.2", "init")]
    return spec


def workload(kind, name, namespace, spec):
    """Wrap a pod spec into a workload of kind; Jobs' pods get no probes and restart OnFailure."""
    labels = {"app": name}
    metadata = {"name": name, "labels": labels}
    if namespace is not None:
        metadata["namespace"] = namespace
    template = {"metadata": {"labels": labels}, "spec": spec}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    if kind == "CronJob":
        for c in spec["containers"]:
            c.pop("livenessProbe", None)
            c.pop("readinessProbe", None)
        spec["restartPolicy"] = "OnFailure"
        job = {"template": template}
        body = {"schedule": "0 4 * * 0", "jobTemplate": {"spec": job}}
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata, "spec": body}
    body = {"selector": {"matchLabels": labels}, "template": template}
    if kind in ("Deployment", "StatefulSet"):
        body["replicas"] = 2
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": body}


def pod_of(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


# ---------------------------------------------------------------- undoing one setting


def _sc(c):
    return c.setdefault("securityContext", {})


def _untag(c, tag):
    c["image"] = c["image"].split(":")[0] + (f":{tag}" if tag else "")


# Each breaks one setting of a hardened container (c) or pod spec (p). The key names it.
CONTAINER_BREAKS = {
    "no-liveness": lambda c: c.pop("livenessProbe", None),
    "no-readiness": lambda c: c.pop("readinessProbe", None),
    "no-cpu-request": lambda c: c["resources"]["requests"].pop("cpu"),
    "no-memory-request": lambda c: c["resources"]["requests"].pop("memory"),
    "no-cpu-limit": lambda c: c["resources"]["limits"].pop("cpu"),
    "no-memory-limit": lambda c: c["resources"]["limits"].pop("memory"),
    "latest": lambda c: _untag(c, "latest"),
    "no-tag": lambda c: _untag(c, ""),
    "no-digest": lambda c: c.update(image=c["image"].split("@")[0]),
    "pull-ifnotpresent": lambda c: c.update(image=c["image"].split("@")[0], imagePullPolicy="IfNotPresent"),
    "pull-policy-unset": lambda c: (c.update(image=c["image"].split("@")[0]), c.pop("imagePullPolicy")),
    "privileged": lambda c: _sc(c).update(privileged=True),
    "escalation": lambda c: _sc(c).update(allowPrivilegeEscalation=True),
    "escalation-unset": lambda c: _sc(c).pop("allowPrivilegeEscalation"),
    "writable-root": lambda c: _sc(c).update(readOnlyRootFilesystem=False),
    "low-uid": lambda c: _sc(c).update(runAsUser=1000),
    "add-net-admin": lambda c: _sc(c)["capabilities"].update(add=["NET_ADMIN"]),
    "add-sys-admin": lambda c: _sc(c)["capabilities"].update(add=["SYS_ADMIN"]),
    "drop-chown-only": lambda c: _sc(c)["capabilities"].update(drop=["CHOWN"]),
    "drop-net-raw-only": lambda c: _sc(c)["capabilities"].update(drop=["NET_RAW"]),
    "no-security-context": lambda c: c.pop("securityContext"),
    "host-port": lambda c: c.setdefault("ports", []).append({"containerPort": 9090, "hostPort": 9090}),
    "secret-key-ref": lambda c: c.setdefault("env", []).append(
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ),
    "env-from-secret": lambda c: c.setdefault("envFrom", []).append({"secretRef": {"name": "db"}}),
    "credential-literal": lambda c: c.setdefault("env", []).append(
        {"name": "API_TOKEN", "value": "sk_live_" + hashlib.sha1(c["name"].encode()).hexdigest()}
    ),
}


def _root_pod(p):
    """Pod runs as UID 0 and no container says otherwise (checkov's CKV_K8S_23 fails only then)."""
    p["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    for c in p["containers"]:
        c["securityContext"].pop("runAsNonRoot")
        c["securityContext"].pop("runAsUser", None)


def _uid_unset(p):
    p["securityContext"].pop("runAsUser", None)
    for c in p["containers"] + p.get("initContainers", []):
        c["securityContext"].pop("runAsUser", None)


def _seccomp_unset(p):
    p["securityContext"].pop("seccompProfile", None)
    for c in p["containers"] + p.get("initContainers", []):
        c["securityContext"].pop("seccompProfile", None)


def _docker_socket(p):
    p["volumes"] = [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]
    p["containers"][0]["volumeMounts"] = [{"name": "docker", "mountPath": "/var/run/docker.sock"}]


POD_BREAKS = {
    "host-pid": lambda p: p.update(hostPID=True),
    "host-ipc": lambda p: p.update(hostIPC=True),
    "host-network": lambda p: p.update(hostNetwork=True),
    "docker-socket": _docker_socket,
    "root-pod": _root_pod,
    "uid-unset": _uid_unset,
    "seccomp-unconfined": lambda p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}),
    "seccomp-unset": _seccomp_unset,
    "no-pod-security-context": lambda p: p.pop("securityContext"),
    "token-automount-unset": lambda p: p.pop("automountServiceAccountToken"),
    "token-automount-true": lambda p: p.update(automountServiceAccountToken=True),
    "default-service-account": lambda p: p.update(serviceAccountName="default"),
}


def break_container(spec, which, role):
    """Undo setting `which` in the container of `role` (app, sidecar or init)."""
    target = {"app": spec["containers"][0], "sidecar": spec["containers"][-1]}.get(role)
    if role == "init":
        target = spec["initContainers"][0]
    CONTAINER_BREAKS[which](target)


# ---------------------------------------------------------------- the recall test set

RECALL_NAMESPACE = "shop"

# (what to undo, the kind it goes into, the container it is undone in). Probes are undone only
# where checkov and the catalogue require them (no Jobs, no init containers); the rest rotate
# over the kinds and over app, sidecar and init containers.
RECALL_CONTAINER_CASES = (
    ("no-liveness", "Deployment", "sidecar"),
    ("no-liveness", "Pod", "app"),
    ("no-readiness", "StatefulSet", "app"),
    ("no-readiness", "DaemonSet", "sidecar"),
    ("no-cpu-request", "DaemonSet", "init"),
    ("no-cpu-request", "Deployment", "app"),
    ("no-memory-request", "Pod", "sidecar"),
    ("no-memory-request", "CronJob", "init"),
    ("no-cpu-limit", "CronJob", "app"),
    ("no-cpu-limit", "StatefulSet", "init"),
    ("no-memory-limit", "Deployment", "init"),
    ("no-memory-limit", "DaemonSet", "app"),
    ("latest", "StatefulSet", "sidecar"),
    ("no-tag", "CronJob", "init"),
    ("no-digest", "Pod", "app"),
    ("no-digest", "DaemonSet", "init"),
    ("pull-ifnotpresent", "DaemonSet", "app"),
    ("pull-policy-unset", "Deployment", "sidecar"),
    ("privileged", "DaemonSet", "sidecar"),
    ("privileged", "Pod", "init"),
    ("escalation", "StatefulSet", "init"),
    ("escalation-unset", "CronJob", "app"),
    ("writable-root", "Deployment", "sidecar"),
    ("writable-root", "CronJob", "init"),
    ("low-uid", "Deployment", "app"),
    ("low-uid", "StatefulSet", "sidecar"),
    ("add-net-admin", "CronJob", "sidecar"),
    ("add-sys-admin", "StatefulSet", "init"),
    ("add-sys-admin", "Pod", "app"),
    ("drop-chown-only", "Pod", "app"),
    ("drop-chown-only", "Deployment", "init"),
    ("drop-net-raw-only", "DaemonSet", "sidecar"),
    ("no-security-context", "CronJob", "sidecar"),
    ("no-security-context", "Deployment", "init"),
    ("host-port", "Deployment", "sidecar"),
    ("host-port", "Pod", "app"),
    ("secret-key-ref", "Deployment", "app"),
    ("secret-key-ref", "StatefulSet", "init"),
    ("env-from-secret", "CronJob", "sidecar"),
    ("credential-literal", "Pod", "sidecar"),
)

RECALL_POD_CASES = (
    ("host-pid", "Deployment"),
    ("host-pid", "CronJob"),
    ("host-ipc", "Pod"),
    ("host-ipc", "StatefulSet"),
    ("host-network", "DaemonSet"),
    ("host-network", "Deployment"),
    ("docker-socket", "DaemonSet"),
    ("docker-socket", "Pod"),
    ("root-pod", "Pod"),
    ("root-pod", "StatefulSet"),
    ("uid-unset", "Deployment"),
    ("uid-unset", "CronJob"),
    ("seccomp-unconfined", "Deployment"),
    ("seccomp-unconfined", "CronJob"),
    ("seccomp-unset", "Pod"),
    ("seccomp-unset", "DaemonSet"),
    ("no-pod-security-context", "StatefulSet"),
    ("no-pod-security-context", "Pod"),
    ("token-automount-unset", "StatefulSet"),
    ("token-automount-true", "Pod"),
    ("token-automount-unset", "CronJob"),
    ("default-service-account", "Deployment"),
)

SHORT = {"Deployment": "deploy", "StatefulSet": "sts", "DaemonSet": "ds", "CronJob": "cron", "Pod": "pod"}


def recall_workloads():
    objects = []
    for kind in WORKLOAD_KINDS:
        name = f"{SHORT[kind]}-hardened"
        objects.append(workload(kind, name, RECALL_NAMESPACE, pod_spec(name, sidecar=True, init=True)))
        name = f"{SHORT[kind]}-hardened-single"
        objects.append(workload(kind, name, RECALL_NAMESPACE, pod_spec(name)))
    for which, kind, role in RECALL_CONTAINER_CASES:
        name = f"{SHORT[kind]}-{which}-{role}"
        spec = pod_spec(name, sidecar=True, init=True)
        obj = workload(kind, name, RECALL_NAMESPACE, spec)
        break_container(pod_of(obj), which, role)
        objects.append(obj)
    for which, kind in RECALL_POD_CASES:
        name = f"{SHORT[kind]}-{which}"
        obj = workload(kind, name, RECALL_NAMESPACE, pod_spec(name, sidecar=True, init=True))
        POD_BREAKS[which](pod_of(obj))
        objects.append(obj)
    # the default namespace: named, and not named at all
    objects.append(workload("Deployment", "deploy-in-default", "default", pod_spec("deploy-in-default")))
    objects.append(workload("Pod", "pod-no-namespace", None, pod_spec("pod-no-namespace")))
    return objects


def rule(groups, resources, verbs, names=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def role(kind, name, rules):
    metadata = {"name": name}
    if kind == "Role":
        metadata["namespace"] = RECALL_NAMESPACE
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, namespace=RECALL_NAMESPACE):
    metadata = {"name": name}
    if kind == "RoleBinding" and namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def sa_subject(name):
    return {"kind": "ServiceAccount", "name": name, "namespace": RECALL_NAMESPACE}


def recall_rbac():
    read = rule([""], ["configmaps", "pods"], ["get", "list", "watch"])
    rbac = "rbac.authorization.k8s.io"
    return [
        role("Role", "app-reader", [read]),
        role("ClusterRole", "node-reader", [rule([""], ["nodes"], ["get", "list"])]),
        role("Role", "wildcard-verbs", [rule([""], ["pods"], ["*"])]),
        role("ClusterRole", "wildcard-resources", [rule(["apps"], ["*"], ["get"])]),
        role("ClusterRole", "wildcard-groups", [rule(["*"], ["deployments"], ["list"])]),
        role("Role", "wildcard-second-rule", [read, rule([""], ["secrets"], ["*"])]),
        role(
            "ClusterRole",
            "webhook-admin",
            [rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"], ["create"])],
        ),
        role(
            "ClusterRole",
            "csr-approver",
            [
                rule(["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update"]),
                rule(["certificates.k8s.io"], ["signers"], ["approve"], names=["example.com/app"]),
            ],
        ),
        role("Role", "binder", [read, rule([rbac], ["rolebindings"], ["bind"])]),
        role("ClusterRole", "escalator", [read, rule([rbac], ["clusterroles"], ["escalate"])]),
        role("ClusterRole", "impersonator", [read, rule([""], ["serviceaccounts"], ["impersonate"])]),
        binding("RoleBinding", "app-reader", "Role", "app-reader", [sa_subject("deploy-hardened")]),
        binding("RoleBinding", "default-reader", "Role", "app-reader", [sa_subject("default")]),
        binding(
            "ClusterRoleBinding", "default-node-reader", "ClusterRole", "node-reader", [sa_subject("default")]
        ),
        binding("ClusterRoleBinding", "ops-node-reader", "ClusterRole", "node-reader", [sa_subject("ops")]),
        binding("RoleBinding", "binding-in-default", "Role", "app-reader", [sa_subject("ops")], "default"),
    ]


def service_account(name, automount, namespace=RECALL_NAMESPACE):
    obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
    if automount is not None:
        obj["automountServiceAccountToken"] = automount
    return obj


def service(name, kind="ClusterIP", namespace=RECALL_NAMESPACE):
    metadata = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    port = {"port": 80, "targetPort": 8080}
    if kind == "NodePort":
        port["nodePort"] = 30080
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"type": kind, "selector": {"app": name}, "ports": [port]},
    }


def ingress(name, annotations=None, tls=True):
    spec = {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": f"{name}.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "deploy-hardened", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    }
    if tls:
        spec["tls"] = [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}]
    metadata = {"name": name, "namespace": RECALL_NAMESPACE}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def recall_network():
    snippet = "nginx.ingress.kubernetes.io/configuration-snippet"
    return [
        service_account("deploy-hardened", False),
        service_account("ops", False),
        service_account("default", False),
        service_account("default", None, namespace="payments"),
        service_account("default", True, namespace="billing"),
        service("deploy-hardened"),
        service("sts-hardened", "NodePort"),
        service("edge", "LoadBalancer"),
        service("svc-no-namespace", namespace=None),
        ingress("ingress-hardened"),
        ingress("ingress-no-tls", tls=False),
        ingress("ingress-snippet", {snippet: "more_set_headers 'X-Frame-Options: DENY';"}),
        ingress("ingress-snippet-lua", {snippet: "content_by_lua_block { ngx.say('hi') }"}),
        ingress(
            "ingress-snippet-alias",
            {"nginx.ingress.kubernetes.io/server-snippet": "location /x { alias /; }"},
        ),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": RECALL_NAMESPACE},
            "type": "Opaque",
            "stringData": {"password": "not-a-real-password"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-in-default"},
            "type": "Opaque",
            "stringData": {"password": "not-a-real-password"},
        },
    ]


def recall_set():
    """{file name: [objects]}"""
    return {
        "workloads.yaml": recall_workloads(),
        "rbac.yaml": recall_rbac(),
        "network.yaml": recall_network(),
    }


# ---------------------------------------------------------------- the benchmark's Deployments

PARTLY = (
    tuple((which, "app") for which in ("no-liveness", "no-readiness", "no-cpu-limit", "no-memory-limit"))
    + tuple((which, "app") for which in ("no-digest", "low-uid", "writable-root", "add-net-admin"))
    + tuple(
        (which, "app") for which in ("secret-key-ref", "host-port", "pull-ifnotpresent", "escalation-unset")
    )
    + (("no-cpu-request", "sidecar"), ("drop-net-raw-only", "sidecar"), ("privileged", "init"))
    + tuple((which, None) for which in ("seccomp-unset", "token-automount-unset", "uid-unset"))
    + (("default-service-account", None), ("host-network", None))
)


def bad_container(rng, name, role):
    image = rng.choice(("nginx:latest", "redis", "postgres:latest", "python:3.11", "busybox"))
    c = {"name": name, "image": image}
    if role == "app":
        c["ports"] = [{"containerPort": 8080}]
        c["env"] = [{"name": "DATABASE_PASSWORD", "value": "hunter2-" + str(rng.randrange(10**6))}]
    if rng.random() < 0.15:
        c["securityContext"] = {"privileged": True}
    elif rng.random() < 0.15:
        c["securityContext"] = {"capabilities": {"add": ["SYS_ADMIN"]}}
    return c


def bench_deployment(rng, i):
    name = f"app-{i:05d}"
    namespace = rng.choice(NAMESPACES)
    sidecar, init = rng.random() < 0.3, rng.random() < 0.3
    roll = rng.random()
    if roll < 0.40:
        return workload("Deployment", name, namespace, pod_spec(name, sidecar, init))
    if roll < 0.75:
        spec = pod_spec(name, sidecar, init)
        for which, role in rng.sample(PARTLY, rng.randint(1, 4)):
            if role is None:
                POD_BREAKS[which](spec)
            elif (role == "sidecar" and not sidecar) or (role == "init" and not init):
                continue
            else:
                break_container(spec, which, role)
        return workload("Deployment", name, namespace, spec)
    spec = {"containers": [bad_container(rng, "app", "app")]}
    if sidecar:
        spec["containers"].append(bad_container(rng, "sidecar", "sidecar"))
    if init:
        spec["initContainers"] = [bad_container(rng, "init", "init")]
    for field in ("hostNetwork", "hostPID"):
        if rng.random() < 0.15:
            spec[field] = True
    if rng.random() < 0.15:
        _docker_socket(spec)
    return workload("Deployment", name, "default" if rng.random() < 0.1 else namespace, spec)


def bench_objects(n, seed=15):
    rng = random.Random(seed)
    return [bench_deployment(rng, i) for i in range(n)]


def dump(objects):
    return yaml.dump_all(objects, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=1000)


def write_bench(n, path, seed=15):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(bench_objects(n, seed)))
    return path


def write_recall(directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, objects in recall_set().items():
        (directory / name).write_text(dump(copy.deepcopy(objects)))
        written.append(directory / name)
    return written


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("bench", help="N Deployments in one multi-document file")
    b.add_argument("n", type=int)
    b.add_argument("out")
    b.add_argument("--seed", type=int, default=15)
    r = sub.add_parser("recall", help="the recall test set, three files into DIR")
    r.add_argument("dir")
    args = parser.parse_args(argv)
    if args.mode == "bench":
        print(write_bench(args.n, args.out, args.seed))
    else:
        for path in write_recall(args.dir):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
