"""Server-side defaulting and (modest) validation on create and update.

Only what clients can observe and our runbooks rely on: names, selectors matching templates,
required containers, immutable selectors, the defaults that make a re-applied manifest a no-op
(imagePullPolicy, strategy, service ports...), Service cluster IPs and Secret ``stringData``.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import uuid
from typing import Any

from .errors import bad_request, invalid
from .resources import ResourceType
from .selection import labels_match, selector_from_label_selector
from .store import timestamp

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
# Safe alphabet of generated name suffixes (k8s.io/apimachinery/pkg/util/rand).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_WORKLOADS = ("deployments", "replicasets", "statefulsets", "daemonsets")


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


def _validate_name(rt: ResourceType, name: str) -> str | None:
    if rt.group == "rbac.authorization.k8s.io":
        ok = bool(name) and "/" not in name and "%" not in name and name not in (".", "..")
        return None if ok else f'may not contain "/" or "%": {name!r}'
    if rt.plural == "namespaces":
        ok, message, limit = bool(_LABEL.match(name)), _LABEL_MSG, 63
    elif rt.plural == "services":
        ok, message, limit = bool(_DNS1035.match(name)), _DNS1035_MSG, 63
    else:
        ok, message, limit = bool(_SUBDOMAIN.match(name)), _SUBDOMAIN_MSG, 253
    if len(name) > limit:
        return f"must be no more than {limit} characters"
    return None if ok else message


def _check_meta_strings(meta: dict[str, Any], field: str) -> None:
    values = meta.get(field)
    if values is None:
        return
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise bad_request(
            f"json: cannot unmarshal non-string into Go struct field ObjectMeta.metadata.{field} "
            "of type string"
        )


_ZERO_STATUS = {
    "deployments": {},
    "statefulsets": {"replicas": 0, "availableReplicas": 0},
    "replicasets": {"replicas": 0},
    "daemonsets": {
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    },
}


class Admission:
    """Defaults and validation; holds the allocators (cluster IPs, node ports)."""

    def __init__(self) -> None:
        self._service_net = ipaddress.ip_network("10.43.0.0/16")
        self._next_ip = 10
        self._next_node_port = 30000

    def prepare_create(self, rt: ResourceType, obj: dict[str, Any], namespace: str | None) -> None:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        name = meta.get("name") or ""
        if not name:
            raise invalid(
                rt.kind, rt.group, "", [("metadata.name", "Required value: name or generateName is required")]
            )
        if problem := _validate_name(rt, name):
            raise invalid(rt.kind, rt.group, name, [("metadata.name", f'Invalid value: "{name}": {problem}')])
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for server_set in ("resourceVersion", "generation", "deletionTimestamp", "managedFields"):
            meta.pop(server_set, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp()
        self._common(rt, obj)
        self._validate(rt, obj, None)
        match rt.plural:
            case "namespaces":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
            case "services":
                self._service_defaults(obj)
            case "pods":
                obj.setdefault("spec", {}).setdefault("serviceAccountName", "default")
                obj["spec"].setdefault("serviceAccount", obj["spec"]["serviceAccountName"])
                obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj["spec"])}
            case "persistentvolumeclaims":
                obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
                obj["status"] = {"phase": "Pending"}
            case "deployments" | "statefulsets" | "replicasets" | "daemonsets":
                # The status subresource ignores a client's status on create; the apiserver
                # answers with the zero status (the fields Go serialises without omitempty),
                # which clients such as kubernetes.core's waiter read before any controller ran.
                obj["status"] = dict(_ZERO_STATUS[rt.plural])

    def prepare_update(self, rt: ResourceType, old: dict[str, Any], obj: dict[str, Any]) -> None:
        """Carry server-owned fields over from the stored object, default and validate."""
        meta = obj.setdefault("metadata", {})
        old_meta = old["metadata"]
        for server_set in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if server_set in old_meta:
                meta[server_set] = old_meta[server_set]
            else:
                meta.pop(server_set, None)
        meta["name"] = old_meta["name"]
        if rt.namespaced:
            meta["namespace"] = old_meta["namespace"]
        meta.pop("resourceVersion", None)
        self._common(rt, obj)
        self._validate(rt, obj, old)
        match rt.plural:
            case "namespaces":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            case "services":
                spec = obj.setdefault("spec", {})
                for allocated in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    if allocated in old.get("spec", {}) and not spec.get(allocated):
                        spec[allocated] = old["spec"][allocated]
                self._service_defaults(obj)

    # Defaults shared by create and update

    def _common(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        _check_meta_strings(meta, "labels")
        _check_meta_strings(meta, "annotations")
        for empty in ("labels", "annotations"):
            if meta.get(empty) == {}:
                del meta[empty]
        if rt.plural in _WORKLOADS:
            obj.setdefault("spec", {})
        spec = obj.get("spec")
        match rt.plural:
            case "deployments":
                spec.setdefault("replicas", 1)
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
                strategy = spec.setdefault("strategy", {})
                strategy.setdefault("type", "RollingUpdate")
                if strategy["type"] == "RollingUpdate":
                    rolling = strategy.setdefault("rollingUpdate", {})
                    rolling.setdefault("maxSurge", "25%")
                    rolling.setdefault("maxUnavailable", "25%")
                pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
            case "replicasets":
                spec.setdefault("replicas", 1)
                pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
            case "statefulsets":
                spec.setdefault("replicas", 1)
                spec.setdefault("podManagementPolicy", "OrderedReady")
                spec.setdefault("revisionHistoryLimit", 10)
                strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
                if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                    strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
                spec.setdefault(
                    "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
                )
                pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
            case "daemonsets":
                pod_spec_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
            case "jobs" | "cronjobs" if spec:
                job = (spec.get("jobTemplate") or {}).get("spec") if rt.plural == "cronjobs" else spec
                if isinstance(job, dict):
                    pod_spec_defaults(job.setdefault("template", {}).setdefault("spec", {}))
            case "pods" if spec is not None:
                pod_spec_defaults(spec)
            case "secrets":
                string_data = obj.pop("stringData", None) or {}
                data = obj.setdefault("data", {})
                for key, value in string_data.items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
                if not data:
                    del obj["data"]
                obj.setdefault("type", "Opaque")

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = obj["metadata"]["name"]
        spec = obj.get("spec") or {}
        causes: list[tuple[str, str]] = []
        if rt.plural in _WORKLOADS:
            selector = spec.get("selector")
            template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
            if not selector:
                causes.append(("spec.selector", "Required value"))
            elif not labels_match(selector_from_label_selector(selector), template_labels):
                causes.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {_go_map(template_labels)}: `selector` does not match "
                        "template `labels`",
                    )
                )
            if old is not None and selector != (old.get("spec") or {}).get("selector"):
                causes.append(
                    ("spec.selector", f"Invalid value: {_go_selector(selector)}: field is immutable")
                )
            pod_spec = (spec.get("template") or {}).get("spec") or {}
            causes += _container_causes(pod_spec, "spec.template.spec")
            if (replicas := spec.get("replicas")) is not None and (
                not isinstance(replicas, int) or replicas < 0
            ):
                causes.append(
                    ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
                )
        elif rt.plural == "pods":
            causes += _container_causes(spec, "spec")
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)

    def _service_defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP"):
                spec["clusterIP"] = self._allocate_ip()
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            if spec["clusterIP"] != "None":
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                port["nodePort"] = self._next_node_port
                self._next_node_port += 1
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj.setdefault("status", {"loadBalancer": {}})

    def _allocate_ip(self) -> str:
        address = self._service_net.network_address + self._next_ip
        self._next_ip += 1
        return str(address)


def _container_causes(pod_spec: dict[str, Any], path: str) -> list[tuple[str, str]]:
    containers = pod_spec.get("containers")
    if not containers:
        return [(f"{path}.containers", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        if not container.get("name"):
            causes.append((f"{path}.containers[{index}].name", "Required value"))
        if not container.get("image"):
            causes.append((f"{path}.containers[{index}].image", "Required value"))
    return causes


def _go_map(labels: dict[str, str] | None) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted((labels or {}).items()))
    return f"map[string]string{{{inner}}}"


def _go_selector(selector: Any) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    return f"v1.LabelSelector{{MatchLabels:{_go_map(labels)}}}"


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            image = container.get("image") or ""
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                port.setdefault("protocol", "TCP")


def qos_class(spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (limits := r.get("limits") or {}).get("cpu")
        and limits.get("memory")
        and all((r.get("requests") or {}).get(k, limits[k]) == limits[k] for k in ("cpu", "memory"))
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"
