# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object checks of the catalogue (MAO-001..099), pure: plain Kubernetes objects in,
findings out (the shared finding shape, status ``fail``).

Workloads are checked on their pod template, once: a Deployment's findings are the
Deployment's, never its pods' (:func:`owned` tells which live objects a present owner
already stands for). Each pod spec is walked once, every container once (containers,
initContainers, ephemeralContainers), each rule a few dictionary look-ups on the way: no
copies and no second walk per rule, because the audit must read 5,000 Deployments in well
under a second.

The pod's securityContext is inherited the way the kubelet resolves it: a field that the
container's securityContext sets wins, else the pod's (runAsUser, runAsNonRoot,
seccompProfile, seLinuxOptions, appArmorProfile); privileged, allowPrivilegeEscalation,
capabilities, readOnlyRootFilesystem and procMount exist on containers only.
"""

from __future__ import annotations

import re

from ansible_collections.multiagent.ops.plugins.module_utils.security import catalogue

SEVERITY = {entry["id"]: entry["severity"] for entry in catalogue.RULES}

#: The pod template's path in each workload kind.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: Kinds whose pods run to completion: no probes expected.
RUN_TO_COMPLETION = frozenset(("Job", "CronJob"))
CLUSTER_SCOPED = frozenset(("ClusterRole", "ClusterRoleBinding", "Namespace", "Node", "PersistentVolume"))
_CONTAINER_LISTS = (
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
)

#: Pod Security Standards, baseline: the capabilities a container may add.
BASELINE_CAPABILITIES = frozenset(
    (
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    )
)
#: Pod Security Standards, baseline: the sysctls a pod may set.
SAFE_SYSCTLS = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    )
)
#: Pod Security Standards, baseline: the SELinux types a pod may ask for.
SELINUX_TYPES = frozenset(("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"))
_SECCOMP_OK = frozenset(("RuntimeDefault", "Localhost"))
_SECCOMP_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_NGINX_SNIPPET = re.compile(r"^nginx\.ingress\.kubernetes\.io/[a-z-]*snippet$")
HIGH_UID = 10000
_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock")

# An environment variable named like a credential, with a literal value...
_CREDENTIAL_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_KEY)",
    re.IGNORECASE,
)
# ... or a value that is a credential whatever its name: a password in a URL, an AWS key,
# a private key, a GitHub or Slack token, a JWT.
_CREDENTIAL_VALUE = re.compile(
    r"(://[^/\s:@]+:[^/\s@]+@|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abpr]-[A-Za-z0-9-]{10,}|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)"
)
# Values that are not credentials even under a credential's name.
_NOT_A_SECRET = re.compile(
    r"^(\$\(.*\)|\$\{.*\}|<.*>|true|false|yes|no|none|null|changeme-not-used|/.*)$", re.I
)

WORKLOAD_RULES = tuple("MAO-%03d" % n for n in range(1, 30) if n != 18) + ("MAO-033", "MAO-034", "MAO-035")
SERVICE_RULES = ("MAO-030", "MAO-031", "MAO-034")
INGRESS_RULES = ("MAO-032", "MAO-034", "MAO-036")
ROLE_RULES = ("MAO-034", "MAO-040", "MAO-041", "MAO-042", "MAO-043")
BINDING_RULES = ("MAO-026", "MAO-034")
SERVICE_ACCOUNT_RULES = ("MAO-027", "MAO-034")
# Kinds no rule but MAO-034 (the default namespace) looks at: where checkov's
# CKV_K8S_21 looks too
NAMESPACE_ONLY = frozenset(("Secret", "ConfigMap"))
# What Kubernetes itself keeps in the default namespace: not a platform's choice
DEFAULT_NAMESPACE_OWN = frozenset(
    (("Service", "kubernetes"), ("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt"))
)
_PROBES = ("MAO-024", "MAO-025")


class Context:
    """What the checks of one object may know about the others: the registry allow-list
    (MAO-018 runs only with one) and the ServiceAccounts present (``{(namespace, name):
    automountServiceAccountToken}``: a pod that leaves the token to its ServiceAccount
    passes MAO-027 when the ServiceAccount is there and does not mount it)."""

    def __init__(self, registries=None, service_accounts=None):
        self.registries = tuple(_registry_prefix(entry) for entry in registries or ())
        self.service_accounts = service_accounts or {}

    @classmethod
    def of(cls, objects, registries=None):
        accounts = {}
        for obj in objects:
            if isinstance(obj, dict) and obj.get("kind") == "ServiceAccount":
                meta = obj.get("metadata") or {}
                accounts[(meta.get("namespace"), meta.get("name"))] = obj.get("automountServiceAccountToken")
        return cls(registries, accounts)


def ref(obj):
    """The finding's ``object``: apiVersion, kind, namespace (None: cluster-scoped or not
    given) and name."""
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
    }


def finding(rule_id, message, obj_ref, container=None, path=None, source=None):
    return {
        "rule": rule_id,
        "severity": SEVERITY[rule_id],
        "message": message,
        "object": obj_ref,
        "container": container,
        "path": path,
        "source": source,
        "status": "fail",
        "waiver": None,
    }


def applicable(obj, context=None):
    """The ids of the rules checked on ``obj`` (the passes are these minus its findings);
    () for a kind no rule looks at."""
    kind = obj.get("kind")
    if kind in POD_SPEC_PATHS:
        rules = WORKLOAD_RULES
        if kind in RUN_TO_COMPLETION:
            rules = tuple(r for r in rules if r not in _PROBES)
        if context is not None and context.registries:
            rules = rules + ("MAO-018",)
        return rules
    if kind == "Service":
        return SERVICE_RULES
    if kind == "Ingress":
        return INGRESS_RULES
    if kind == "Role":
        return ROLE_RULES
    if kind == "ClusterRole":
        return ROLE_RULES[1:]
    if kind == "RoleBinding":
        return BINDING_RULES
    if kind == "ClusterRoleBinding":
        return BINDING_RULES[:1]
    if kind == "ServiceAccount":
        return SERVICE_ACCOUNT_RULES
    if kind in NAMESPACE_ONLY:
        return ("MAO-034",)
    return ()


def owned(obj, present):
    """Whether a present object already stands for ``obj``: its controller (an
    ownerReference with controller true, or the only one) is in ``present``, a set of
    ``(kind, namespace, name)`` (see :func:`keys`). A live Pod of a ReplicaSet, a ReplicaSet
    of a Deployment, a Job of a CronJob are then audited through their owner."""
    meta = obj.get("metadata") or {}
    refs = meta.get("ownerReferences") or ()
    namespace = meta.get("namespace")
    for owner in refs:
        if owner.get("controller") or len(refs) == 1:
            if (owner.get("kind"), namespace, owner.get("name")) in present:
                return True
    return False


def keys(objects):
    """``{(kind, namespace, name)}`` of ``objects``, for :func:`owned`."""
    found = set()
    for obj in objects:
        meta = obj.get("metadata") or {}
        found.add((obj.get("kind"), meta.get("namespace"), meta.get("name")))
    return found


def check(obj, context=None, source=None, out=None):
    """The findings (status fail) of one object, appended to ``out`` (a new list by default)
    and returned. ``source``: where the object was read ({file, document, line}) or None."""
    out = [] if out is None else out
    kind = obj.get("kind")
    context = context or _DEFAULT
    obj_ref = ref(obj)
    if kind in POD_SPEC_PATHS:
        _workload(obj, kind, obj_ref, context, source, out)
    elif kind == "Service":
        _service(obj, obj_ref, source, out)
    elif kind == "Ingress":
        _ingress(obj, obj_ref, source, out)
    elif kind in ("Role", "ClusterRole"):
        _role(obj, obj_ref, source, out)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        _binding(obj, obj_ref, source, out)
    elif kind == "ServiceAccount":
        _service_account(obj, obj_ref, source, out)
    elif kind not in NAMESPACE_ONLY:
        return out
    if kind not in CLUSTER_SCOPED:
        namespace = obj_ref["namespace"]
        if namespace == "default" and (kind, obj_ref["name"]) not in DEFAULT_NAMESPACE_OWN:
            out.append(
                finding("MAO-034", "%s is in the default namespace" % kind, obj_ref, None, None, source)
            )
        elif not namespace and source is not None:
            out.append(
                finding(
                    "MAO-034",
                    "%s names no namespace: it is created in the namespace of whoever applies it" % kind,
                    obj_ref,
                    None,
                    "metadata.namespace",
                    source,
                )
            )
    return out


_DEFAULT = Context()


def check_objects(objects, registries=None, name=None):
    """The findings (status fail, before any waiver) of every object of ``objects`` read from
    the manifest file ``name``, each with its source ``{file, document}``: what the audit finds
    in manifests, for a comparison with another scanner's findings on the same file."""
    context = Context.of(objects, registries)
    out = []
    for index, obj in enumerate(objects):
        if isinstance(obj, dict):
            check(obj, context, {"file": name, "document": index}, out)
    return out


def _service_account(obj, obj_ref, source, out):
    """The namespace's ``default`` ServiceAccount is every pod's that names none: unless it says
    automountServiceAccountToken false, each such pod gets an API token (CIS 5.1.5)."""
    if obj_ref["name"] == "default" and obj.get("automountServiceAccountToken") is not False:
        out.append(
            finding(
                "MAO-027",
                "the default ServiceAccount mounts its token into every pod that names no other "
                "(automountServiceAccountToken is not false)",
                obj_ref,
                None,
                "automountServiceAccountToken",
                source,
            )
        )


def _get(obj, path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _workload(obj, kind, obj_ref, context, source, out):
    path = POD_SPEC_PATHS[kind]
    spec = _get(obj, path)
    if not isinstance(spec, dict):
        return
    prefix = ".".join(path)
    template_meta = obj.get("metadata") if kind == "Pod" else _get(obj, path[:-1] + ("metadata",))
    annotations = (template_meta or {}).get("annotations") or {}

    def fail(rule_id, message, container=None, field=None):
        out.append(
            finding(rule_id, message, obj_ref, container, prefix + "." + field if field else prefix, source)
        )

    for field, rule_id in (("hostNetwork", "MAO-011"), ("hostPID", "MAO-012"), ("hostIPC", "MAO-013")):
        if spec.get(field) is True:
            fail(
                rule_id, "the pod shares the host's %s namespace (%s: true)" % (field[4:], field), None, field
            )
    for index, volume in enumerate(spec.get("volumes") or ()):
        host_path = volume.get("hostPath")
        if host_path is not None:
            where = (host_path or {}).get("path") or ""
            socket = (
                " (the container runtime's socket: control of the node)" if where.endswith(_SOCKETS) else ""
            )
            fail(
                "MAO-014",
                "volume %s mounts the host path %s%s" % (volume.get("name"), where, socket),
                None,
                "volumes[%d].hostPath" % index,
            )

    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if account == "default":
        fail("MAO-026", "the pod runs as the default ServiceAccount", None, "serviceAccountName")
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = context.service_accounts.get((obj_ref["namespace"], account))
    if automount is not False:
        fail(
            "MAO-027",
            "the ServiceAccount token is mounted (automountServiceAccountToken is not false on the pod%s)"
            % ("" if account == "default" else " nor on ServiceAccount %s" % account),
            None,
            "automountServiceAccountToken",
        )

    pod_sc = spec.get("securityContext") or {}
    if not pod_sc:
        fail("MAO-033", "the pod has no securityContext", None, "securityContext")
    for index, sysctl in enumerate(pod_sc.get("sysctls") or ()):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            fail(
                "MAO-035",
                "the pod sets the unsafe sysctl %s" % sysctl.get("name"),
                None,
                "securityContext.sysctls[%d]" % index,
            )
    _selinux(pod_sc.get("seLinuxOptions"), "the pod", None, "securityContext.seLinuxOptions", fail)
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is None and annotations:
        legacy = annotations.get(_SECCOMP_ANNOTATION)
        if legacy in ("runtime/default", "docker/default") or (legacy or "").startswith("localhost/"):
            pod_seccomp = "RuntimeDefault"
    if pod_seccomp == "Unconfined" or (annotations or {}).get(_SECCOMP_ANNOTATION) == "unconfined":
        # Pod Security restricted forbids it at the pod level even where every container
        # sets its own profile: a container added later inherits it
        fail(
            "MAO-009",
            "the pod's seccomp profile is Unconfined (a container without its own profile runs unconfined)",
            None,
            "securityContext.seccompProfile",
        )
    pod_apparmor = (pod_sc.get("appArmorProfile") or {}).get("type")
    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_user = pod_sc.get("runAsUser")
    probes = kind not in RUN_TO_COMPLETION
    registries = context.registries

    for list_name, noun in _CONTAINER_LISTS:
        containers = spec.get(list_name)
        if not containers:
            continue
        regular = list_name == "containers"
        ephemeral = list_name == "ephemeralContainers"
        for index, container in enumerate(containers):
            name = container.get("name")
            where = "%s[%d]" % (list_name, index)
            who = "%s %s" % (noun, name)
            sc = container.get("securityContext") or {}
            sc_field = where + ".securityContext"
            if not sc:
                fail("MAO-033", "%s has no securityContext" % who, name, sc_field)
            if sc.get("privileged") is True:
                fail("MAO-001", "%s is privileged" % who, name, sc_field + ".privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(
                    "MAO-002",
                    "%s: allowPrivilegeEscalation is not false" % who,
                    name,
                    sc_field + ".allowPrivilegeEscalation",
                )
            non_root = sc.get("runAsNonRoot", pod_non_root)
            if non_root is not True:
                fail("MAO-003", "%s: runAsNonRoot is not true" % who, name, sc_field + ".runAsNonRoot")
            user = sc.get("runAsUser", pod_user)
            if user == 0:
                fail("MAO-004", "%s runs as root (runAsUser 0)" % who, name, sc_field + ".runAsUser")
            if user is None:
                fail(
                    "MAO-005",
                    "%s: runAsUser is not set (the image's user runs)" % who,
                    name,
                    sc_field + ".runAsUser",
                )
            elif isinstance(user, int) and user < HIGH_UID:
                fail(
                    "MAO-005",
                    "%s runs as UID %d, below %d" % (who, user, HIGH_UID),
                    name,
                    sc_field + ".runAsUser",
                )
            capabilities = sc.get("capabilities") or {}
            added = [
                cap
                for cap in capabilities.get("add") or ()
                if str(cap).upper().removeprefix("CAP_") not in BASELINE_CAPABILITIES
            ]
            if added:
                fail(
                    "MAO-006",
                    "%s adds the capabilities %s" % (who, ", ".join(map(str, added))),
                    name,
                    sc_field + ".capabilities.add",
                )
            if not any(str(cap).upper() == "ALL" for cap in capabilities.get("drop") or ()):
                fail(
                    "MAO-007",
                    "%s does not drop ALL capabilities" % who,
                    name,
                    sc_field + ".capabilities.drop",
                )
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(
                    "MAO-008",
                    "%s: readOnlyRootFilesystem is not true" % who,
                    name,
                    sc_field + ".readOnlyRootFilesystem",
                )
            seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
            if annotations and (sc.get("seccompProfile") or {}).get("type") is None:
                legacy = annotations.get(_SECCOMP_CONTAINER_ANNOTATION + str(name))
                if legacy in ("runtime/default", "docker/default") or (legacy or "").startswith("localhost/"):
                    seccomp = "RuntimeDefault"
                elif legacy == "unconfined":
                    seccomp = "Unconfined"
            if seccomp not in _SECCOMP_OK:
                fail(
                    "MAO-009",
                    "%s: the seccomp profile is %s, not RuntimeDefault or Localhost"
                    % (who, seccomp or "not set"),
                    name,
                    sc_field + ".seccompProfile",
                )
            apparmor = (sc.get("appArmorProfile") or {}).get("type") or pod_apparmor
            if annotations and annotations.get(_APPARMOR_ANNOTATION + str(name)) == "unconfined":
                apparmor = "Unconfined"
            if apparmor == "Unconfined":
                fail(
                    "MAO-010",
                    "%s runs without AppArmor (unconfined)" % who,
                    name,
                    sc_field + ".appArmorProfile",
                )
            if sc.get("procMount") == "Unmasked":
                fail("MAO-035", "%s mounts /proc unmasked" % who, name, sc_field + ".procMount")
            _selinux(sc.get("seLinuxOptions"), who, name, sc_field + ".seLinuxOptions", fail)

            for port_index, port in enumerate(container.get("ports") or ()):
                if port.get("hostPort"):
                    fail(
                        "MAO-015",
                        "%s binds host port %s" % (who, port["hostPort"]),
                        name,
                        "%s.ports[%d].hostPort" % (where, port_index),
                    )
            _image(
                container.get("image"), container.get("imagePullPolicy"), who, name, where, registries, fail
            )

            if not ephemeral:
                resources = container.get("resources") or {}
                requests = resources.get("requests") or {}
                limits = resources.get("limits") or {}
                if not requests.get("cpu"):
                    fail("MAO-020", "%s has no CPU request" % who, name, where + ".resources.requests.cpu")
                if not requests.get("memory"):
                    fail(
                        "MAO-021",
                        "%s has no memory request" % who,
                        name,
                        where + ".resources.requests.memory",
                    )
                if not limits.get("cpu"):
                    fail("MAO-022", "%s has no CPU limit" % who, name, where + ".resources.limits.cpu")
                if not limits.get("memory"):
                    fail("MAO-023", "%s has no memory limit" % who, name, where + ".resources.limits.memory")
            if regular and probes:
                if not container.get("livenessProbe"):
                    fail("MAO-024", "%s has no liveness probe" % who, name, where + ".livenessProbe")
                if not container.get("readinessProbe"):
                    fail("MAO-025", "%s has no readiness probe" % who, name, where + ".readinessProbe")
            _env(container, who, name, where, fail)


def _selinux(options, who, name, field, fail):
    if not options:
        return
    if (options.get("type") or "") not in SELINUX_TYPES:
        fail("MAO-035", "%s sets the SELinux type %s" % (who, options.get("type")), name, field + ".type")
    for key in ("user", "role"):
        if options.get(key):
            fail("MAO-035", "%s sets the SELinux %s %s" % (who, key, options[key]), name, field + "." + key)


def parse_image(image):
    """``(repository with its registry, tag or None, digest or None)`` of an image
    reference; Docker Hub's short names are spelled out (``nginx`` ->
    ``docker.io/library/nginx``)."""
    name, digest = image.partition("@")[::2]
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if not sep:
        name = "docker.io/library/" + name
    elif not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    return name, tag, digest or None


def _registry_prefix(entry):
    entry = str(entry).rstrip("/")
    if entry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "docker.io/"
    return entry + "/"


def _image(image, policy, who, name, where, registries, fail):
    if not image:
        fail("MAO-016", "%s names no image" % who, name, where + ".image")
        return
    repository, tag, digest = parse_image(str(image))
    if digest is None:
        if tag is None or tag == "latest":
            fail(
                "MAO-016",
                "%s: image %s is %s" % (who, image, "latest" if tag else "untagged"),
                name,
                where + ".image",
            )
        fail("MAO-017", "%s: image %s has no digest" % (who, image), name, where + ".image")
        effective = policy or ("Always" if tag in (None, "latest") else "IfNotPresent")
        if effective != "Always":
            fail(
                "MAO-019",
                "%s: imagePullPolicy is %s on an image without a digest" % (who, effective),
                name,
                where + ".imagePullPolicy",
            )
    if registries and not (repository + "/").startswith(registries):
        fail("MAO-018", "%s: image %s is not from an allowed registry" % (who, image), name, where + ".image")


def _env(container, who, name, where, fail):
    for index, env in enumerate(container.get("env") or ()):
        value = env.get("value")
        if value:
            value = str(value)
            if _CREDENTIAL_VALUE.search(value) or (
                _CREDENTIAL_NAME.search(str(env.get("name"))) and not _NOT_A_SECRET.match(value)
            ):
                fail(
                    "MAO-028",
                    "%s: environment variable %s holds a credential-looking literal" % (who, env.get("name")),
                    name,
                    "%s.env[%d].value" % (where, index),
                )
        elif (env.get("valueFrom") or {}).get("secretKeyRef"):
            fail(
                "MAO-029",
                "%s: environment variable %s comes from Secret %s"
                % (who, env.get("name"), env["valueFrom"]["secretKeyRef"].get("name")),
                name,
                "%s.env[%d].valueFrom.secretKeyRef" % (where, index),
            )
    for index, source in enumerate(container.get("envFrom") or ()):
        if source.get("secretRef"):
            fail(
                "MAO-029",
                "%s: the environment comes from Secret %s" % (who, source["secretRef"].get("name")),
                name,
                "%s.envFrom[%d].secretRef" % (where, index),
            )


def _service(obj, obj_ref, source, out):
    kind = (obj.get("spec") or {}).get("type")
    if kind == "NodePort":
        out.append(finding("MAO-030", "Service of type NodePort", obj_ref, None, "spec.type", source))
    elif kind == "LoadBalancer":
        ranges = (obj.get("spec") or {}).get("loadBalancerSourceRanges")
        out.append(
            finding(
                "MAO-031",
                "Service of type LoadBalancer%s" % ("" if ranges else ", open to every source"),
                obj_ref,
                None,
                "spec.type",
                source,
            )
        )


def _ingress(obj, obj_ref, source, out):
    spec = obj.get("spec") or {}
    tls = spec.get("tls") or ()
    if not tls:
        out.append(finding("MAO-032", "the Ingress has no TLS", obj_ref, None, "spec.tls", source))
    else:
        covered = {host for entry in tls for host in entry.get("hosts") or ()}
        bare = [
            rule.get("host")
            for rule in spec.get("rules") or ()
            if rule.get("host") and rule["host"] not in covered
        ]
        if bare and covered:
            out.append(
                finding("MAO-032", "no TLS for host %s" % ", ".join(bare), obj_ref, None, "spec.tls", source)
            )
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for key in annotations:
        if _NGINX_SNIPPET.match(key):
            out.append(
                finding(
                    "MAO-036",
                    "annotation %s injects NGINX configuration (CVE-2021-25742)" % key,
                    obj_ref,
                    None,
                    "metadata.annotations",
                    source,
                )
            )


_WRITE_VERBS = frozenset(("*", "create", "update", "patch", "delete", "deletecollection"))
_WEBHOOKS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")


def _matches(values, wanted):
    return "*" in values or wanted in values


def _role(obj, obj_ref, source, out):
    for index, entry in enumerate(obj.get("rules") or ()):
        groups = entry.get("apiGroups") or ()
        resources = entry.get("resources") or ()
        verbs = entry.get("verbs") or ()
        path = "rules[%d]" % index
        wild = [
            field
            for field, values in (("apiGroups", groups), ("resources", resources), ("verbs", verbs))
            if "*" in values
        ]
        if wild or "*" in (entry.get("nonResourceURLs") or ()):
            out.append(
                finding(
                    "MAO-040",
                    "rule %d holds a wildcard in %s" % (index, ", ".join(wild) or "nonResourceURLs"),
                    obj_ref,
                    None,
                    path,
                    source,
                )
            )
        powers = [verb for verb in ("bind", "escalate", "impersonate") if verb in verbs]
        if powers:
            out.append(
                finding(
                    "MAO-041",
                    "rule %d grants %s" % (index, ", ".join(powers)),
                    obj_ref,
                    None,
                    path + ".verbs",
                    source,
                )
            )
        writes = _WRITE_VERBS.intersection(verbs)
        if writes and _matches(groups, "admissionregistration.k8s.io"):
            hooks = [hook for hook in _WEBHOOKS if _matches(resources, hook)]
            if hooks:
                out.append(
                    finding(
                        "MAO-042",
                        "rule %d may change %s" % (index, " and ".join(hooks)),
                        obj_ref,
                        None,
                        path,
                        source,
                    )
                )
        if (
            _matches(groups, "certificates.k8s.io")
            and _matches(resources, "certificatesigningrequests/approval")
            and {"*", "update", "patch"}.intersection(verbs)
        ):
            out.append(
                finding(
                    "MAO-043",
                    "rule %d may approve CertificateSigningRequests" % index,
                    obj_ref,
                    None,
                    path,
                    source,
                )
            )


def _binding(obj, obj_ref, source, out):
    namespace = obj_ref["namespace"]
    for index, subject in enumerate(obj.get("subjects") or ()):
        if subject.get("kind") == "ServiceAccount" and subject.get("name") == "default":
            out.append(
                finding(
                    "MAO-026",
                    "binds %s to the default ServiceAccount of namespace %s"
                    % ((obj.get("roleRef") or {}).get("name"), subject.get("namespace") or namespace),
                    obj_ref,
                    None,
                    "subjects[%d]" % index,
                    source,
                )
            )
