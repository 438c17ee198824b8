# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over Kubernetes objects (plain dicts as the API returns them).

Nothing here talks to a cluster: the collectors fetch, these functions interpret, so the
interpretation is unit-tested with literal objects. Besides workloads, pods, events and
resource quantities (``250m``, ``512Mi``: :func:`parse_quantity`, :func:`parse_cpu`,
:func:`parse_memory`):
whether one object already holds another's fields (:func:`is_subset`), Secrets kept out
of output (:func:`redact_secret`, :func:`secret_values`, :func:`maskable`, :func:`mask`)
and the deterministic YAML of archives and diffs (:func:`dump_yaml`, :func:`load_yaml`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import re
from decimal import Decimal, InvalidOperation

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MASK_MIN = 6  # shorter Secret values would mask unrelated text (names, numbers) in the output


def parse_time(value):
    """RFC 3339 timestamp from the API (``2026-11-22T04:00:00Z``) -> aware datetime, or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def meta(obj):
    return obj.get("metadata") or {}


def controller_of(obj):
    """The ownerReference marked ``controller: true`` (or the only owner), else None."""
    refs = meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if len(refs) == 1 else None


def pod_workloads(pods, replicasets):
    """Map each pod's uid to the top-level workload that owns it: ``(kind, name)``.

    Follows ownerReferences by uid (Pod -> ReplicaSet -> Deployment, Pod -> StatefulSet,
    Pod -> DaemonSet), never by name prefix: a pod named ``mplp-core-x`` belongs to whatever
    its owners say. A pod whose ReplicaSet has no Deployment owner maps to the ReplicaSet;
    a bare pod maps to nothing.
    """
    rs_by_uid = {meta(rs).get("uid"): rs for rs in replicasets if meta(rs).get("uid")}
    result = {}
    for pod in pods:
        uid = meta(pod).get("uid") or meta(pod).get("name")
        ref = controller_of(pod)
        if not ref:
            continue
        if ref.get("kind") == "ReplicaSet":
            rs = rs_by_uid.get(ref.get("uid"))
            owner = controller_of(rs) if rs is not None else None
            if owner and owner.get("kind") == "Deployment":
                result[uid] = ("Deployment", owner.get("name"))
            else:
                result[uid] = ("ReplicaSet", ref.get("name"))
        else:
            result[uid] = (ref.get("kind"), ref.get("name"))
    return result


def container_statuses(pod):
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def pod_is_ready(pod):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def pod_summary(pod, now):
    """What an operator reads off ``kubectl get pod``: phase, readiness, restarts, reasons."""
    status = pod.get("status") or {}
    created = parse_time(meta(pod).get("creationTimestamp"))
    waiting = []
    restarts = 0
    last_termination = None
    for cs in container_statuses(pod):
        restarts += int(cs.get("restartCount") or 0)
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            waiting.append({"container": cs.get("name"), "reason": reason})
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last_termination is None or finished > last_termination):
            last_termination = finished
    ready_containers = sum(1 for cs in status.get("containerStatuses") or [] if cs.get("ready"))
    total_containers = len((pod.get("spec") or {}).get("containers") or [])
    return {
        "name": meta(pod).get("name"),
        "phase": status.get("phase", "Unknown"),
        "ready": pod_is_ready(pod),
        "containers_ready": "%d/%d" % (ready_containers, total_containers),
        "restarts": restarts,
        "waiting": waiting,
        "node": (pod.get("spec") or {}).get("nodeName"),
        "age_seconds": int((now - created).total_seconds()) if created else None,
        "last_termination": last_termination.isoformat() if last_termination else None,
        "terminating": bool(meta(pod).get("deletionTimestamp")),
        "reason": status.get("reason"),
        "message": status.get("message"),
    }


def workload_replicas(obj):
    """Desired/ready/available/updated/unavailable replicas of a Deployment or StatefulSet."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        available = int(status.get("numberAvailable") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ready = int(status.get("readyReplicas") or 0)
        available = int(status.get("availableReplicas", ready) or 0)
        updated = int(status.get("updatedReplicas") or 0)
    unavailable = status.get("unavailableReplicas")
    if unavailable is None:
        unavailable = max(desired - available, 0)
    return {
        "desired": desired,
        "ready": ready,
        "available": available,
        "updated": updated,
        "unavailable": int(unavailable),
        "observed_generation_current": int(status.get("observedGeneration") or 0)
        >= int(meta(obj).get("generation") or 0),
    }


def condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def event_time(event):
    """The most recent time an Event (core/v1 or events.k8s.io/v1) was seen."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = parse_time(event.get(key))
        if value:
            return value
    series = event.get("series") or {}
    value = parse_time(series.get("lastObservedTime"))
    return value or parse_time(meta(event).get("creationTimestamp"))


def recent_events(events, now, window_seconds):
    """Events seen within the window, newest first, as short dicts."""
    cutoff = now - datetime.timedelta(seconds=window_seconds)
    selected = []
    for ev in events:
        seen = event_time(ev)
        if seen is None or seen < cutoff:
            continue
        involved = ev.get("involvedObject") or ev.get("regarding") or {}
        selected.append(
            {
                "type": ev.get("type", "Normal"),
                "reason": ev.get("reason"),
                "message": ev.get("message") or ev.get("note"),
                "object": "%s/%s" % (involved.get("kind"), involved.get("name")),
                "kind": involved.get("kind"),
                "name": involved.get("name"),
                "count": int(ev.get("count") or (ev.get("series") or {}).get("count") or 1),
                "last_seen": seen.isoformat(),
            }
        )
    selected.sort(key=lambda e: e["last_seen"], reverse=True)
    return selected


# ---------------------------------------------------------------------------------------
# Comparing objects


def is_subset(desired, live):
    """True when every field ``desired`` sets has that value in ``live`` (lists compared
    element by element with the same rule, and of the same length). A ``None`` in
    ``desired`` matches a missing field."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        for key, value in desired.items():
            if value is None:
                if live.get(key) is not None:
                    return False
            elif key not in live or not is_subset(value, live[key]):
                return False
        return True
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(want, have) for want, have in zip(desired, live, strict=True))
        )
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    return desired == live


# ---------------------------------------------------------------------------------------
# Secrets in output


def is_secret(obj):
    """A core Secret (``v1``; a custom kind may be called Secret too)."""
    api_version = obj.get("apiVersion") or "v1"
    return obj.get("kind") == "Secret" and "/" not in api_version


def text(value):
    """A Secret or ConfigMap value as the API stores it: a string (booleans as YAML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def redact_secret(obj, compared_to=None):
    """A Secret with every value of ``data``/``stringData`` (and its last-applied
    configuration) replaced, keys kept: ``<redacted>``, or ``<redacted, changed>`` where the
    value differs from the same key's in ``compared_to``, so a diff shows which keys change."""
    if not isinstance(obj, dict):
        return obj
    result = copy.deepcopy(obj)
    other = compared_to if isinstance(compared_to, dict) else {}
    for field in ("data", "stringData"):
        values = result.get(field)
        if not isinstance(values, dict):
            continue
        before = other.get(field) if isinstance(other.get(field), dict) else None
        result[field] = {
            key: (
                REDACTED_CHANGED
                if before is not None and (key not in before or before[key] != value)
                else REDACTED
            )
            for key, value in values.items()
        }
    annotations = meta(result).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
    return result


def secret_values(secrets):
    """Every value of these Secrets, as written and as the other side of base64 (``data``
    decoded when it is text, ``stringData`` encoded), for masking in output."""
    values = set()
    for secret in secrets:
        for field in ("data", "stringData"):
            for value in (secret.get(field) or {}).values():
                if value is None:
                    continue
                written = text(value)
                values.add(written)
                if field == "stringData":
                    values.add(base64.b64encode(written.encode("utf-8")).decode("ascii"))
                    continue
                try:
                    values.add(base64.b64decode(written, validate=True).decode("utf-8"))
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    pass
    return values


def maskable(values, visible=()):
    """The ``values`` worth masking in a result: strings of at least MASK_MIN characters that
    are not part of what the result shows anyway (``visible``: strings, or lists and dicts of
    them, keys included). Starring out the namespace or a path
    (``config-********-...tar.gz``) would corrupt the result and hide nothing."""
    shown = list(_strings(visible))
    return {
        value
        for value in values
        if isinstance(value, str) and len(value) >= MASK_MIN and not any(value in seen for seen in shown)
    }


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)


def mask(message, values):
    """``message`` with each of ``values`` long enough not to hit unrelated words replaced."""
    if not message:
        return message
    for value in sorted(values, key=len, reverse=True):
        if isinstance(value, str) and len(value) >= MASK_MIN and value in message:
            message = message.replace(value, REDACTED)
    return message


# ---------------------------------------------------------------------------------------
# YAML

# Characters YAML 1.1 counts as line breaks besides CR and LF (NEL, LINE SEPARATOR,
# PARAGRAPH SEPARATOR): only a double-quoted scalar, which escapes them, keeps them.
YAML_ONLY_QUOTED = ("\x85", "\u2028", "\u2029")


class YamlError(ValueError):
    """YAML that cannot be read (or PyYAML missing); the message names where."""


if HAS_YAML:

    class _Dumper(yaml.SafeDumper):
        """Sorted keys; multi-line strings (config files in ConfigMaps) as literal blocks."""

    def _represent_str(dumper, value):
        if any(ch in value for ch in YAML_ONLY_QUOTED):
            # YAML reads these as line breaks in any other style (a plain or block scalar
            # would come back with a newline or a space): double quotes escape them.
            style = '"'
        elif "\n" in value:
            style = "|"
        else:
            style = None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _represent_str)


def dump_yaml(obj):
    """``obj`` as YAML bytes that depend on the content only: sorted keys, block style,
    literal blocks for multi-line strings, no line wrapping."""
    if not HAS_YAML:
        raise YamlError("the Python package PyYAML is needed")
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16
    ).encode("utf-8")


def load_yaml(data, where):
    """The document in ``data``; raises YamlError naming ``where`` when it is not YAML."""
    if not HAS_YAML:
        raise YamlError("the Python package PyYAML is needed")
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise YamlError("%s is not valid YAML: %s" % (where, str(exc).splitlines()[0])) from None


# -- resource quantities --------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value):
    """A quantity string -> Decimal in base units; ValueError names the bad input."""
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    text = str(value).strip()
    match = _RE.match(text)
    if not match:
        raise ValueError("'%s' is not a Kubernetes quantity" % value)
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise ValueError("'%s' is not a Kubernetes quantity" % value)
    factor = _BINARY.get(suffix) or _DECIMAL[suffix]
    return base * factor


def parse_cpu(value):
    """CPU quantity -> cores as float (``250m`` -> 0.25)."""
    return float(parse_quantity(value))


def parse_memory(value):
    """Memory quantity -> bytes as int (``512Mi`` -> 536870912)."""
    return int(parse_quantity(value))
