# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""checkov's Kubernetes checks against this collection's rule catalogue (pure data).

checkov is a benchmark peer, never a dependency: nothing here imports it. The ids are those
checkov 3.3.30 ships (``checkov/kubernetes/checks/resource/k8s/*.py``, 113 ``CKV_K8S_*``, and
the six graph checks ``checkov/kubernetes/checks/graph_checks/*.json``, ``CKV2_K8S_1..6``),
read from its wheel. Every one of them is a key of exactly one of two tables:

- ``CHECKOV``: a check of checkov's -> the catalogue rules that cover it. A checkov failure of
  the check on an object is matched when the audit reports any of those rules on the same
  object (the owning workload, a Role, a Service...). ``checkov.io/skipN: CKV_K8S_16=reason``
  annotations waive exactly these rules.
- ``UNMAPPED``: a check of checkov's -> why no rule of ours covers it.

``NOTES``: where a mapped check and our rule differ in what they accept, in which direction,
and why (the recall test set keeps to objects on which both must agree).
"""

VERSION = "3.3.30"

CHECKOV = {
    # probes (checkov skips Jobs and CronJobs, and init containers, as the catalogue does)
    "CKV_K8S_8": ("MAO-024",),  # liveness probe
    "CKV_K8S_9": ("MAO-025",),  # readiness probe
    # resources (containers and init containers)
    "CKV_K8S_10": ("MAO-020",),  # CPU request
    "CKV_K8S_11": ("MAO-022",),  # CPU limit
    "CKV_K8S_12": ("MAO-021",),  # memory request
    "CKV_K8S_13": ("MAO-023",),  # memory limit
    # image
    "CKV_K8S_14": ("MAO-016",),  # tag latest or none
    "CKV_K8S_15": ("MAO-019",),  # imagePullPolicy not Always on a tag without digest
    "CKV_K8S_43": ("MAO-017",),  # no digest
    # container security
    "CKV_K8S_16": ("MAO-001",),  # privileged
    "CKV_K8S_20": ("MAO-002",),  # allowPrivilegeEscalation not false
    "CKV_K8S_22": ("MAO-008",),  # readOnlyRootFilesystem not true
    "CKV_K8S_23": ("MAO-003", "MAO-004"),  # neither runAsNonRoot true nor runAsUser > 0
    "CKV_K8S_40": ("MAO-005",),  # runAsUser below 10000, or not set
    "CKV_K8S_25": ("MAO-006", "MAO-007"),  # any capability added
    "CKV_K8S_28": ("MAO-007",),  # neither ALL nor NET_RAW dropped
    "CKV_K8S_37": ("MAO-007",),  # ALL not dropped
    "CKV_K8S_39": ("MAO-006",),  # SYS_ADMIN added
    "CKV_K8S_31": ("MAO-009",),  # seccomp profile not RuntimeDefault
    "CKV_K8S_29": ("MAO-033",),  # no pod securityContext
    "CKV_K8S_30": ("MAO-033",),  # a container without securityContext
    # host namespaces and host access
    "CKV_K8S_17": ("MAO-012",),  # hostPID
    "CKV_K8S_18": ("MAO-013",),  # hostIPC
    "CKV_K8S_19": ("MAO-011",),  # hostNetwork
    "CKV_K8S_26": ("MAO-015",),  # hostPort
    "CKV_K8S_27": ("MAO-014",),  # hostPath /var/run/docker.sock
    # service accounts
    "CKV_K8S_38": ("MAO-027",),  # automountServiceAccountToken not false on the pod
    "CKV_K8S_41": ("MAO-026", "MAO-027"),  # a ServiceAccount "default" whose token is automounted
    "CKV_K8S_42": ("MAO-026",),  # a (Cluster)RoleBinding binding the default ServiceAccount
    # secrets
    "CKV_K8S_35": ("MAO-029",),  # secretKeyRef / envFrom secretRef
    # namespace
    "CKV_K8S_21": ("MAO-034",),  # object in the default namespace
    # RBAC (wildcards grant every one of these operations, so MAO-040 covers them too)
    "CKV_K8S_49": ("MAO-040",),  # wildcard in the first rule
    "CKV_K8S_155": ("MAO-042", "MAO-040"),  # create/update/patch admission webhook configurations
    "CKV_K8S_156": ("MAO-043", "MAO-040"),  # approve CertificateSigningRequests
    "CKV_K8S_157": ("MAO-041", "MAO-040"),  # bind (Cluster)RoleBindings
    "CKV_K8S_158": ("MAO-041", "MAO-040"),  # escalate (Cluster)Roles
    # ingress-nginx snippets (CVE-2021-25742): all snippet annotations, and the two subsets
    "CKV_K8S_152": ("MAO-036",),  # a snippet with Lua code
    "CKV_K8S_153": ("MAO-036",),  # any snippet annotation
    "CKV_K8S_154": ("MAO-036",),  # a snippet with an alias statement
}

NOTES = {
    "CKV_K8S_25": "checkov fails any added capability; MAO-006 only those beyond the Pod Security "
    "baseline set, and MAO-007 a container not dropping ALL. A baseline capability (CHOWN, for "
    "example) added by a container that drops ALL is a checkov finding and not one of ours.",
    "CKV_K8S_31": "checkov accepts only RuntimeDefault (or the old docker/default and runtime/default "
    "annotations) and looks at regular containers only; MAO-009 also accepts a Localhost profile, "
    "as Pod Security restricted does, and looks at init containers too.",
    "CKV_K8S_38": "checkov fails every pod without automountServiceAccountToken: false; MAO-027 may "
    "exempt a pod that needs the API (one with its own ServiceAccount bound by a Role).",
    "CKV_K8S_40": "checkov fails a container whose UID is not set (the image decides it) as below "
    "10000, and so must MAO-005 for recall.",
    "CKV_K8S_41": "checkov fails a ServiceAccount object named default without "
    "automountServiceAccountToken: false, on the ServiceAccount itself: for recall the audit reports "
    "MAO-026 or MAO-027 there too, not only on the workloads that use it.",
    "CKV_K8S_49": "checkov looks at a Role's first rule only; MAO-040 looks at every rule.",
}


def _control_plane(component, flag):
    return (
        "control-plane configuration (%s: %s), checked on a static Pod's command line: the cluster "
        "installer's, not a platform workload's; no catalogue rule" % (component, flag)
    )


_PSP = (
    "a PodSecurityPolicy object (the API was removed in Kubernetes 1.25); the catalogue checks the pods' "
    "own settings, which a policy only admitted: "
)
_BINDING = (
    "graph check on a (Cluster)RoleBinding: fails when the bound role is not in the same scan, else when "
    "it grants a ServiceAccount or Node %s; that is the live RBAC analysis (MAO-100..149, per subject, "
    "with aggregation and built-in roles), not an object rule; the role itself is covered by %s"
)

UNMAPPED = {
    "CKV_K8S_1": _PSP + "hostPID (MAO-012 on the pods)",
    "CKV_K8S_2": _PSP + "privileged (MAO-001 on the pods)",
    "CKV_K8S_3": _PSP + "hostIPC (MAO-013 on the pods)",
    "CKV_K8S_4": _PSP + "hostNetwork (MAO-011 on the pods)",
    "CKV_K8S_5": _PSP + "allowPrivilegeEscalation (MAO-002 on the pods)",
    "CKV_K8S_6": _PSP + "root containers (MAO-003, MAO-004 on the pods)",
    "CKV_K8S_7": _PSP + "NET_RAW (MAO-007 on the pods)",
    "CKV_K8S_24": _PSP + "allowed capabilities (MAO-006 on the pods)",
    "CKV_K8S_32": _PSP + "default seccomp annotation (MAO-009 on the pods)",
    "CKV_K8S_36": _PSP + "required drop capabilities (MAO-007 on the pods)",
    "CKV_K8S_33": "the Kubernetes dashboard recognised by its image or app label: a choice of product, "
    "not a setting; its pods get the same rules as any other",
    "CKV_K8S_34": "Tiller (Helm v2, end of life since 2020) recognised by its image or labels: "
    "a choice of product, not a setting",
    "CKV_K8S_44": "the Tiller Service (Helm v2, end of life since 2020) recognised by its name and labels",
    "CKV_K8S_45": "the Tiller Deployment's --listen argument (Helm v2, end of life since 2020)",
    "CKV_K8S_159": "an env variable named GITSYNC_GIT (git-sync's command hook): one tool's injection "
    "vector; the container's other settings are checked as any other's",
    "CKV_K8S_68": _control_plane("kube-apiserver", "--anonymous-auth argument is set to false"),
    "CKV_K8S_69": _control_plane("kube-apiserver", "--basic-auth-file argument is not set"),
    "CKV_K8S_70": _control_plane("kube-apiserver", "--token-auth-file argument is not set"),
    "CKV_K8S_71": _control_plane("kube-apiserver", "--kubelet-https argument is set to true"),
    "CKV_K8S_72": _control_plane(
        "kube-apiserver",
        "--kubelet-client-certificate and --kubelet-client-key arguments are set as appropriate",
    ),
    "CKV_K8S_73": _control_plane(
        "kube-apiserver", "--kubelet-certificate-authority argument is set as appropriate"
    ),
    "CKV_K8S_74": _control_plane("kube-apiserver", "--authorization-mode argument is not set to AlwaysAllow"),
    "CKV_K8S_75": _control_plane("kube-apiserver", "--authorization-mode argument includes Node"),
    "CKV_K8S_77": _control_plane("kube-apiserver", "--authorization-mode argument includes RBAC"),
    "CKV_K8S_78": _control_plane("kube-apiserver", "admission control plugin EventRateLimit is set"),
    "CKV_K8S_79": _control_plane("kube-apiserver", "admission control plugin AlwaysAdmit is not set"),
    "CKV_K8S_80": _control_plane("kube-apiserver", "admission control plugin AlwaysPullImages is set"),
    "CKV_K8S_81": _control_plane(
        "kube-apiserver",
        "admission control plugin SecurityContextDeny is set if PodSecurityPolicy is not used",
    ),
    "CKV_K8S_82": _control_plane("kube-apiserver", "admission control plugin ServiceAccount is set"),
    "CKV_K8S_83": _control_plane("kube-apiserver", "admission control plugin NamespaceLifecycle is set"),
    "CKV_K8S_84": _control_plane("kube-apiserver", "admission control plugin PodSecurityPolicy is set"),
    "CKV_K8S_85": _control_plane("kube-apiserver", "admission control plugin NodeRestriction is set"),
    "CKV_K8S_86": _control_plane("kube-apiserver", "--insecure-bind-address argument is not set"),
    "CKV_K8S_88": _control_plane("kube-apiserver", "--insecure-port argument is set to 0"),
    "CKV_K8S_89": _control_plane("kube-apiserver", "--secure-port argument is not set to 0"),
    "CKV_K8S_90": _control_plane("kube-apiserver", "--profiling argument is set to false"),
    "CKV_K8S_91": _control_plane("kube-apiserver", "--audit-log-path argument is set"),
    "CKV_K8S_92": _control_plane(
        "kube-apiserver", "--audit-log-maxage argument is set to 30 or as appropriate"
    ),
    "CKV_K8S_93": _control_plane(
        "kube-apiserver", "--audit-log-maxbackup argument is set to 10 or as appropriate"
    ),
    "CKV_K8S_94": _control_plane(
        "kube-apiserver", "--audit-log-maxsize argument is set to 100 or as appropriate"
    ),
    "CKV_K8S_95": _control_plane("kube-apiserver", "--request-timeout argument is set as appropriate"),
    "CKV_K8S_96": _control_plane("kube-apiserver", "--service-account-lookup argument is set to true"),
    "CKV_K8S_97": _control_plane(
        "kube-apiserver", "--service-account-key-file argument is set as appropriate"
    ),
    "CKV_K8S_99": _control_plane(
        "kube-apiserver", "--etcd-certfile and --etcd-keyfile arguments are set as appropriate"
    ),
    "CKV_K8S_100": _control_plane(
        "kube-apiserver", "--tls-cert-file and --tls-private-key-file arguments are set as appropriate"
    ),
    "CKV_K8S_102": _control_plane("kube-apiserver", "--etcd-cafile argument is set as appropriate"),
    "CKV_K8S_104": _control_plane("kube-apiserver", "encryption providers are appropriately configured"),
    "CKV_K8S_105": _control_plane("kube-apiserver", "only use of Strong Cryptographic Ciphers"),
    "CKV_K8S_106": _control_plane(
        "kube-controller-manager", "--terminated-pod-gc-threshold argument is set as appropriate"
    ),
    "CKV_K8S_107": _control_plane("kube-controller-manager", "--profiling argument is set to false"),
    "CKV_K8S_108": _control_plane(
        "kube-controller-manager", "--use-service-account-credentials argument is set to true"
    ),
    "CKV_K8S_110": _control_plane(
        "kube-controller-manager", "--service-account-private-key-file argument is set as appropriate"
    ),
    "CKV_K8S_111": _control_plane("kube-controller-manager", "--root-ca-file argument is set as appropriate"),
    "CKV_K8S_112": _control_plane(
        "kube-controller-manager or kubelet", "RotateKubeletServerCertificate argument is set to true"
    ),
    "CKV_K8S_113": _control_plane("kube-controller-manager", "--bind-address argument is set to 127.0.0.1"),
    "CKV_K8S_114": _control_plane("kube-scheduler", "--profiling argument is set to false"),
    "CKV_K8S_115": _control_plane("kube-scheduler", "--bind-address argument is set to 127.0.0.1"),
    "CKV_K8S_116": _control_plane("etcd", "--cert-file and --key-file arguments are set as appropriate"),
    "CKV_K8S_117": _control_plane("etcd", "--client-cert-auth argument is set to true"),
    "CKV_K8S_118": _control_plane("etcd", "--auto-tls argument is not set to true"),
    "CKV_K8S_119": _control_plane(
        "etcd", "--peer-cert-file and --peer-key-file arguments are set as appropriate"
    ),
    "CKV_K8S_121": _control_plane("etcd", "--peer-client-cert-auth argument is set to true"),
    "CKV_K8S_138": _control_plane("kubelet", "--anonymous-auth argument is set to false"),
    "CKV_K8S_139": _control_plane("kubelet", "--authorization-mode argument is not set to AlwaysAllow"),
    "CKV_K8S_140": _control_plane("kubelet", "--client-ca-file argument is set as appropriate"),
    "CKV_K8S_141": _control_plane("kubelet", "--read-only-port argument is set to 0"),
    "CKV_K8S_143": _control_plane("kubelet", "--streaming-connection-idle-timeout argument is not set to 0"),
    "CKV_K8S_144": _control_plane("kubelet", "--protect-kernel-defaults argument is set to true"),
    "CKV_K8S_145": _control_plane("kubelet", "--make-iptables-util-chains argument is set to true"),
    "CKV_K8S_146": _control_plane("kubelet", "--hostname-override argument is not set"),
    "CKV_K8S_147": _control_plane(
        "kubelet", "--event-qps argument is set to 0 or a level which ensures appropriate event capture"
    ),
    "CKV_K8S_148": _control_plane(
        "kubelet", "--tls-cert-file and --tls-private-key-file arguments are set as appropriate"
    ),
    "CKV_K8S_149": _control_plane("kubelet", "--rotate-certificates argument is not set to false"),
    "CKV_K8S_151": _control_plane("kubelet", "only use of Strong Cryptographic Ciphers"),
    "CKV2_K8S_1": _BINDING % ("bind on (Cluster)RoleBindings", "MAO-041 and MAO-040"),
    "CKV2_K8S_2": _BINDING % ("create on pods/exec or nodes/proxy", "MAO-040 for wildcards"),
    "CKV2_K8S_3": _BINDING % ("impersonate on users, groups or ServiceAccounts", "MAO-041 and MAO-040"),
    "CKV2_K8S_4": _BINDING % ("update or patch on services/status (CVE-2020-8554)", "MAO-040 for wildcards"),
    "CKV2_K8S_5": _BINDING % ("get, list or watch on all Secrets", "MAO-040 for wildcards"),
    "CKV2_K8S_6": "graph check: a Pod with no NetworkPolicy in the same scan; NetworkPolicy coverage is "
    "analysed on the live cluster (MAO-150..199), where every policy of the namespace is known",
}

# checkov's own title of every check, as its wheel has it (for the docs table).
NAMES = {
    "CKV_K8S_1": "Do not admit containers wishing to share the host process ID namespace",
    "CKV_K8S_2": "Do not admit privileged containers",
    "CKV_K8S_3": "Do not admit containers wishing to share the host IPC namespace",
    "CKV_K8S_4": "Do not admit containers wishing to share the host network namespace",
    "CKV_K8S_5": "Containers should not run with allowPrivilegeEscalation",
    "CKV_K8S_6": "Do not admit root containers",
    "CKV_K8S_7": "Do not admit containers with the NET_RAW capability",
    "CKV_K8S_8": "Liveness Probe Should be Configured",
    "CKV_K8S_9": "Readiness Probe Should be Configured",
    "CKV_K8S_10": "CPU requests should be set",
    "CKV_K8S_11": "CPU limits should be set",
    "CKV_K8S_12": "Memory requests should be set",
    "CKV_K8S_13": "Memory limits should be set",
    "CKV_K8S_14": "Image Tag should be fixed - not latest or blank",
    "CKV_K8S_15": "Image Pull Policy should be Always",
    "CKV_K8S_16": "Container should not be privileged",
    "CKV_K8S_17": "Containers should not share the host process ID namespace",
    "CKV_K8S_18": "Containers should not share the host IPC namespace",
    "CKV_K8S_19": "Containers should not share the host network namespace",
    "CKV_K8S_20": "Containers should not run with allowPrivilegeEscalation",
    "CKV_K8S_21": "The default namespace should not be used",
    "CKV_K8S_22": "Use read-only filesystem for containers where possible",
    "CKV_K8S_23": "Minimize the admission of root containers",
    "CKV_K8S_24": "Do not allow containers with added capability",
    "CKV_K8S_25": "Minimize the admission of containers with added capability",
    "CKV_K8S_26": "Do not specify hostPort unless absolutely necessary",
    "CKV_K8S_27": "Do not expose the docker daemon socket to containers",
    "CKV_K8S_28": "Minimize the admission of containers with the NET_RAW capability",
    "CKV_K8S_29": "Apply security context to your pods and containers",
    "CKV_K8S_30": "Apply security context to your containers",
    "CKV_K8S_31": "Ensure that the seccomp profile is set to docker/default or runtime/default",
    "CKV_K8S_32": "Ensure default seccomp profile set to docker/default or runtime/default",
    "CKV_K8S_33": "Ensure the Kubernetes dashboard is not deployed",
    "CKV_K8S_34": "Ensure that Tiller (Helm v2) is not deployed",
    "CKV_K8S_35": "Prefer using secrets as files over secrets as environment variables",
    "CKV_K8S_36": "Minimize the admission of containers with capabilities assigned",
    "CKV_K8S_37": "Minimize the admission of containers with capabilities assigned",
    "CKV_K8S_38": "Ensure that Service Account Tokens are only mounted where necessary",
    "CKV_K8S_39": "Do not use the CAP_SYS_ADMIN linux capability",
    "CKV_K8S_40": "Containers should run as a high UID to avoid host conflict",
    "CKV_K8S_41": "Ensure that default service accounts are not actively used",
    "CKV_K8S_42": "Ensure that default service accounts are not actively used",
    "CKV_K8S_43": "Image should use digest",
    "CKV_K8S_44": "Ensure that the Tiller Service (Helm v2) is deleted",
    "CKV_K8S_45": "Ensure the Tiller Deployment (Helm V2) is not accessible from within the cluster",
    "CKV_K8S_49": "Minimize wildcard use in Roles and ClusterRoles",
    "CKV_K8S_68": "Ensure that the --anonymous-auth argument is set to false",
    "CKV_K8S_69": "Ensure that the --basic-auth-file argument is not set",
    "CKV_K8S_70": "Ensure that the --token-auth-file argument is not set",
    "CKV_K8S_71": "Ensure that the --kubelet-https argument is set to true",
    "CKV_K8S_72": (
        "Ensure that the --kubelet-client-certificate and --kubelet-client-key arguments are set as"
        " appropriate"
    ),
    "CKV_K8S_73": "Ensure that the --kubelet-certificate-authority argument is set as appropriate",
    "CKV_K8S_74": "Ensure that the --authorization-mode argument is not set to AlwaysAllow",
    "CKV_K8S_75": "Ensure that the --authorization-mode argument includes Node",
    "CKV_K8S_77": "Ensure that the --authorization-mode argument includes RBAC",
    "CKV_K8S_78": "Ensure that the admission control plugin EventRateLimit is set",
    "CKV_K8S_79": "Ensure that the admission control plugin AlwaysAdmit is not set",
    "CKV_K8S_80": "Ensure that the admission control plugin AlwaysPullImages is set",
    "CKV_K8S_81": (
        "Ensure that the admission control plugin SecurityContextDeny is set if PodSecurityPolicy is not used"
    ),
    "CKV_K8S_82": "Ensure that the admission control plugin ServiceAccount is set",
    "CKV_K8S_83": "Ensure that the admission control plugin NamespaceLifecycle is set",
    "CKV_K8S_84": "Ensure that the admission control plugin PodSecurityPolicy is set",
    "CKV_K8S_85": "Ensure that the admission control plugin NodeRestriction is set",
    "CKV_K8S_86": "Ensure that the --insecure-bind-address argument is not set",
    "CKV_K8S_88": "Ensure that the --insecure-port argument is set to 0",
    "CKV_K8S_89": "Ensure that the --secure-port argument is not set to 0",
    "CKV_K8S_90": "Ensure that the --profiling argument is set to false",
    "CKV_K8S_91": "Ensure that the --audit-log-path argument is set",
    "CKV_K8S_92": "Ensure that the --audit-log-maxage argument is set to 30 or as appropriate",
    "CKV_K8S_93": "Ensure that the --audit-log-maxbackup argument is set to 10 or as appropriate",
    "CKV_K8S_94": "Ensure that the --audit-log-maxsize argument is set to 100 or as appropriate",
    "CKV_K8S_95": "Ensure that the --request-timeout argument is set as appropriate",
    "CKV_K8S_96": "Ensure that the --service-account-lookup argument is set to true",
    "CKV_K8S_97": "Ensure that the --service-account-key-file argument is set as appropriate",
    "CKV_K8S_99": "Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate",
    "CKV_K8S_100": (
        "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate"
    ),
    "CKV_K8S_102": "Ensure that the --etcd-cafile argument is set as appropriate",
    "CKV_K8S_104": "Ensure that encryption providers are appropriately configured",
    "CKV_K8S_105": "Ensure that the API Server only makes use of Strong Cryptographic Ciphers",
    "CKV_K8S_106": "Ensure that the --terminated-pod-gc-threshold argument is set as appropriate",
    "CKV_K8S_107": "Ensure that the --profiling argument is set to false",
    "CKV_K8S_108": "Ensure that the --use-service-account-credentials argument is set to true",
    "CKV_K8S_110": "Ensure that the --service-account-private-key-file argument is set as appropriate",
    "CKV_K8S_111": "Ensure that the --root-ca-file argument is set as appropriate",
    "CKV_K8S_112": "Ensure that the RotateKubeletServerCertificate argument is set to true",
    "CKV_K8S_113": "Ensure that the --bind-address argument is set to 127.0.0.1",
    "CKV_K8S_114": "Ensure that the --profiling argument is set to false",
    "CKV_K8S_115": "Ensure that the --bind-address argument is set to 127.0.0.1",
    "CKV_K8S_116": "Ensure that the --cert-file and --key-file arguments are set as appropriate",
    "CKV_K8S_117": "Ensure that the --client-cert-auth argument is set to true",
    "CKV_K8S_118": "Ensure that the --auto-tls argument is not set to true",
    "CKV_K8S_119": "Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate",
    "CKV_K8S_121": "Ensure that the --peer-client-cert-auth argument is set to true",
    "CKV_K8S_138": "Ensure that the --anonymous-auth argument is set to false",
    "CKV_K8S_139": "Ensure that the --authorization-mode argument is not set to AlwaysAllow",
    "CKV_K8S_140": "Ensure that the --client-ca-file argument is set as appropriate",
    "CKV_K8S_141": "Ensure that the --read-only-port argument is set to 0",
    "CKV_K8S_143": "Ensure that the --streaming-connection-idle-timeout argument is not set to 0",
    "CKV_K8S_144": "Ensure that the --protect-kernel-defaults argument is set to true",
    "CKV_K8S_145": "Ensure that the --make-iptables-util-chains argument is set to true",
    "CKV_K8S_146": "Ensure that the --hostname-override argument is not set",
    "CKV_K8S_147": (
        "Ensure that the --event-qps argument is set to 0 or a level which ensures appropriate event capture"
    ),
    "CKV_K8S_148": (
        "Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate"
    ),
    "CKV_K8S_149": "Ensure that the --rotate-certificates argument is not set to false",
    "CKV_K8S_151": "Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers",
    "CKV_K8S_152": (
        "Prevent NGINX Ingress annotation snippets which contain LUA code execution. See CVE-2021-25742"
    ),
    "CKV_K8S_153": "Prevent All NGINX Ingress annotation snippets. See CVE-2021-25742",
    "CKV_K8S_154": (
        "Prevent NGINX Ingress annotation snippets which contain alias statements See CVE-2021-25742"
    ),
    "CKV_K8S_155": (
        "Minimize ClusterRoles that grant control over validating or mutating admission webhook "
        "configurations"
    ),
    "CKV_K8S_156": "Minimize ClusterRoles that grant permissions to approve CertificateSigningRequests",
    "CKV_K8S_157": (
        "Minimize Roles and ClusterRoles that grant permissions to bind RoleBindings or ClusterRoleBindings"
    ),
    "CKV_K8S_158": "Minimize Roles and ClusterRoles that grant permissions to escalate Roles or ClusterRoles",
    "CKV_K8S_159": "Limit the use of git-sync to prevent code injection",
    "CKV2_K8S_1": (
        "RoleBinding should not allow privilege escalation to a ServiceAccount or Node on other RoleBinding"
    ),
    "CKV2_K8S_2": (
        "Granting `create` permissions to `nodes/proxy` or `pods/exec` sub resources allows "
        "potential privilege escalation"
    ),
    "CKV2_K8S_3": (
        "No ServiceAccount/Node should have `impersonate` permissions for groups/users/service-accounts"
    ),
    "CKV2_K8S_4": (
        "ServiceAccounts and nodes that can modify services/status may set the "
        "`status.loadBalancer.ingress.ip` field to exploit the unfixed CVE-2020-8554 and launch "
        "MiTM attacks against the cluster."
    ),
    "CKV2_K8S_5": "No ServiceAccount/Node should be able to read all secrets",
    "CKV2_K8S_6": "Minimize the admission of pods which lack an associated NetworkPolicy",
}
