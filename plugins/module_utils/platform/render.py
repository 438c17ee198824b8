# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a platform description (inventory data) into Kubernetes manifests.

The deploy role describes a platform once -- its components with images, replicas,
autoscaling ranges, services and health paths, plus platform-wide defaults -- and this
module turns that into plain manifest dicts: Namespace (Pod Security Standard labels),
ServiceAccount, ConfigMaps, Deployments/StatefulSets with probes, resources, a restricted
securityContext, anti-affinity and topology spread, Services (headless ones for
StatefulSets, ExternalName or selector-less ones for external endpoints), HPAs
(``autoscaling/v2`` with behaviour policies), PodDisruptionBudgets (``policy/v1``) and an
Ingress or an OpenShift Route.

Secrets are not rendered here: their values travel separately (``no_log``) to the apply
module, which also stamps the configuration checksum on the pod templates.

Pure functions over dicts; every problem names the component and the field.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.records import (
    APPLY_IF_SERVED,
    APPLY_UNLESS_SERVED,
)
from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
COMPONENT_KINDS = WORKLOAD_KINDS + ("external", "none")
PSS_LEVELS = ("privileged", "baseline", "restricted")
INGRESS_KINDS = ("ingress", "route", "auto")
ROUTE_API = "route.openshift.io/v1"
# Read by multiagent.ops.k8s_apply: apply only where the group/version is (not) served.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MANAGED_BY = "multiagent.ops"

DEFAULTS = {
    "port": 8080,
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "run_as_user": 1001,
    "read_only_root_filesystem": True,
    "anti_affinity": "preferred",
    "topology_spread": True,
    "revision_history_limit": 10,
    "progress_deadline_seconds": 600,
    "max_surge": "25%",
    "max_unavailable": 0,
    "termination_grace_period_seconds": 30,
    "image_pull_policy": "IfNotPresent",
    "pdb": {"max_unavailable": 1},
    "probe": {
        "period_seconds": 10,
        "timeout_seconds": 3,
        "failure_threshold": 3,
        "liveness_delay_seconds": 15,
    },
}

# The seeds' HPA behaviour (MPLP scaling guide, LangGraph operations guide): scale up fast
# (double, or four pods, every 15 s), scale down slowly (10 % a minute after 5 minutes).
HPA_BEHAVIOR = {
    "scaleUp": {
        "stabilizationWindowSeconds": 60,
        "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15},
            {"type": "Pods", "value": 4, "periodSeconds": 15},
        ],
        "selectPolicy": "Max",
    },
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
        "selectPolicy": "Min",
    },
}


# What the official images (postgres, redis) need to start, by component role: a database or
# cache gets these unless its own fields say otherwise. Both images run as uid/gid 999 and
# keep their data under ``mount_path``; PostgreSQL wants its data directory one level below
# the mount (a fresh volume has lost+found in it) and writes its socket to
# /var/run/postgresql, which a read-only root needs as an emptyDir.
DATA_ROLE_DEFAULTS = {
    "database": {
        "port": 5432,
        "port_name": "postgresql",
        "mount_path": "/var/lib/postgresql/data",
        "writable_paths": ["/var/run/postgresql"],
        "credential_keys": ["POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"],
    },
    "cache": {
        "port": 6379,
        "port_name": "redis",
        "mount_path": "/data",
        "writable_paths": [],
        "credential_keys": ["REDIS_PASSWORD"],
    },
}
DATA_UID = 999
DATA_LIVENESS_DELAY_SECONDS = 30
# The HA profile of the deployment guide (ha-values.yaml): a budget of minAvailable 2 and
# required anti-affinity, for the components that run at least this many replicas (fewer
# would leave a node drain nothing to evict).
AVAILABILITY_PROFILES = ("standard", "ha")
HA_MIN_REPLICAS = 3
HA_MIN_AVAILABLE = 2


class RenderError(ValueError):
    """A platform description that cannot be rendered; the message names what is wrong."""


# --------------------------------------------------------------------------- checks


def _int(value, what, problems, minimum=0):
    if isinstance(value, bool) or value is None:
        problems.append("%s must be an integer, got %r" % (what, value))
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        problems.append("%s must be an integer, got %r" % (what, value))
        return None
    if str(number) != str(value).strip() and not isinstance(value, int):
        problems.append("%s must be an integer, got %r" % (what, value))
        return None
    if number < minimum:
        problems.append("%s must be at least %d, got %d" % (what, minimum, number))
        return None
    return number


def _component_kind(comp):
    """The kind as the platform description decides it (a database or cache without a kind is
    a StatefulSet); a description whose role or kind is wrong keeps what it says, and the
    checks name the problem."""
    try:
        return platform_spec.component_kind(comp)
    except platform_spec.SpecError:
        return comp.get("kind") or "Deployment"


def _role(comp):
    role = comp.get("role", "app")
    return role if role in platform_spec.ROLES else "app"


def _data_defaults(comp):
    """The role's start-up defaults of a database or cache, None for an app."""
    return DATA_ROLE_DEFAULTS.get(_role(comp))


def _storage(comp):
    """The component's ``storage`` with the role's ``mount_path`` filled in, or None."""
    storage = comp.get("storage")
    if not isinstance(storage, dict):
        return None
    role = _data_defaults(comp)
    if role and not storage.get("mount_path"):
        storage = dict(storage, mount_path=role["mount_path"])
    return storage


def _low_replicas(comp):
    """The fewest replicas the component runs: the autoscaler's floor, else its replicas."""
    try:
        return int((comp.get("autoscaling") or {}).get("min") or comp.get("replicas", 1))
    except (TypeError, ValueError, AttributeError):
        return None


def _port(value, what, problems):
    number = _int(value, what, problems, minimum=1)
    if number is not None and number > 65535:
        problems.append("%s must be a port number (1-65535), got %d" % (what, number))
        return None
    return number


def _check_component(comp, index, problems, defaults):
    if not isinstance(comp, dict):
        problems.append("platform component #%d must be a dict, got %r" % (index, comp))
        return None
    name = comp.get("name")
    if not name or not isinstance(name, str):
        problems.append("platform component #%d has no name" % index)
        return None
    where = "component '%s'" % name
    try:
        platform_spec.component_role(comp, index)
    except platform_spec.SpecError as exc:
        problems.append(str(exc))
    kind = _component_kind(comp)
    if kind not in COMPONENT_KINDS:
        problems.append("%s: kind '%s' is not one of %s" % (where, kind, ", ".join(COMPONENT_KINDS)))
        return name
    workload = comp.get("workload") or name
    if not isinstance(workload, str) or not DNS_LABEL.match(workload) or len(workload) > 63:
        problems.append("%s: workload name %r is not a valid DNS label" % (where, workload))
    svc = comp.get("service")
    if svc is not None:
        if not isinstance(svc, dict) or not svc.get("name"):
            problems.append("%s: service must be a dict with a name" % where)
        else:
            if not DNS_LABEL.match(str(svc["name"])):
                problems.append("%s: service name %r is not a valid DNS label" % (where, svc["name"]))
            if "port" in svc:
                _port(svc["port"], "%s: service.port" % where, problems)
    if kind == "external":
        ext = comp.get("external")
        if not isinstance(ext, dict) or not ext.get("host"):
            problems.append("%s: an external component needs external.host (a DNS name or an IP)" % where)
        if not svc or not isinstance(svc, dict) or not svc.get("name"):
            problems.append(
                "%s: an external component needs service.name, the name in-cluster clients use" % where
            )
        return name
    if kind == "none":
        return name
    if not comp.get("image") or not isinstance(comp.get("image"), str):
        problems.append("%s: image is required" % where)
    replicas = _int(comp.get("replicas", 1), "%s: replicas" % where, problems)
    auto = comp.get("autoscaling")
    if auto is not None:
        if kind != "Deployment":
            problems.append("%s: autoscaling is only rendered for Deployments, not %s" % (where, kind))
        if not isinstance(auto, dict):
            problems.append("%s: autoscaling must be a dict with min and max" % where)
        else:
            low = _int(auto.get("min"), "%s: autoscaling.min" % where, problems, minimum=1)
            high = _int(auto.get("max"), "%s: autoscaling.max" % where, problems, minimum=1)
            if low is not None and high is not None:
                if low > high:
                    problems.append("%s: autoscaling.min %d is above autoscaling.max %d" % (where, low, high))
                elif replicas is not None and not low <= replicas <= high:
                    problems.append(
                        "%s: replicas %d is outside its autoscaling range %d-%d"
                        % (where, replicas, low, high)
                    )
            for metric in ("cpu", "memory"):
                if auto.get(metric) is not None:
                    _int(auto[metric], "%s: autoscaling.%s" % (where, metric), problems, minimum=1)
    if comp.get("port") is not None:
        _port(comp["port"], "%s: port" % where, problems)
    pdb = comp.get("pdb")
    if pdb not in (None, False) and (
        not isinstance(pdb, dict) or ("min_available" in pdb) == ("max_unavailable" in pdb)
    ):
        problems.append("%s: pdb must be false or a dict with one of min_available, max_unavailable" % where)
    storage = comp.get("storage")
    if storage is not None:
        if kind != "StatefulSet":
            problems.append("%s: storage (a volume claim template) needs kind StatefulSet" % where)
        elif not isinstance(storage, dict) or not storage.get("size") or not _storage(comp).get("mount_path"):
            problems.append(
                "%s: storage needs size and mount_path (a database or cache has a default mount_path)" % where
            )
    credentials = comp.get("credentials_secret")
    if credentials not in (None, ""):
        if not isinstance(credentials, str) or not DNS_LABEL.match(credentials.replace(".", "-")):
            problems.append("%s: credentials_secret %r is not a Secret name" % (where, credentials))
        elif not _data_defaults(comp):
            problems.append(
                "%s: credentials_secret is read by a component with role database or cache, not app" % where
            )
    budget = _pdb_settings(comp, defaults)
    low = _low_replicas(comp)
    if budget and isinstance(budget.get("min_available"), int) and low is not None:
        if budget["min_available"] >= low:
            problems.append(
                "%s: its PodDisruptionBudget's minAvailable %d is not below its %d replica(s): it would "
                "block every node drain; lower it, or give the component more replicas"
                % (where, budget["min_available"], low)
            )
    for field in ("secrets", "ingress_paths"):
        value = comp.get(field)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            problems.append("%s: %s must be a list of strings" % (where, field))
    return name


def with_overrides(spec):
    """The description with ``overrides`` (component name -> fields, deep-merged as the filter
    multiagent.ops.platform_components merges them) and then ``tags`` (component name -> image
    tag, what an upgrade sets) merged into its components: one region's replicas, the demo's
    environment, a new version, without repeating the list."""
    overrides = spec.get("overrides") or {}
    tags = spec.get("tags") or {}
    components = spec.get("components")
    if (not overrides and not tags) or not isinstance(components, list):
        return spec
    merged = dict(spec)
    result = []
    for comp in components:
        if isinstance(comp, dict) and isinstance(overrides.get(comp.get("name")), dict):
            comp = platform_spec.merge_fields(comp, overrides[comp["name"]])
        if isinstance(comp, dict) and comp.get("name") in tags:
            comp = dict(comp, tag=str(tags[comp["name"]]))
        result.append(comp)
    merged["components"] = result
    return merged


def check_secrets(secrets):
    """Problems of the Secrets to create (``[{name, data, ...}]``): a name, a dict of data,
    no empty value (a vault variable that did not load). Messages name the Secret and the
    key, never a value."""
    problems = []
    if secrets is None:
        return problems
    if not isinstance(secrets, list):
        return ["secrets must be a list of {name, data}"]
    seen = set()
    for index, secret in enumerate(secrets):
        name = secret.get("name") if isinstance(secret, dict) else None
        if not name or not isinstance(name, str) or not DNS_LABEL.match(name.replace(".", "-")):
            problems.append("secret #%d has no valid name" % index)
            continue
        if name in seen:
            problems.append("secret '%s' is given twice" % name)
        seen.add(name)
        data = secret.get("data")
        if not isinstance(data, dict) or not data:
            problems.append("secret '%s' needs data, a dict of keys and values" % name)
            continue
        empty = sorted(str(k) for k, v in data.items() if v is None or str(v) == "")
        if empty:
            problems.append(
                "secret '%s': %s empty (an unset vault variable?)"
                % (name, ", ".join("key '%s' is" % k for k in empty))
            )
    return problems


def check_spec(spec, only=None, secrets=None):
    """Every problem of a platform description, as messages naming component and field.

    ``only`` is the list of component names a run is limited to; unknown names are
    problems too, as are overrides of unknown components. ``secrets`` are the Secrets the
    run creates (see check_secrets).
    """
    problems = check_secrets(secrets)
    if not isinstance(spec, dict):
        return problems + ["the platform description must be a dict, got %r" % (spec,)]
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        return problems + ["overrides must map component names to dicts of fields, got %r" % (overrides,)]
    tags = spec.get("tags") or {}
    if not isinstance(tags, dict) or not all(
        isinstance(v, (str, int, float)) and re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", str(v))
        for v in tags.values()
    ):
        return problems + ["tags must map component names to image tags, got %r" % (tags,)]
    spec = with_overrides(spec)
    availability = spec.get("availability") or "standard"
    if availability not in AVAILABILITY_PROFILES:
        problems.append("availability %r is not one of %s" % (availability, ", ".join(AVAILABILITY_PROFILES)))
    defaults = _defaults(spec)
    for field in ("name", "namespace"):
        value = spec.get(field)
        if not value or not isinstance(value, str) or not DNS_LABEL.match(value):
            problems.append("platform %s %r is not a valid DNS label" % (field, value))
    components = spec.get("components")
    if not isinstance(components, list) or not components:
        problems.append("the platform has no components")
        return problems
    names = []
    for index, comp in enumerate(components):
        name = _check_component(comp, index, problems, defaults)
        if name is not None:
            if name in names:
                problems.append("component '%s' is described twice" % name)
            names.append(name)
    workloads = {}
    for comp in components:
        if isinstance(comp, dict) and comp.get("name") and _component_kind(comp) in WORKLOAD_KINDS:
            workload = comp.get("workload") or comp["name"]
            if workload in workloads:
                problems.append(
                    "components '%s' and '%s' both use the workload name %s"
                    % (workloads[workload], comp["name"], workload)
                )
            workloads[workload] = comp["name"]
    for problem in platform_spec.role_problems(components, spec.get("database"), spec.get("cache")):
        if problem not in problems:  # a wrong role is named once
            problems.append(problem)
    for field, given in (("overrides", overrides), ("tags", tags)):
        for name in given:
            if name not in names:
                problems.append(
                    "%s name unknown component '%s'; the platform has: %s" % (field, name, ", ".join(names))
                )
    for wanted in only or []:
        if wanted not in names:
            problems.append(
                "unknown component '%s'; the platform has: %s" % (wanted, ", ".join(names) or "none")
            )
    level = spec.get("pod_security", "restricted")
    if level not in PSS_LEVELS:
        problems.append("pod_security %r is not one of %s" % (level, ", ".join(PSS_LEVELS)))
    ingress = spec.get("ingress") or {}
    if ingress.get("enabled"):
        if not ingress.get("host"):
            problems.append("ingress.host is required when the ingress is enabled")
        if ingress.get("kind", "ingress") not in INGRESS_KINDS:
            problems.append(
                "ingress.kind %r is not one of %s" % (ingress.get("kind"), ", ".join(INGRESS_KINDS))
            )
        known = {c.get("name") for c in components if isinstance(c, dict)}
        for entry in ingress.get("paths") or []:
            if not isinstance(entry, dict) or not entry.get("path") or entry.get("component") not in known:
                problems.append("ingress.paths entry %r needs a path and a known component" % (entry,))
    return problems


# ---------------------------------------------------------------------------- render


def selector_labels(spec, comp):
    """The labels a component's pods are selected by. They are immutable on a
    Deployment/StatefulSet, so they never include anything that changes (no version)."""
    return {
        "app.kubernetes.io/name": spec["name"],
        "app.kubernetes.io/component": comp["name"],
        "app.kubernetes.io/part-of": spec["name"],
    }


def _labels(spec, comp=None):
    labels = dict(spec.get("labels") or {})
    labels["app.kubernetes.io/part-of"] = spec["name"]
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    if comp is not None:
        labels.update(selector_labels(spec, comp))
        version = _image_tag(spec, comp)
        if version:
            labels["app.kubernetes.io/version"] = _label_value(version)
    return labels


def _label_value(text):
    value = re.sub(r"[^A-Za-z0-9._-]", "-", str(text))[:63]
    return value.strip("-_.") or "unknown"


def _meta(spec, name, comp=None, namespaced=True):
    meta = {"name": name, "labels": _labels(spec, comp)}
    if namespaced:
        meta["namespace"] = spec["namespace"]
    return meta


def _defaults(spec):
    merged = copy.deepcopy(DEFAULTS)
    given = spec.get("defaults") or {}
    for key, value in given.items() if isinstance(given, dict) else ():
        if value is not None:
            merged[key] = copy.deepcopy(value)
    merged["availability"] = spec.get("availability") or "standard"
    return merged


def _split_image(image):
    """``repo[:tag][@digest]`` -> (repo, tag or None, digest or None); a registry port
    (``host:5000/repo``) is not a tag."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :], digest
    return image, None, digest


def _image_tag(spec, comp):
    if not comp.get("image"):
        return None
    tag, digest = _split_image(comp["image"])[1:]
    return comp.get("tag") or tag or (None if digest else spec.get("version")) or "latest"


def image_ref(spec, comp):
    """The full image reference of a component: its own tag, else the one in ``image``,
    else the platform version; an optional registry prefix."""
    repo, tag, digest = _split_image(comp["image"])
    registry = (spec.get("image_registry") or "").rstrip("/")
    if registry and "/" not in repo.split(":")[0].split("/")[0] and not _has_registry(repo):
        repo = "%s/%s" % (registry, repo)
    if digest and not comp.get("tag"):
        return "%s@%s" % (repo, digest)
    return "%s:%s" % (repo, comp.get("tag") or tag or spec.get("version") or "latest")


def _has_registry(repo):
    first = repo.split("/", 1)[0]
    return "/" in repo and ("." in first or ":" in first or first == "localhost")


def _container_port(comp, defaults):
    if comp.get("port") is not None:
        return int(comp["port"])
    svc = comp.get("service") or {}
    if svc.get("target_port") is not None:
        return int(svc["target_port"])
    if svc.get("port") is not None:
        return int(svc["port"])
    role = _data_defaults(comp)
    return int(role["port"] if role else defaults["port"])


def _port_name(comp):
    """The container port's name: ``http`` for an app; a database or cache speaks its own
    protocol (a mesh reading ``http`` would sniff it as HTTP)."""
    role = _data_defaults(comp)
    return role["port_name"] if role else "http"


def _data_probe(comp, port):
    """The exec probe of a database (``pg_isready`` over TCP, so that the entrypoint's
    socket-only init server does not count as ready) or a cache (``redis-cli ping``, which
    reads its password from ``REDISCLI_AUTH``, never from ``-a``)."""
    if _role(comp) == "database":
        command = (
            'pg_isready -h 127.0.0.1 -p %d -U "${POSTGRES_USER:-postgres}" '
            '-d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"' % port
        )
    else:
        command = "redis-cli -h 127.0.0.1 -p %d ping | grep -q PONG" % port
    return {"exec": {"command": ["sh", "-c", command]}}


def _probe(comp, which, port, defaults):
    probes = comp.get("probes") or {}
    given = probes.get(which)
    if given is False:
        return None
    settings = defaults["probe"]
    probe = {
        "periodSeconds": settings["period_seconds"],
        "timeoutSeconds": settings["timeout_seconds"],
        "failureThreshold": settings["failure_threshold"],
    }
    if which == "liveness":
        probe["initialDelaySeconds"] = settings["liveness_delay_seconds"]
    if isinstance(given, dict) and any(k in given for k in ("httpGet", "tcpSocket", "exec", "grpc")):
        probe.update(copy.deepcopy(given))  # a raw Kubernetes probe
        return probe
    if given is None and _data_defaults(comp):
        if which == "liveness":
            delay = max(settings["liveness_delay_seconds"], DATA_LIVENESS_DELAY_SECONDS)
            probe["initialDelaySeconds"] = delay
        probe.update(_data_probe(comp, port))
        return probe
    path = given.get("path") if isinstance(given, dict) else given if isinstance(given, str) else None
    if path is None:
        paths = comp.get("health_paths") or []
        path = paths[0] if paths else None
    if path:
        probe["httpGet"] = {"path": path if path.startswith("/") else "/" + path, "port": _port_name(comp)}
    else:
        probe["tcpSocket"] = {"port": _port_name(comp)}
    return probe


def _env(comp, spec=None):
    env = comp.get("env")
    if not env:
        env = []
    elif isinstance(env, dict):
        env = [{"name": str(k), "value": str(v)} for k, v in sorted(env.items())]
    else:
        env = copy.deepcopy(list(env))
    given = {var.get("name") for var in env if isinstance(var, dict)}
    return env + [var for var in _data_env(comp, spec) if var["name"] not in given]


def _secret_env(name, secret, key):
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


# The database's user and database name are not secrets: when ``platform_database`` gives
# them they are plain values (a Secret's values are masked in every output, and a user named
# like the platform would hide the platform's name everywhere); the password always comes
# from the Secret.
PLAIN_DATABASE_KEYS = {"POSTGRES_USER": "user", "POSTGRES_DB": "dbname"}


def _data_env(comp, spec=None):
    """The environment the role gives a database or cache (a variable the component sets
    itself wins): the credentials from ``credentials_secret`` (the user and database name as
    values when ``platform_database`` names this component and gives them), PGDATA one level
    below the volume."""
    role = _role(comp)
    defaults = _data_defaults(comp)
    if not defaults:
        return []
    secret = comp.get("credentials_secret")
    env = []
    if role == "database":
        database = (spec or {}).get("database") or {}
        plain = database if database.get("name") == comp["name"] else {}
        for key in defaults["credential_keys"]:
            field = PLAIN_DATABASE_KEYS.get(key)
            if field and plain.get(field):
                env.append({"name": key, "value": str(plain[field])})
            elif secret:
                env.append(_secret_env(key, secret, key))
        mount = (_storage(comp) or {}).get("mount_path") or defaults["mount_path"]
        env.append({"name": "PGDATA", "value": mount.rstrip("/") + "/pgdata"})
    elif secret:
        # redis-server reads it through args (Kubernetes expands $(REDIS_PASSWORD)), redis-cli
        # (the probes, an operator's exec) through REDISCLI_AUTH: never on a command line.
        env += [
            _secret_env("REDIS_PASSWORD", secret, "REDIS_PASSWORD"),
            _secret_env("REDISCLI_AUTH", secret, "REDIS_PASSWORD"),
        ]
    return env


def _data_args(comp):
    """redis-server's arguments: its data directory, and with a credentials Secret
    ``--requirepass`` from the environment (the manifest holds no password)."""
    if _role(comp) != "cache":
        return None
    mount = (_storage(comp) or {}).get("mount_path") or DATA_ROLE_DEFAULTS["cache"]["mount_path"]
    args = ["--dir", mount]
    if comp.get("credentials_secret"):
        args += ["--requirepass", "$(REDIS_PASSWORD)"]
    return args


def config_map_name(spec, comp=None):
    return "%s-config" % (comp.get("workload") or comp["name"] if comp else spec["name"])


def _uses_shared_config(spec, comp):
    default = _component_kind(comp) == "Deployment"
    return bool(spec.get("config")) and comp.get("shared_config", default)


def _env_from(spec, comp):
    sources = []
    if _uses_shared_config(spec, comp):
        sources.append({"configMapRef": {"name": config_map_name(spec)}})
    if comp.get("config"):
        sources.append({"configMapRef": {"name": config_map_name(spec, comp)}})
    for secret in comp.get("secrets") or []:
        sources.append({"secretRef": {"name": secret}})
    return sources


def _security(spec, comp, defaults):
    data_role = _data_defaults(comp)
    pod = {
        "runAsNonRoot": True,
        "runAsUser": int(comp.get("run_as_user", DATA_UID if data_role else defaults["run_as_user"])),
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if data_role:
        # the official images' postgres/redis user and group: the volume is theirs
        pod["runAsGroup"] = int(comp.get("fs_group", DATA_UID))
        pod["fsGroup"] = int(comp.get("fs_group", DATA_UID))
    elif comp.get("storage") or comp.get("fs_group") is not None:
        pod["fsGroup"] = int(comp.get("fs_group", pod["runAsUser"]))
    pod.update(copy.deepcopy(comp.get("security_context") or {}))
    container = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": bool(
            comp.get("read_only_root_filesystem", defaults["read_only_root_filesystem"])
        ),
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    container.update(copy.deepcopy(comp.get("container_security_context") or {}))
    return pod, container


def _affinity(spec, comp, defaults):
    mode = comp.get("anti_affinity")
    if mode is None:
        ha = defaults.get("availability") == "ha" and (_low_replicas(comp) or 1) >= HA_MIN_REPLICAS
        mode = "required" if ha else defaults["anti_affinity"]
    if mode in (None, False, "none"):
        return None
    term = {
        "labelSelector": {"matchLabels": selector_labels(spec, comp)},
        "topologyKey": "kubernetes.io/hostname",
    }
    if mode == "required":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }


def _pod_template(spec, comp, defaults):
    port = _container_port(comp, defaults)
    pod_security, container_security = _security(spec, comp, defaults)
    container = {
        "name": comp["name"],
        "image": image_ref(spec, comp),
        "imagePullPolicy": comp.get("image_pull_policy", defaults["image_pull_policy"]),
        "ports": [{"name": _port_name(comp), "containerPort": port, "protocol": "TCP"}],
        "resources": copy.deepcopy(comp.get("resources") or defaults["resources"]),
        "securityContext": container_security,
    }
    for field in ("command", "args"):
        if comp.get(field):
            container[field] = [str(v) for v in comp[field]]
    if "args" not in container and "command" not in container and _data_args(comp):
        container["args"] = _data_args(comp)
    env = _env(comp, spec)
    if env:
        container["env"] = env
    env_from = _env_from(spec, comp)
    if env_from:
        container["envFrom"] = env_from
    for which, key in (("readiness", "readinessProbe"), ("liveness", "livenessProbe")):
        probe = _probe(comp, which, port, defaults)
        if probe:
            container[key] = probe
    mounts, volumes = [], []
    data_role = _data_defaults(comp)
    if container_security.get("readOnlyRootFilesystem"):
        # A read-only root still needs somewhere to write temporary files (and PostgreSQL its
        # socket directory).
        writable = list(comp.get("writable_paths") or [])
        if data_role:
            writable += [p for p in data_role["writable_paths"] if p not in writable]
        for index, path in enumerate(["/tmp"] + writable):
            volume = "tmp" if index == 0 else "writable-%d" % index
            mounts.append({"name": volume, "mountPath": path})
            volumes.append({"name": volume, "emptyDir": {}})
    storage = _storage(comp)
    if storage:
        mounts.append({"name": "data", "mountPath": storage["mount_path"]})
    elif data_role:
        # No volume claim: the data lives as long as the pod (a test platform); the image
        # still needs its data directory writable.
        mounts.append({"name": "data", "mountPath": data_role["mount_path"]})
        volumes.append({"name": "data", "emptyDir": {}})
    if mounts:
        container["volumeMounts"] = mounts
    pod = {
        "serviceAccountName": spec.get("service_account_name") or spec["name"],
        "automountServiceAccountToken": bool(comp.get("automount_service_account_token", False)),
        "securityContext": pod_security,
        "terminationGracePeriodSeconds": int(
            comp.get("termination_grace_period_seconds", defaults["termination_grace_period_seconds"])
        ),
        "containers": [container],
    }
    if volumes:
        pod["volumes"] = volumes
    pull_secrets = spec.get("image_pull_secrets") or []
    if pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    affinity = _affinity(spec, comp, defaults)
    if affinity:
        pod["affinity"] = affinity
    if comp.get("topology_spread", defaults["topology_spread"]):
        pod["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(spec, comp)},
            }
        ]
    for field, key in (("node_selector", "nodeSelector"), ("tolerations", "tolerations")):
        if comp.get(field):
            pod[key] = copy.deepcopy(comp[field])
    template_meta = {"labels": dict(_labels(spec, comp))}
    if comp.get("pod_annotations"):
        template_meta["annotations"] = {str(k): str(v) for k, v in comp["pod_annotations"].items()}
    return {"metadata": template_meta, "spec": pod}


def _workload(spec, comp, defaults):
    kind = _component_kind(comp)
    name = comp.get("workload") or comp["name"]
    body = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": _meta(spec, name, comp),
        "spec": {
            "selector": {"matchLabels": selector_labels(spec, comp)},
            "revisionHistoryLimit": int(
                comp.get("revision_history_limit", defaults["revision_history_limit"])
            ),
            "template": _pod_template(spec, comp, defaults),
        },
    }
    if comp.get("change_cause"):
        body["metadata"]["annotations"] = {"kubernetes.io/change-cause": str(comp["change_cause"])}
    if not comp.get("autoscaling"):
        # An HPA owns the replicas of the components it scales: rendering them would reset
        # the scale on every deploy.
        body["spec"]["replicas"] = int(comp.get("replicas", 1))
    if kind == "Deployment":
        body["spec"]["progressDeadlineSeconds"] = int(
            comp.get("progress_deadline_seconds", defaults["progress_deadline_seconds"])
        )
        body["spec"]["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": comp.get("max_surge", defaults["max_surge"]),
                "maxUnavailable": comp.get("max_unavailable", defaults["max_unavailable"]),
            },
        }
    else:
        body["spec"]["serviceName"] = _headless_name(comp)
        body["spec"]["podManagementPolicy"] = "OrderedReady"
        body["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
        storage = _storage(comp)
        if storage:
            claim = {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": str(storage["size"])}},
                },
            }
            if storage.get("storage_class"):
                claim["spec"]["storageClassName"] = storage["storage_class"]
            body["spec"]["volumeClaimTemplates"] = [claim]
    return body


def _service_port(comp, defaults):
    svc = comp.get("service") or {}
    return int(svc.get("port") or _container_port(comp, defaults))


def _headless_name(comp):
    svc = comp.get("service") or {}
    return "%s-headless" % (svc.get("name") or comp.get("workload") or comp["name"])


def _services(spec, comp, defaults):
    svc = comp.get("service")
    if not svc:
        return []
    kind = _component_kind(comp)
    port = _service_port(comp, defaults)
    if kind == "external":
        return _external_service(spec, comp, port)
    port_name = _port_name(comp)
    ports = [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, svc["name"], comp),
        "spec": {
            "type": svc.get("type", "ClusterIP"),
            "selector": selector_labels(spec, comp),
            "ports": ports,
        },
    }
    result = [service]
    if kind == "StatefulSet":
        result.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(spec, _headless_name(comp), comp),
                "spec": {
                    "clusterIP": "None",
                    "publishNotReadyAddresses": True,
                    "selector": selector_labels(spec, comp),
                    "ports": copy.deepcopy(ports),
                },
            }
        )
    return result


def _external_service(spec, comp, port):
    ext = comp["external"]
    host = str(ext["host"])
    target = int(ext.get("port") or port)
    meta = _meta(spec, comp["service"]["name"])
    meta["labels"]["app.kubernetes.io/component"] = comp["name"]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # A DNS name: the cluster DNS answers with a CNAME; ports are the client's business.
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {"type": "ExternalName", "externalName": host},
            }
        ]
    # An IP address: a Service without selector and the Endpoints that point at it.
    ports = [{"name": "tcp", "port": port, "targetPort": target, "protocol": "TCP"}]
    endpoints_meta = copy.deepcopy(meta)
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": ports}},
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": endpoints_meta,
            "subsets": [{"addresses": [{"ip": host}], "ports": [{"name": "tcp", "port": target}]}],
        },
    ]


def _hpa(spec, comp):
    auto = comp["autoscaling"]
    name = comp.get("workload") or comp["name"]
    metrics = []
    for resource in ("cpu", "memory"):
        if auto.get(resource) is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": int(auto[resource])},
                    },
                }
            )
    metrics.extend(copy.deepcopy(auto.get("metrics") or []))
    if not metrics:
        metrics.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec, name, comp),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": int(auto["min"]),
            "maxReplicas": int(auto["max"]),
            "metrics": metrics,
            "behavior": copy.deepcopy(auto.get("behavior") or spec.get("hpa_behavior") or HPA_BEHAVIOR),
        },
    }


def _pdb_settings(comp, defaults):
    """The budget of a component (``{min_available}`` or ``{max_unavailable}``), or None: its
    own ``pdb``, else with the ``ha`` profile minAvailable 2 when it runs at least 3
    replicas, else the defaults' (maxUnavailable 1) when it runs at least 2."""
    pdb = comp.get("pdb")
    if pdb is False:
        return None
    if pdb is None:
        low = _low_replicas(comp) or 1
        if low < 2:
            return None  # a budget on a single replica would block every node drain
        if defaults.get("availability") == "ha" and low >= HA_MIN_REPLICAS:
            return {"min_available": HA_MIN_AVAILABLE}
        pdb = defaults["pdb"]
    return pdb if isinstance(pdb, dict) and pdb else None


def _pdb(spec, comp, defaults):
    pdb = _pdb_settings(comp, defaults)
    if not pdb:
        return None
    budget = {"selector": {"matchLabels": selector_labels(spec, comp)}}
    if "min_available" in pdb:
        budget["minAvailable"] = pdb["min_available"]
    else:
        budget["maxUnavailable"] = pdb["max_unavailable"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(spec, comp.get("workload") or comp["name"], comp),
        "spec": budget,
    }


def _routes_table(spec):
    """``[(path, component)]`` of the ingress: the components' own ``ingress_paths`` and the
    platform-level ``ingress.paths``."""
    by_name = {c["name"]: c for c in spec["components"]}
    table = []
    for comp in spec["components"]:
        if comp.get("enabled", True) is False or not comp.get("service"):
            continue
        for path in comp.get("ingress_paths") or []:
            table.append((path if path.startswith("/") else "/" + path, comp))
    for entry in (spec.get("ingress") or {}).get("paths") or []:
        comp = by_name[entry["component"]]
        if comp.get("enabled", True) is not False and comp.get("service"):
            table.append((entry["path"], comp))
    return table


def _ingress(spec, defaults):
    """An Ingress, or OpenShift Routes, or with ``kind: auto`` both, each annotated so that
    the apply module keeps the Routes where route.openshift.io is served and the Ingress
    everywhere else (one discovery request, no extra task)."""
    ingress = spec["ingress"]
    kind = ingress.get("kind", "ingress")
    table = _routes_table(spec)
    if not table:
        return []
    objects = []
    if kind in ("route", "auto"):
        objects += _routes(spec, table, APPLY_IF_SERVED if kind == "auto" else None)
    if kind in ("ingress", "auto"):
        objects.append(
            _ingress_object(spec, table, defaults, APPLY_UNLESS_SERVED if kind == "auto" else None)
        )
    return objects


def _annotations(ingress, condition):
    annotations = {str(k): str(v) for k, v in (ingress.get("annotations") or {}).items()}
    if condition:
        annotations[condition] = ROUTE_API
    return annotations


def _routes(spec, table, condition):
    ingress = spec["ingress"]
    name = ingress.get("name") or spec["name"]
    annotations = _annotations(ingress, condition)
    routes = []
    for index, (path, comp) in enumerate(table):
        route = {
            "apiVersion": ROUTE_API,
            "kind": "Route",
            "metadata": _meta(spec, "%s-%d" % (name, index)),
            "spec": {
                "host": ingress["host"],
                "path": path,
                "to": {"kind": "Service", "name": comp["service"]["name"], "weight": 100},
                "port": {"targetPort": "http"},
                "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                "wildcardPolicy": "None",
            },
        }
        if annotations:
            route["metadata"]["annotations"] = dict(annotations)
        routes.append(route)
    return routes


def _ingress_object(spec, table, defaults, condition):
    ingress = spec["ingress"]
    paths = [
        {
            "path": path,
            "pathType": "Prefix",
            "backend": {
                "service": {
                    "name": comp["service"]["name"],
                    "port": {"number": _service_port(comp, defaults)},
                }
            },
        }
        for path, comp in table
    ]
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(spec, ingress.get("name") or spec["name"]),
        "spec": {"rules": [{"host": ingress["host"], "http": {"paths": paths}}]},
    }
    annotations = _annotations(ingress, condition)
    if annotations:
        body["metadata"]["annotations"] = annotations
    if ingress.get("class_name"):
        body["spec"]["ingressClassName"] = ingress["class_name"]
    if ingress.get("tls_secret"):
        body["spec"]["tls"] = [{"hosts": [ingress["host"]], "secretName": ingress["tls_secret"]}]
    return body


def _namespace(spec):
    level = spec.get("pod_security", "restricted")
    meta = _meta(spec, spec["namespace"], namespaced=False)
    for mode in ("enforce", "audit", "warn"):
        meta["labels"]["pod-security.kubernetes.io/%s" % mode] = level
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _config_map(spec, name, data, comp=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(spec, name, comp),
        "data": {str(k): str(v) for k, v in sorted(data.items())},
    }


def render_platform(spec, only=None):
    """The manifests of a platform, in apply order (namespace and configuration first,
    workloads, then what refers to them). ``only`` limits the per-component objects to the
    named components; the shared ones (Namespace, ServiceAccount, shared ConfigMap, the
    Ingress with every component's paths) are always rendered whole. Raises RenderError
    listing every problem."""
    problems = check_spec(spec, only)
    if problems:
        raise RenderError("; ".join(problems))
    spec = with_overrides(spec)
    defaults = _defaults(spec)
    wanted = set(only or [])
    components = [
        c
        for c in spec["components"]
        if c.get("enabled", True) is not False and (not wanted or c["name"] in wanted)
    ]
    head = [_namespace(spec)]
    if spec.get("create_service_account", True):
        account = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(spec, spec.get("service_account_name") or spec["name"]),
            "automountServiceAccountToken": False,
        }
        if spec.get("service_account_annotations"):
            account["metadata"]["annotations"] = {
                str(k): str(v) for k, v in spec["service_account_annotations"].items()
            }
        head.append(account)
    if spec.get("config"):
        head.append(_config_map(spec, config_map_name(spec), spec["config"]))
    config, services, workloads, tail = [], [], [], []
    for comp in components:
        kind = _component_kind(comp)
        if kind == "none":
            continue
        services.extend(_services(spec, comp, defaults))
        if kind == "external":
            continue
        if comp.get("config"):
            config.append(_config_map(spec, config_map_name(spec, comp), comp["config"], comp))
        workloads.append(_workload(spec, comp, defaults))
        if comp.get("autoscaling"):
            tail.append(_hpa(spec, comp))
        budget = _pdb(spec, comp, defaults)
        if budget:
            tail.append(budget)
    if (spec.get("ingress") or {}).get("enabled"):
        tail.extend(_ingress(spec, defaults))
    return head + config + services + workloads + tail


def referenced_secrets(spec, only=None):
    """Names of the Secrets the rendered platform refers to (components' ``secrets`` and
    ``credentials_secret``, image pull secrets), sorted."""
    wanted = set(only or [])
    spec = with_overrides(spec)
    names = set(spec.get("image_pull_secrets") or [])
    for comp in spec.get("components") or []:
        if isinstance(comp, dict) and (not wanted or comp.get("name") in wanted):
            if comp.get("enabled", True) is not False:
                names.update(comp.get("secrets") or [])
                if comp.get("credentials_secret") and _data_defaults(comp):
                    names.add(comp["credentials_secret"])
    return sorted(names)
