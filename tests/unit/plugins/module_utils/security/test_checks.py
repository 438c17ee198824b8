"""The object checks: every rule with an object that passes and one that fails, in app,
init and sidecar containers and across the workload kinds; the pod's securityContext
inherited by its containers; findings on the owning workload."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import catalogue, checks

from .objects import container, deployment, pod_spec_of, with_init, workload

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def rules_of(obj, context=None, source=None):
    return sorted({f["rule"] for f in checks.check(obj, context, source)})


def app(spec):
    return spec["containers"][0]


def init(spec):
    return spec["initContainers"][0]


def sc(target):
    return target.setdefault("securityContext", {})


# rule -> (what breaks it on a pod spec, the container it names or None)
WORKLOAD_BREAKS = {
    "MAO-001": (lambda s, c: sc(c(s)).update(privileged=True), True),
    "MAO-002": (lambda s, c: sc(c(s)).pop("allowPrivilegeEscalation"), True),
    "MAO-003": (lambda s, c: sc(c(s)).update(runAsNonRoot=False), True),
    "MAO-004": (lambda s, c: sc(c(s)).update(runAsUser=0), True),
    "MAO-005": (lambda s, c: sc(c(s)).update(runAsUser=1000), True),
    "MAO-006": (lambda s, c: sc(c(s))["capabilities"].update(add=["SYS_ADMIN"]), True),
    "MAO-007": (lambda s, c: sc(c(s))["capabilities"].update(drop=["NET_RAW"]), True),
    "MAO-008": (lambda s, c: sc(c(s)).update(readOnlyRootFilesystem=False), True),
    "MAO-009": (lambda s, c: sc(c(s)).update(seccompProfile={"type": "Unconfined"}), True),
    "MAO-010": (lambda s, c: sc(c(s)).update(appArmorProfile={"type": "Unconfined"}), True),
    "MAO-011": (lambda s, c: s.update(hostNetwork=True), False),
    "MAO-012": (lambda s, c: s.update(hostPID=True), False),
    "MAO-013": (lambda s, c: s.update(hostIPC=True), False),
    "MAO-014": (
        lambda s, c: s["volumes"].append({"name": "sock", "hostPath": {"path": "/run/docker.sock"}}),
        False,
    ),
    "MAO-015": (lambda s, c: c(s)["ports"].append({"containerPort": 80, "hostPort": 80}), True),
    "MAO-016": (lambda s, c: c(s).update(image="nginx:latest", imagePullPolicy="Always"), True),
    "MAO-017": (
        lambda s, c: c(s).update(image="registry.example.com/mplp/core:1.4.2", imagePullPolicy="Always"),
        True,
    ),
    "MAO-019": (lambda s, c: c(s).update(image="registry.example.com/mplp/core:1.4.2"), True),
    "MAO-020": (lambda s, c: c(s)["resources"]["requests"].pop("cpu"), True),
    "MAO-021": (lambda s, c: c(s)["resources"]["requests"].pop("memory"), True),
    "MAO-022": (lambda s, c: c(s)["resources"]["limits"].pop("cpu"), True),
    "MAO-023": (lambda s, c: c(s)["resources"]["limits"].pop("memory"), True),
    "MAO-026": (lambda s, c: s.pop("serviceAccountName"), False),
    "MAO-027": (lambda s, c: s.pop("automountServiceAccountToken"), False),
    "MAO-028": (lambda s, c: c(s)["env"].append({"name": "DB_PASSWORD", "value": "hunter2"}), True),
    "MAO-029": (lambda s, c: c(s).update(envFrom=[{"secretRef": {"name": "mplp-db"}}]), True),
    "MAO-033": (lambda s, c: c(s).pop("securityContext"), True),
    "MAO-035": (lambda s, c: sc(c(s)).update(procMount="Unmasked"), True),
}
# Rules a broken field also breaks by consequence (a container without a securityContext
# has nothing set in it).
ALSO = {
    "MAO-017": {"MAO-017"},
    "MAO-016": {"MAO-016", "MAO-017"},
    "MAO-019": {"MAO-017", "MAO-019"},
    "MAO-004": {"MAO-004", "MAO-005"},
    "MAO-033": {"MAO-033", "MAO-002", "MAO-007", "MAO-008"},
    "MAO-026": {"MAO-026"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_hardened_workload_of_every_kind_passes_every_rule(kind):
    obj = with_init(workload(kind))
    assert checks.check(obj) == []
    assert "MAO-001" in checks.applicable(obj)


BROKEN = [
    (rule, where)
    for rule, (breaks, per_container) in sorted(WORKLOAD_BREAKS.items())
    for where in (("app", "init") if per_container else ("pod",))
]


@pytest.mark.parametrize(("rule", "where"), BROKEN)
@pytest.mark.parametrize("kind", ("Deployment", "CronJob"))
def test_every_workload_rule_fails_where_it_is_broken(rule, kind, where):
    obj = with_init(workload(kind))
    spec = pod_spec_of(obj)
    breaks, per_container = WORKLOAD_BREAKS[rule]
    breaks(spec, init if where == "init" else app)
    found = checks.check(obj)
    assert {f["rule"] for f in found} == ALSO.get(rule, {rule})
    for f in found:
        assert f["object"] == {
            "apiVersion": obj["apiVersion"],
            "kind": kind,
            "namespace": "mplp",
            "name": "w",
        }
        assert f["status"] == "fail" and f["severity"] == checks.SEVERITY[f["rule"]]
        if per_container:
            assert f["container"] == ("app" if where == "app" else "migrate")
            expected = "init container migrate" if where == "init" else "container app"
            assert f["message"].startswith(expected)
            assert ("initContainers[0]" in f["path"]) == (where == "init")
        if kind == "CronJob":
            assert f["path"].startswith("spec.jobTemplate.spec.template.spec")


def test_a_sidecar_and_an_ephemeral_container_are_checked_too():
    obj = deployment()
    spec = pod_spec_of(obj)
    sidecar = container("proxy")
    sidecar["securityContext"]["privileged"] = True
    spec["containers"].append(sidecar)
    spec["ephemeralContainers"] = [{"name": "debug", "image": "busybox"}]
    found = checks.check(obj)
    assert {(f["rule"], f["container"]) for f in found if f["rule"] == "MAO-001"} == {("MAO-001", "proxy")}
    debug = {f["rule"] for f in found if f["container"] == "debug"}
    assert {"MAO-016", "MAO-033", "MAO-008"} <= debug
    assert not debug & {"MAO-020", "MAO-023", "MAO-024"}  # no resources or probes on ephemeral containers


def test_probes_are_expected_of_long_running_app_containers_only():
    obj = deployment()
    del app(pod_spec_of(obj))["livenessProbe"]
    del app(pod_spec_of(obj))["readinessProbe"]
    assert rules_of(obj) == ["MAO-024", "MAO-025"]
    for kind in ("Job", "CronJob"):
        job = workload(kind)
        del app(pod_spec_of(job))["livenessProbe"], app(pod_spec_of(job))["readinessProbe"]
        assert rules_of(job) == []
        assert "MAO-024" not in checks.applicable(job)
    assert rules_of(with_init(deployment())) == []  # the init container has none


def test_the_pods_security_context_is_inherited_and_a_container_overrides_it():
    obj = deployment()
    spec = pod_spec_of(obj)
    assert rules_of(obj) == []  # runAsNonRoot, runAsUser and seccomp come from the pod
    app(spec)["securityContext"]["runAsUser"] = 0
    assert rules_of(obj) == ["MAO-004", "MAO-005"]
    app(spec)["securityContext"]["runAsUser"] = 20000
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    assert rules_of(obj) == ["MAO-003"]
    app(spec)["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "Localhost"})
    spec["securityContext"] = {
        "runAsNonRoot": False,
        "seccompProfile": {"type": "Unconfined"},
        "runAsUser": 5,
    }
    # the containers' own settings win, but Pod Security restricted forbids an Unconfined
    # profile at the pod level too (a container without its own would inherit it)
    assert rules_of(obj) == ["MAO-009"]
    assert checks.check(obj)[0]["container"] is None
    spec["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert rules_of(obj) == []
    spec["securityContext"] = {}
    assert rules_of(obj) == ["MAO-033"]


def test_legacy_seccomp_and_apparmor_annotations_count():
    obj = deployment()
    spec = pod_spec_of(obj)
    del spec["securityContext"]["seccompProfile"]
    assert rules_of(obj) == ["MAO-009"]
    annotations = obj["spec"]["template"]["metadata"].setdefault("annotations", {})
    annotations["seccomp.security.alpha.kubernetes.io/pod"] = "runtime/default"
    assert rules_of(obj) == []
    annotations["container.seccomp.security.alpha.kubernetes.io/app"] = "unconfined"
    annotations["container.apparmor.security.beta.kubernetes.io/app"] = "unconfined"
    assert rules_of(obj) == ["MAO-009", "MAO-010"]


def test_capabilities_of_the_baseline_set_may_be_added():
    obj = deployment()
    app(pod_spec_of(obj))["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE", "CAP_CHOWN"]
    assert rules_of(obj) == []
    app(pod_spec_of(obj))["securityContext"]["capabilities"]["add"] = ["NET_RAW"]
    [found] = checks.check(obj)
    assert found["rule"] == "MAO-006" and "NET_RAW" in found["message"]


def test_host_path_names_the_container_runtimes_socket():
    obj = deployment()
    pod_spec_of(obj)["volumes"].append({"name": "logs", "hostPath": {"path": "/var/log"}})
    pod_spec_of(obj)["volumes"].append(
        {"name": "sock", "hostPath": {"path": "/run/containerd/containerd.sock"}}
    )
    logs, sock = checks.check(obj)
    assert "socket" not in logs["message"] and "socket" in sock["message"]
    assert sock["path"] == "spec.template.spec.volumes[2].hostPath"


@pytest.mark.parametrize(
    ("sysctl", "fails"),
    [("net.ipv4.tcp_syncookies", False), ("kernel.msgmax", True), ("net.core.somaxconn", True)],
)
def test_unsafe_sysctls(sysctl, fails):
    obj = deployment()
    pod_spec_of(obj)["securityContext"]["sysctls"] = [{"name": sysctl, "value": "1"}]
    assert rules_of(obj) == (["MAO-035"] if fails else [])


def test_selinux_type_overrides():
    obj = deployment()
    pod_spec_of(obj)["securityContext"]["seLinuxOptions"] = {"type": "container_t", "level": "s0:c1,c2"}
    assert rules_of(obj) == []
    pod_spec_of(obj)["securityContext"]["seLinuxOptions"] = {"type": "spc_t"}
    assert rules_of(obj) == ["MAO-035"]
    pod_spec_of(obj)["securityContext"]["seLinuxOptions"] = {"user": "system_u"}
    assert rules_of(obj) == ["MAO-035"]


@pytest.mark.parametrize(
    ("image", "policy", "expected"),
    [
        ("nginx", None, {"MAO-016", "MAO-017"}),  # no tag: Always by default
        ("nginx:latest", "IfNotPresent", {"MAO-016", "MAO-017", "MAO-019"}),
        ("nginx:1.27", None, {"MAO-017", "MAO-019"}),  # IfNotPresent by default
        ("nginx:1.27", "Always", {"MAO-017"}),
        ("nginx@sha256:" + "b" * 64, None, set()),
        ("localhost:5000/app:1@sha256:" + "c" * 64, "Never", set()),
    ],
)
def test_image_tag_digest_and_pull_policy(image, policy, expected):
    obj = deployment()
    app(pod_spec_of(obj))["image"] = image
    if policy:
        app(pod_spec_of(obj))["imagePullPolicy"] = policy
    else:
        del app(pod_spec_of(obj))["imagePullPolicy"]
    assert set(rules_of(obj)) == expected


def test_the_registry_allow_list_runs_only_when_given():
    obj = deployment()
    assert "MAO-018" not in checks.applicable(obj)
    allowed = checks.Context(registries=["registry.example.com"])
    assert "MAO-018" in checks.applicable(obj, allowed) and rules_of(obj, allowed) == []
    assert rules_of(obj, checks.Context(registries=["registry.example.com/other"])) == ["MAO-018"]
    assert rules_of(obj, checks.Context(registries=["registry.example.co"])) == [
        "MAO-018"
    ]  # not a prefix of a host
    app(pod_spec_of(obj))["image"] = "nginx@sha256:" + "d" * 64
    assert rules_of(obj, checks.Context(registries=["docker.io"])) == []
    assert rules_of(obj, checks.Context(registries=["docker.io/bitnami"])) == ["MAO-018"]


def test_parse_image():
    assert checks.parse_image("nginx") == ("docker.io/library/nginx", None, None)
    assert checks.parse_image("bitnami/redis:7") == ("docker.io/bitnami/redis", "7", None)
    assert checks.parse_image("localhost:5000/app") == ("localhost:5000/app", None, None)
    assert checks.parse_image("ghcr.io/o/a:1@sha256:x") == ("ghcr.io/o/a", "1", "sha256:x")


@pytest.mark.parametrize(
    ("name", "value", "fails"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("API_KEY", "abc", True),
        ("DATABASE_URL", "postgresql://mplp:s3cret@db:5432/mplp", True),
        ("AWS", "AKIAABCDEFGHIJKLMNOP", True),
        ("DATABASE_URL", "postgresql://db:5432/mplp", False),
        ("TOKEN_FILE", "/var/run/secrets/token", False),
        ("PASSWORD", "$(DB_PASSWORD)", False),
        ("SECRET_ENABLED", "true", False),
        ("LOG_LEVEL", "debug", False),
    ],
)
def test_credential_looking_literals(name, value, fails):
    obj = deployment()
    app(pod_spec_of(obj))["env"] = [{"name": name, "value": value}]
    assert rules_of(obj) == (["MAO-028"] if fails else [])


def test_secret_key_ref_in_env():
    obj = deployment()
    app(pod_spec_of(obj))["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    [found] = checks.check(obj)
    assert found["rule"] == "MAO-029" and "Secret db" in found["message"]


def test_the_token_left_to_a_present_service_account_that_does_not_mount_it_passes():
    obj = deployment()
    del pod_spec_of(obj)["automountServiceAccountToken"]
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "mplp-core", "namespace": "mplp"},
    }
    assert rules_of(obj, checks.Context.of([account])) == ["MAO-027"]
    account["automountServiceAccountToken"] = False
    assert rules_of(obj, checks.Context.of([account])) == []


def test_the_default_namespace_and_a_manifest_without_one():
    assert rules_of(deployment(namespace="default")) == ["MAO-034"]
    assert rules_of(deployment(namespace=None)) == []  # a live object always has its namespace
    [found] = checks.check(deployment(namespace=None), source={"file": "x.yaml", "document": 0})
    assert found["rule"] == "MAO-034" and found["source"]["file"] == "x.yaml"


def service(kind):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "mplp"},
        "spec": {"type": kind},
    }


@pytest.mark.parametrize(
    ("kind", "expected"), [("ClusterIP", []), ("NodePort", ["MAO-030"]), ("LoadBalancer", ["MAO-031"])]
)
def test_service_types(kind, expected):
    assert rules_of(service(kind)) == expected
    assert checks.applicable(service(kind)) == checks.SERVICE_RULES


def ingress(tls=None, annotations=None):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "i", "namespace": "mplp", "annotations": annotations or {}},
        "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}], "tls": tls or []},
    }


def test_ingress_tls_and_snippets():
    assert rules_of(ingress()) == ["MAO-032"]
    assert rules_of(ingress([{"hosts": ["a.example.com", "b.example.com"], "secretName": "t"}])) == []
    [partial] = checks.check(ingress([{"hosts": ["a.example.com"], "secretName": "t"}]))
    assert partial["rule"] == "MAO-032" and "b.example.com" in partial["message"]
    tls = [{"hosts": ["a.example.com", "b.example.com"]}]
    snippet = {"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"}
    assert rules_of(ingress(tls, snippet)) == ["MAO-036"]
    assert rules_of(ingress(tls, {"nginx.ingress.kubernetes.io/ssl-redirect": "true"})) == []


def role(rules, kind="Role"):
    meta = {"name": "r"} if kind == "ClusterRole" else {"name": "r", "namespace": "mplp"}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (READ_PODS, []),
        ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, ["MAO-040"]),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, ["MAO-040"]),
        ({"nonResourceURLs": ["*"], "verbs": ["get"]}, ["MAO-040"]),
        (
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]},
            ["MAO-041"],
        ),
        ({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}, ["MAO-041"]),
        (
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations"],
                "verbs": ["patch"],
            },
            ["MAO-042"],
        ),
        (
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["validatingwebhookconfigurations"],
                "verbs": ["get", "list"],
            },
            [],
        ),
        (
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests/approval"],
                "verbs": ["update"],
            },
            ["MAO-043"],
        ),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, ["MAO-040", "MAO-042", "MAO-043"]),
    ],
)
@pytest.mark.parametrize("kind", ("Role", "ClusterRole"))
def test_role_rules(rule, expected, kind):
    obj = role([READ_PODS, rule], kind)
    found = checks.check(obj)
    assert sorted({f["rule"] for f in found}) == expected
    assert all(f["path"].startswith("rules[1]") for f in found)


def binding(kind, subjects):
    meta = {"name": "b"} if kind == "ClusterRoleBinding" else {"name": "b", "namespace": "mplp"}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": subjects,
    }


@pytest.mark.parametrize("kind", ("RoleBinding", "ClusterRoleBinding"))
def test_bindings_of_the_default_service_account(kind):
    assert (
        rules_of(binding(kind, [{"kind": "ServiceAccount", "name": "mplp-core", "namespace": "mplp"}])) == []
    )
    [found] = checks.check(
        binding(kind, [{"kind": "ServiceAccount", "name": "default", "namespace": "mplp"}])
    )
    assert found["rule"] == "MAO-026" and "view" in found["message"] and found["path"] == "subjects[0]"


def test_other_kinds_are_not_checked():
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c", "namespace": "default"},
    }
    assert checks.check(claim) == [] and checks.applicable(claim) == ()


def test_secrets_and_config_maps_only_for_the_default_namespace_not_kubernetes_own_objects():
    for kind in ("Secret", "ConfigMap"):
        obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "c", "namespace": "default"}}
        assert [f["rule"] for f in checks.check(obj)] == ["MAO-034"] and checks.applicable(obj) == (
            "MAO-034",
        )
        obj["metadata"]["namespace"] = "apps"
        assert checks.check(obj) == []
    own = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
    }
    assert checks.check(own) == []
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default"},
    }
    assert "MAO-034" not in [f["rule"] for f in checks.check(service)]


def test_the_default_service_account_that_mounts_its_token():
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "apps"},
    }
    assert [f["rule"] for f in checks.check(account)] == ["MAO-027"]
    account["automountServiceAccountToken"] = False
    assert checks.check(account) == []
    other = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "apps"}}
    assert checks.check(other) == [] and checks.applicable(other) == ("MAO-027", "MAO-034")


def test_a_live_pod_is_audited_through_its_present_owner():
    pod = workload("Pod")
    pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "w-5d8", "controller": True}]
    replica_set = workload("ReplicaSet", "w-5d8")
    replica_set["metadata"]["ownerReferences"] = [{"kind": "Deployment", "name": "w", "controller": True}]
    present = checks.keys([deployment("w"), replica_set, pod])
    assert checks.owned(pod, present) and checks.owned(replica_set, present)
    assert not checks.owned(deployment("w"), present)
    assert not checks.owned(pod, checks.keys([pod]))  # its owner was not read: the pod is audited


def test_every_rule_id_used_by_the_checks_is_in_the_catalogue_and_the_workload_rules_are_all_tested():
    ids = {entry["id"] for entry in catalogue.RULES}
    assert set(checks.WORKLOAD_RULES) <= ids
    # MAO-034 and the probes have tests of their own
    assert set(checks.WORKLOAD_RULES) - {"MAO-024", "MAO-025", "MAO-034"} == set(WORKLOAD_BREAKS)


def test_findings_do_not_change_the_object():
    obj = deployment()
    app(pod_spec_of(obj))["securityContext"]["privileged"] = True
    before = copy.deepcopy(obj)
    checks.check(obj)
    assert obj == before
