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
    CONFIG_CHECKSUM_SKIP,
    FLOW,
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
    problems.extend(_security_problems(spec, components))
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
    if not problems:
        problems.extend(_policy_problems(spec))
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
        "serviceAccountName": component_service_account(spec, comp),
        # api_access: the component's own account, whose token it needs
        "automountServiceAccountToken": bool(
            comp.get("automount_service_account_token", bool(comp.get("api_access")))
        ),
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
    annotations = {}
    if comp.get("change_cause"):
        annotations["kubernetes.io/change-cause"] = str(comp["change_cause"])
    if _role(comp) == "database" and comp.get("credentials_secret"):
        # PostgreSQL reads its credentials when it initialises an empty data directory, and
        # never again (ALTER ROLE changes the password): a new value must not restart it.
        annotations[CONFIG_CHECKSUM_SKIP] = "Secret/%s" % comp["credentials_secret"]
    if annotations:
        body["metadata"]["annotations"] = annotations
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


# -------------------------------------------------------------------------- security
#
# The ``security`` section of the description and the components' ``api_access``,
# ``egress_https`` and ``connects_to``. Nothing is rendered unless asked (network_policies
# false, no component with api_access), so a description without them renders as before.
# Every security object is rendered whole whatever ``only`` says, carries no version label and
# no value that changes between runs: the deploy role (everything) and the security role (the
# subset, security_objects) apply the very same objects and never undo each other.

SECURITY_DEFAULTS = {
    "network_policies": False,
    "ingress_namespace": "ingress-nginx",
    "monitoring_namespace": "monitoring",
    "dns": {"namespace": "kube-system", "selector": {"k8s-app": "kube-dns"}, "port": 53},
    "api_server": {"cidrs": [], "ports": [443, 6443]},
    "egress_https": False,
    "maintenance_page": True,
    "api_server_probes": False,
}
# ingress_components: default the components the Ingress/Route sends traffic to; backup:
# default true when the platform has a database.
SECURITY_FIELDS = tuple(SECURITY_DEFAULTS) + ("ingress_components", "backup")
# The label every namespace carries (Kubernetes 1.22+): how a policy names a namespace.
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
# The maintenance page of playbooks/maintenance.yml (templates/maintenance_page.yml.j2): its
# pods' labels (app.kubernetes.io/name <platform>-maintenance) and port.
MAINTENANCE_COMPONENT = "maintenance-page"
MAINTENANCE_PORT = 8080
# The nightly backup CronJob of roles/backup (templates/schedule.yml.j2): its pods carry
# app.kubernetes.io/name multiagent-ops-backup and app.kubernetes.io/instance its name, which
# is backup_schedule_name (default <namespace>-db-backup).
BACKUP_APP = "multiagent-ops-backup"
# What a component's api_access may not hold: wildcards, and the verbs that grant more than
# the Role itself (the audit's MAO-040 and MAO-041).
REFUSED_VERBS = ("bind", "escalate", "impersonate")
RULE_FIELDS = ("apiGroups", "resources", "verbs", "resourceNames")
RBAC_API = "rbac.authorization.k8s.io/v1"
NETWORK_POLICY_API = "networking.k8s.io/v1"
# What security_objects keeps of a render: what the security role applies.
SECURITY_KINDS = (
    ("v1", "ServiceAccount"),
    (RBAC_API, "Role"),
    (RBAC_API, "RoleBinding"),
    (NETWORK_POLICY_API, "NetworkPolicy"),
)


def security_settings(spec):
    """The ``security`` section with its defaults filled in (``dns`` and ``api_server`` merged
    key by key; a null value keeps the default)."""
    given = spec.get("security") or {}
    settings = copy.deepcopy(SECURITY_DEFAULTS)
    for key, value in given.items() if isinstance(given, dict) else ():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = dict(settings[key], **copy.deepcopy(value))
        else:
            settings[key] = copy.deepcopy(value)
    return settings


def _cidr_problems(value, what):
    if not isinstance(value, list) or not value:
        return ["%s must be a non-empty list of CIDRs, got %r" % (what, value)]
    problems = []
    for cidr in value:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            problems.append("%s entry %r is not a CIDR (like 10.0.0.1/32)" % (what, cidr))
    return problems


def _https_problems(value, what):
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, list):
        return _cidr_problems(value, what)
    return ["%s must be true, false or a list of CIDRs, got %r" % (what, value)]


def _rule_problems(rules, where):
    if not isinstance(rules, list) or not rules:
        return ["%s: api_access must be a list of RBAC rules {apiGroups, resources, verbs}" % where]
    problems = []
    for index, rule in enumerate(rules):
        at = "%s: api_access[%d]" % (where, index)
        if not isinstance(rule, dict):
            problems.append("%s must be a dict with apiGroups, resources and verbs, got %r" % (at, rule))
            continue
        unknown = sorted(set(rule) - set(RULE_FIELDS))
        if unknown:
            problems.append(
                "%s has unknown field(s) %s (known: %s)" % (at, ", ".join(unknown), ", ".join(RULE_FIELDS))
            )
        for field in RULE_FIELDS:
            value = rule.get(field)
            if value is None and field in ("apiGroups", "resourceNames"):
                continue  # apiGroups: the core group ("") when not given
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append("%s.%s must be a list of strings, got %r" % (at, field, value))
                continue
            if not value and field != "apiGroups":
                problems.append("%s.%s must not be empty" % (at, field))
            if "*" in value:
                problems.append(
                    "%s.%s holds '*': list what the component needs (a wildcard grants every future "
                    "resource and verb too)" % (at, field)
                )
            if field == "verbs":
                refused = [verb for verb in value if verb in REFUSED_VERBS]
                if refused:
                    problems.append(
                        "%s.verbs holds %s: it would let the component grant itself more than its Role"
                        % (at, ", ".join(refused))
                    )
    return problems


def _has_pods(comp):
    return _component_kind(comp) in WORKLOAD_KINDS


def _enabled(components):
    return [c for c in components if isinstance(c, dict) and c.get("enabled", True) is not False]


def _external_cidrs(comp):
    """The addresses an external component is reached at: ``external.cidrs``, else its host
    when that is an IP address; None for a DNS name."""
    ext = comp.get("external") or {}
    if ext.get("cidrs"):
        return [str(c) for c in ext["cidrs"]]
    try:
        address = ipaddress.ip_address(str(ext.get("host")))
    except ValueError:
        return None
    return ["%s/%d" % (address, address.max_prefixlen)]


def _backup_settings(spec, settings):
    """The backup CronJob's ``{name, egress_https}``, or None when it gets no policies."""
    given = settings.get("backup")
    if given is None:
        given = any(_role(c) == "database" for c in _enabled(spec["components"]))
    if given is False:
        return None
    given = {} if given is True else given
    return {
        "name": given.get("name") or "%s-db-backup" % spec["namespace"],
        "egress_https": given.get("egress_https", False),
    }


def _security_problems(spec, components):
    """The problems of the ``security`` section and of the components' security fields."""
    problems = []
    given = spec.get("security")
    if given is not None and not isinstance(given, dict):
        return ["security must be a dict of settings, got %r" % (given,)]
    given = given or {}
    unknown = sorted(set(given) - set(SECURITY_FIELDS))
    if unknown:
        problems.append(
            "security has unknown field(s) %s (known: %s)" % (", ".join(unknown), ", ".join(SECURITY_FIELDS))
        )
    settings = security_settings(spec)
    for field in ("network_policies", "maintenance_page", "api_server_probes"):
        if not isinstance(settings[field], bool):
            problems.append("security.%s must be true or false, got %r" % (field, settings[field]))
    for field in ("ingress_namespace", "monitoring_namespace"):
        value = settings[field]
        if not isinstance(value, str) or not DNS_LABEL.match(value):
            problems.append("security.%s %r is not a namespace name" % (field, value))
    dns = settings["dns"]
    if not isinstance(given.get("dns", {}), dict):
        problems.append("security.dns must be a dict (namespace, selector, port), got %r" % (given["dns"],))
    else:
        if not isinstance(dns.get("namespace"), str) or not DNS_LABEL.match(dns["namespace"]):
            problems.append("security.dns.namespace %r is not a namespace name" % (dns.get("namespace"),))
        selector = dns.get("selector")
        if (
            not isinstance(selector, dict)
            or not selector
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in selector.items())
        ):
            problems.append("security.dns.selector must map label names to values, got %r" % (selector,))
        _port(dns.get("port"), "security.dns.port", problems)
    api = settings["api_server"]
    if not isinstance(given.get("api_server", {}), dict):
        problems.append("security.api_server must be a dict (cidrs, ports), got %r" % (given["api_server"],))
        api = None
    else:
        if api.get("cidrs"):
            problems.extend(_cidr_problems(api["cidrs"], "security.api_server.cidrs"))
        elif not isinstance(api.get("cidrs"), list):
            problems.append("security.api_server.cidrs must be a list of CIDRs, got %r" % (api.get("cidrs"),))
        ports = api.get("ports")
        if not isinstance(ports, list) or not ports:
            problems.append("security.api_server.ports must be a non-empty list of ports, got %r" % (ports,))
        else:
            for port in ports:
                _port(port, "security.api_server.ports entry", problems)
    problems.extend(_https_problems(settings["egress_https"], "security.egress_https"))
    backup = given.get("backup")
    if backup is not None and not isinstance(backup, bool):
        if not isinstance(backup, dict):
            problems.append(
                "security.backup must be true, false or a dict (name, egress_https), got %r" % (backup,)
            )
        else:
            extra = sorted(set(backup) - {"name", "egress_https"})
            if extra:
                problems.append(
                    "security.backup has unknown field(s) %s (known: name, egress_https)" % ", ".join(extra)
                )
            if backup.get("name") is not None and (
                not isinstance(backup["name"], str) or not DNS_LABEL.match(backup["name"])
            ):
                problems.append(
                    "security.backup.name %r is not the backup CronJob's name" % (backup["name"],)
                )
            problems.extend(_https_problems(backup.get("egress_https"), "security.backup.egress_https"))
    by_name = {c["name"]: c for c in components if isinstance(c, dict) and isinstance(c.get("name"), str)}
    shared = spec.get("service_account_name") or spec.get("name")
    for comp in by_name.values():
        where = "component '%s'" % comp["name"]
        if comp.get("api_access") is not None:
            if not _has_pods(comp):
                problems.append(
                    "%s: api_access needs pods (kind Deployment or StatefulSet), not kind %s"
                    % (where, _component_kind(comp))
                )
            problems.extend(_rule_problems(comp["api_access"], where))
            if comp.get("automount_service_account_token") is False:
                problems.append(
                    "%s: api_access mounts the ServiceAccount token; automount_service_account_token "
                    "false contradicts it" % where
                )
            if (comp.get("workload") or comp["name"]) == shared:
                problems.append(
                    "%s: its own ServiceAccount would be named '%s', like the platform's shared one: "
                    "give it another workload name" % (where, shared)
                )
        problems.extend(_https_problems(comp.get("egress_https"), "%s: egress_https" % where))
        targets = comp.get("connects_to")
        if targets is not None:
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                problems.append("%s: connects_to must be a list of component names" % where)
            else:
                for target in targets:
                    if target not in by_name:
                        problems.append(
                            "%s: connects_to names unknown component '%s'; the platform has: %s"
                            % (where, target, ", ".join(by_name))
                        )
                    elif _component_kind(by_name[target]) == "none":
                        problems.append(
                            "%s: connects_to names '%s', which has no pods or address" % (where, target)
                        )
        ext = comp.get("external")
        if isinstance(ext, dict) and ext.get("cidrs") is not None:
            problems.extend(_cidr_problems(ext["cidrs"], "%s: external.cidrs" % where))
    wanted = settings.get("ingress_components")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(n, str) for n in wanted):
            problems.append(
                "security.ingress_components must be a list of component names, got %r" % (wanted,)
            )
        else:
            for name in wanted:
                if name not in by_name:
                    problems.append(
                        "security.ingress_components names unknown component '%s'; the platform has: %s"
                        % (name, ", ".join(by_name))
                    )
                elif not _has_pods(by_name[name]):
                    problems.append(
                        "security.ingress_components names '%s', which has no pods to receive traffic" % name
                    )
    return problems


def _policy_problems(spec):
    """What only matters when the NetworkPolicies are rendered (asked by a description without
    other problems): the addresses they need, and names that two flows would share."""
    settings = security_settings(spec)
    if settings["network_policies"] is not True:
        return []
    api = settings["api_server"]
    problems = []
    components = _enabled(spec["components"])
    needs_api = [c["name"] for c in components if c.get("api_access") and _has_pods(c)]
    if _backup_settings(spec, settings):
        needs_api.append("the backup CronJob (security.backup)")
    if needs_api and not api.get("cidrs"):
        problems.append(
            "security.api_server.cidrs is needed: %s talk to the Kubernetes API; give the API server's "
            "addresses (kubectl get endpoints kubernetes -n default), or 0.0.0.0/0 to allow its ports "
            "anywhere" % ", ".join(needs_api)
        )
    if settings["api_server_probes"] is True and not api.get("cidrs"):
        problems.append(
            "security.api_server.cidrs is needed: api_server_probes lets the API server's service "
            "proxy reach the probed components; give the addresses its connections come from "
            "(kubectl get endpoints kubernetes -n default on most clusters)"
        )
    by_name = {c["name"]: c for c in components}
    reached = [t for t in _data_targets(spec) if t["kind"] == "external"]
    reached += [
        {"name": target, "kind": "external"}
        for comp in components
        for target in comp.get("connects_to") or []
        if target in by_name and _component_kind(by_name[target]) == "external"
    ]
    for target in reached:
        comp = by_name.get(target["name"])
        if comp is not None and _external_cidrs(comp) is None:
            problems.append(
                "component '%s': its external host %s is a DNS name: with security.network_policies "
                "give external.cidrs (the addresses it resolves to), or nothing may reach it"
                % (comp["name"], (comp.get("external") or {}).get("host"))
            )
    if problems:
        return problems
    names = [p["metadata"]["name"] for p in _network_policies(spec, settings, _defaults(spec))]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(
            "NetworkPolicy name(s) %s would be rendered twice (a component named like a flow, e.g. "
            "'backup'): rename the component" % ", ".join(twice)
        )
    return problems


def _data_targets(spec):
    """The database and cache components (enabled ones), as ``{name, kind, comp}``."""
    try:
        tier = platform_spec.data_tier(spec["components"], spec.get("database"), spec.get("cache"))
    except platform_spec.SpecError:
        return []  # named by check_spec
    by_name = {c["name"]: c for c in _enabled(spec["components"])}
    targets = []
    for role in ("database", "cache"):
        entry = tier.get(role)
        if entry and entry["name"] in by_name:
            comp = by_name[entry["name"]]
            targets.append({"name": comp["name"], "kind": _component_kind(comp), "comp": comp})
    return targets


def _part(name):
    """A component name as part of an object name."""
    return re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-") or "x"


def _security_meta(spec, name, comp=None):
    meta = _meta(spec, name)
    if comp is not None:
        meta["labels"]["app.kubernetes.io/component"] = comp["name"]
    return meta


def _ns_peer(namespace, pods=None):
    peer = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def _ports(numbers, protocols=("TCP",)):
    return [{"protocol": proto, "port": port} for port in numbers for proto in protocols]


def _ip_peers(cidrs):
    return [{"ipBlock": {"cidr": str(cidr)}} for cidr in cidrs]


def _policy(spec, name, flow, selector, ingress=None, egress=None):
    """A NetworkPolicy; with neither ``ingress`` nor ``egress`` rules it denies both."""
    meta = _meta(spec, name)
    meta["annotations"] = {FLOW: flow}
    body = {"podSelector": selector, "policyTypes": []}
    if ingress is not None:
        body["policyTypes"].append("Ingress")
        body["ingress"] = ingress
    if egress is not None:
        body["policyTypes"].append("Egress")
        body["egress"] = egress
    if ingress is None and egress is None:
        body["policyTypes"] = ["Ingress", "Egress"]
    return {"apiVersion": NETWORK_POLICY_API, "kind": "NetworkPolicy", "metadata": meta, "spec": body}


def _ingress_policy(spec, name, flow, comp, peers, port):
    """A NetworkPolicy letting ``peers`` reach component ``comp``'s pods on TCP ``port``."""
    return _policy(spec, name, flow, _pods_of(spec, comp), ingress=[{"from": peers, "ports": _ports([port])}])


def _pods_of(spec, comp):
    return {"matchLabels": selector_labels(spec, comp)}


def _pods_of_many(spec, comps):
    return {
        "matchLabels": {"app.kubernetes.io/name": spec["name"]},
        "matchExpressions": [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": [c["name"] for c in comps]}
        ],
    }


def _https_cidrs(value):
    """``egress_https`` -> None (no 443 egress), [] (any address) or the CIDRs."""
    if value is True:
        return []
    if isinstance(value, list) and value:
        return [str(c) for c in value]
    return None


def _https_policy(spec, name, who, selector, value):
    cidrs = _https_cidrs(value)
    if cidrs is None:
        return None
    rule = {"ports": _ports([443])}
    if cidrs:
        rule["to"] = _ip_peers(cidrs)
    where = ", ".join(cidrs) if cidrs else "any address"
    return _policy(
        spec, name, "egress from %s to HTTPS (TCP 443) at %s" % (who, where), selector, egress=[rule]
    )


def _ingress_targets(spec, settings, components):
    by_name = {c["name"]: c for c in components}
    routed = _routes_table(spec) if (spec.get("ingress") or {}).get("enabled") else []
    if settings.get("ingress_components") is not None:
        names = settings["ingress_components"]
    elif routed:
        names = [comp["name"] for _path, comp in routed]
    else:
        # no Ingress or Routes of ours: one made elsewhere may send traffic to any app Service
        names = [c["name"] for c in components if _role(c) == "app" and c.get("service")]
    seen = []
    for name in names:
        if name in by_name and _has_pods(by_name[name]) and name not in seen:
            seen.append(name)
    return [by_name[name] for name in seen]


def _metrics_port(comp, defaults):
    """The pod port Prometheus scrapes, or None: a number as given, the renderer's own port
    name as its number, another name as it is (a NetworkPolicy port may be a name)."""
    metrics = comp.get("metrics")
    if metrics in (None, False):
        return None
    port = metrics.get("port") if isinstance(metrics, dict) else None
    if port is None:
        return None if _data_defaults(comp) else _container_port(comp, defaults)
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    if port == _port_name(comp):
        return _container_port(comp, defaults)
    return str(port)


def _to_target(spec, target, defaults):
    """``(peers, port)`` of a component reached by other pods: its pods and container port, or
    an external one's addresses and port."""
    comp = target
    if _component_kind(comp) == "external":
        port = int((comp.get("external") or {}).get("port") or _service_port(comp, defaults))
        return _ip_peers(_external_cidrs(comp) or []), port
    return [{"podSelector": _pods_of(spec, comp)}], _container_port(comp, defaults)


def _flow_pair(spec, defaults, name_from, name_to, who, source_selector, target):
    """The two policies of a flow inside the namespace: egress on the source pods, ingress on
    the target's pods (only egress to an external target's addresses)."""
    peers, port = _to_target(spec, target, defaults)
    external = _component_kind(target) == "external"
    role = "component" if _role(target) == "app" else _role(target)
    what = "%s%s %s" % ("external " if external else "", role, target["name"])
    policies = [
        _policy(
            spec,
            name_to,
            "egress from %s to %s on TCP %d" % (who, what, port),
            source_selector,
            egress=[{"to": peers, "ports": _ports([port])}],
        )
    ]
    if not external:
        policies.append(
            _policy(
                spec,
                name_from,
                "ingress to %s on TCP %d from %s" % (what, port, who),
                _pods_of(spec, target),
                ingress=[{"from": [{"podSelector": source_selector}], "ports": _ports([port])}],
            )
        )
    return policies


def _network_policies(spec, settings, defaults):
    """Allow policies for every flow the description implies, then the default deny."""
    p = spec["name"]
    components = [c for c in _enabled(spec["components"]) if _component_kind(c) != "none"]
    with_pods = [c for c in components if _has_pods(c)]
    apps = [c for c in with_pods if _role(c) == "app"]
    by_name = {c["name"]: c for c in components}
    dns = settings["dns"]
    api = settings["api_server"]
    policies = [
        _policy(
            spec,
            "%s-allow-dns" % p,
            "DNS over UDP and TCP %d from every pod of the namespace to namespace %s pods %s"
            % (int(dns["port"]), dns["namespace"], _selector_text(dns["selector"])),
            {},
            egress=[
                {
                    "to": [_ns_peer(dns["namespace"], dns["selector"])],
                    "ports": _ports([int(dns["port"])], ("UDP", "TCP")),
                }
            ],
        )
    ]
    ingress_ns = settings["ingress_namespace"]
    for comp in _ingress_targets(spec, settings, with_pods):
        port = _container_port(comp, defaults)
        policies.append(
            _ingress_policy(
                spec,
                "%s-allow-ingress-%s" % (p, _part(comp["name"])),
                "ingress from namespace %s (the ingress controller) to component %s on TCP %d"
                % (ingress_ns, comp["name"], port),
                comp,
                [_ns_peer(ingress_ns)],
                port,
            )
        )
    if settings["maintenance_page"]:
        policies.append(
            _policy(
                spec,
                "%s-allow-ingress-maintenance" % p,
                "ingress from namespace %s (the ingress controller) to the maintenance page of "
                "playbooks/maintenance.yml on TCP %d" % (ingress_ns, MAINTENANCE_PORT),
                {"matchLabels": maintenance_labels(spec)},
                ingress=[{"from": [_ns_peer(ingress_ns)], "ports": _ports([MAINTENANCE_PORT])}],
            )
        )
    if apps:
        who = "the app components (%s)" % ", ".join(c["name"] for c in apps)
        for target in _data_targets(spec):
            if target["kind"] == "none":
                continue
            comp = target["comp"]
            policies += _flow_pair(
                spec,
                defaults,
                "%s-allow-%s-from-apps" % (p, _part(comp["name"])),
                "%s-allow-apps-to-%s" % (p, _part(comp["name"])),
                who,
                _pods_of_many(spec, apps),
                comp,
            )
    for comp in with_pods:
        for target in comp.get("connects_to") or []:
            if target not in by_name:
                continue  # a disabled component
            policies += _flow_pair(
                spec,
                defaults,
                "%s-allow-%s-from-%s" % (p, _part(target), _part(comp["name"])),
                "%s-allow-%s-to-%s" % (p, _part(comp["name"]), _part(target)),
                "component %s" % comp["name"],
                _pods_of(spec, comp),
                by_name[target],
            )
    monitoring = settings["monitoring_namespace"]
    for comp in with_pods:
        port = _metrics_port(comp, defaults)
        if port is None:
            continue
        policies.append(
            _ingress_policy(
                spec,
                "%s-allow-scrape-%s" % (p, _part(comp["name"])),
                "ingress from namespace %s (Prometheus) to component %s's metrics on TCP %s"
                % (monitoring, comp["name"], port),
                comp,
                [_ns_peer(monitoring)],
                port,
            )
        )
    if settings["api_server_probes"]:
        for comp in with_pods:
            if not _probed(comp):
                continue
            port = _container_port(comp, defaults)
            policies.append(
                _ingress_policy(
                    spec,
                    "%s-allow-probes-%s" % (p, _part(comp["name"])),
                    "ingress from the Kubernetes API server (%s) to component %s on TCP %d: the health "
                    "check's probes through the service proxy"
                    % (", ".join(str(c) for c in api["cidrs"]), comp["name"], port),
                    comp,
                    _ip_peers(api["cidrs"]),
                    port,
                )
            )
    api_rule = {"to": _ip_peers(api.get("cidrs") or []), "ports": _ports([int(n) for n in api["ports"]])}
    api_where = "the Kubernetes API (%s) on TCP %s" % (
        ", ".join(str(c) for c in api.get("cidrs") or []),
        ", ".join(str(n) for n in api["ports"]),
    )
    for comp in with_pods:
        if comp.get("api_access"):
            policies.append(
                _policy(
                    spec,
                    "%s-allow-%s-to-api" % (p, _part(comp["name"])),
                    "egress from component %s (api_access) to %s" % (comp["name"], api_where),
                    _pods_of(spec, comp),
                    egress=[copy.deepcopy(api_rule)],
                )
            )
    for comp in with_pods:
        given = comp.get("egress_https")
        value = given if given is not None else (settings["egress_https"] if _role(comp) == "app" else False)
        policy = _https_policy(
            spec,
            "%s-allow-%s-to-https" % (p, _part(comp["name"])),
            "component %s" % comp["name"],
            _pods_of(spec, comp),
            value,
        )
        if policy:
            policies.append(policy)
    backup = _backup_settings(spec, settings)
    if backup:
        selector = {"matchLabels": backup_labels(backup["name"])}
        who = "the backup CronJob %s's pods" % backup["name"]
        policies.append(
            _policy(
                spec,
                "%s-allow-backup-to-api" % p,
                "egress from %s to %s" % (who, api_where),
                selector,
                egress=[copy.deepcopy(api_rule)],
            )
        )
        for target in _data_targets(spec):
            if _role(target["comp"]) == "database" and target["kind"] != "none":
                comp = target["comp"]
                policies += _flow_pair(
                    spec,
                    defaults,
                    "%s-allow-%s-from-backup" % (p, _part(comp["name"])),
                    "%s-allow-backup-to-%s" % (p, _part(comp["name"])),
                    who,
                    selector,
                    comp,
                )
        policy = _https_policy(spec, "%s-allow-backup-to-https" % p, who, selector, backup["egress_https"])
        if policy:
            policies.append(policy)
    # Last: after the allow policies, so a first apply never cuts a flow it allows.
    policies.append(
        _policy(
            spec,
            "%s-default-deny" % p,
            "deny all ingress and egress of every pod of the namespace that no other policy allows",
            {},
        )
    )
    return policies


def _probed(comp):
    """Whether the health check probes ``comp`` through the API server's service proxy when
    ``platform_health_via`` is ``service``: it has health paths and a Service."""
    return bool(comp.get("health_paths")) and bool((comp.get("service") or {}).get("name"))


def _selector_text(selector):
    return ",".join("%s=%s" % (k, v) for k, v in sorted(selector.items()))


def maintenance_labels(spec):
    """The labels the maintenance page's pods carry (playbooks/maintenance.yml)."""
    return {
        "app.kubernetes.io/name": "%s-maintenance" % spec["name"],
        "app.kubernetes.io/component": MAINTENANCE_COMPONENT,
    }


def backup_labels(name):
    """The labels the backup CronJob's pods carry (roles/backup templates/schedule.yml.j2)."""
    return {"app.kubernetes.io/name": BACKUP_APP, "app.kubernetes.io/instance": name}


def component_service_account(spec, comp):
    """The ServiceAccount a component's pods run as: its own (named like its workload) when it
    has ``api_access``, else the platform's shared one."""
    if comp.get("api_access"):
        return comp.get("workload") or comp["name"]
    return spec.get("service_account_name") or spec["name"]


def _rule(rule):
    body = {"apiGroups": list(rule.get("apiGroups") or [""])}
    for field in ("resources", "verbs", "resourceNames"):
        if rule.get(field):
            body[field] = list(rule[field])
    return body


def _rbac(spec, comp):
    """A component's own ServiceAccount, the Role holding only its ``api_access`` rules, and
    the RoleBinding between them. The account's token is mounted by the pod template alone
    (automountServiceAccountToken true there): nothing else that names the account gets one."""
    name = component_service_account(spec, comp)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _security_meta(spec, name, comp),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": RBAC_API,
            "kind": "Role",
            "metadata": _security_meta(spec, name, comp),
            "rules": [_rule(rule) for rule in comp["api_access"]],
        },
        {
            "apiVersion": RBAC_API,
            "kind": "RoleBinding",
            "metadata": _security_meta(spec, name, comp),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": spec["namespace"]}],
        },
    ]


def _security_manifests(spec, defaults):
    """``(rbac, policies)``: the components' own accounts, Roles and bindings (whenever one has
    api_access), and the NetworkPolicies (with ``security.network_policies``)."""
    rbac = []
    for comp in _enabled(spec["components"]):
        if comp.get("api_access") and _has_pods(comp):
            rbac += _rbac(spec, comp)
    settings = security_settings(spec)
    policies = _network_policies(spec, settings, defaults) if settings["network_policies"] else []
    return rbac, policies


def security_objects(rendered, with_namespace=False):
    """The security subset of render_platform's output, as rendered (copies): ServiceAccounts,
    Roles, RoleBindings and NetworkPolicies (and with ``with_namespace`` the Namespace, whose
    Pod Security labels they enforce). What the security role applies: the same objects with
    the same content as the deploy role's, so neither undoes the other."""
    kinds = set(SECURITY_KINDS) | ({("v1", "Namespace")} if with_namespace else set())
    return [copy.deepcopy(obj) for obj in rendered if (obj.get("apiVersion"), obj.get("kind")) in kinds]


def security_manifests(spec, with_namespace=False):
    """The security subset of the platform's manifests (render_platform, then security_objects);
    raises RenderError as render_platform does."""
    return security_objects(render_platform(spec), with_namespace)


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
    rbac, policies = _security_manifests(spec, defaults)
    head.extend(rbac)
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
    return head + config + services + workloads + tail + policies


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
