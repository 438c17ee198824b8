"""Validate rendered Prometheus Operator objects against the operator's published CRD schemas.

    from tests.operator_schema import validate_operator_object, operator_problems
    validate_operator_object(obj)          # raises OperatorSchemaError naming every problem
    operator_problems(obj) -> [str]        # the same problems as a list ("" path = the object)

The schemas are the CRDs' own ``openAPIV3Schema`` (vendored under
tests/fixtures/prometheus_operator, checksummed in its sources.json) for ServiceMonitor and
PrometheusRule (monitoring.coreos.com/v1) and AlertmanagerConfig (v1alpha1).

What the API server would do with fieldValidation=Strict (kubectl's default since 1.27) is
done here too: a field the schema does not know is an error, not silently pruned, except
below ``x-kubernetes-preserve-unknown-fields``. ``metadata`` is checked as the API server
checks any object's (a DNS-1123 name, string labels and annotations). The schemas' CEL rules
(``x-kubernetes-validations``) are not evaluated: no CEL interpreter here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from pathlib import Path

import jsonschema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "prometheus_operator"
GROUP = "monitoring.coreos.com"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class OperatorSchemaError(ValueError):
    """An object the operator's CRD schema refuses; ``problems`` lists each one."""

    def __init__(self, what, problems):
        super().__init__("%s does not match its CRD schema: %s" % (what, "; ".join(problems)))
        self.problems = problems


@functools.cache
def sources():
    return json.loads((FIXTURES / "sources.json").read_text())


def served():
    """``{(apiVersion, kind): file}`` of the vendored schemas."""
    return {
        ("%s/%s" % (entry["group"], entry["version"]), entry["kind"]): name
        for name, entry in sources()["schemas"].items()
    }


def _strict(schema):
    """Unknown fields are errors wherever the schema lists the properties an object has."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@functools.cache
def validator(api_version, kind):
    """The jsonschema validator of one vendored CRD version (checksum checked first)."""
    name = served().get((api_version, kind))
    if name is None:
        raise KeyError("no vendored CRD schema for %s %s (have: %s)" % (api_version, kind, sorted(served())))
    text = (FIXTURES / name).read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    wanted = sources()["schemas"][name]["sha256"]
    if digest != wanted:
        raise RuntimeError("%s has sha256 %s, sources.json records %s" % (name, digest, wanted))
    schema = _strict(json.loads(text))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(copy.deepcopy(schema), format_checker=None)


def _metadata_problems(meta):
    problems = []
    if not isinstance(meta, dict):
        return ["metadata: must be an object"]
    name = meta.get("name")
    if not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        problems.append("metadata.name: %r is not a DNS-1123 subdomain" % (name,))
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not DNS_SUBDOMAIN.match(namespace)):
        problems.append("metadata.namespace: %r is not a namespace name" % (namespace,))
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            problems.append("metadata.%s: must map strings to strings, got %r" % (field, values))
    return problems


def operator_problems(obj):
    """What the operator's CRD schema (and the API server's metadata checks) find wrong with
    ``obj``: a list of ``<path>: <message>`` sentences, empty when it is valid."""
    if not isinstance(obj, dict):
        return ["the object must be a mapping, got %r" % (obj,)]
    try:
        check = validator(obj.get("apiVersion"), obj.get("kind"))
    except KeyError as exc:
        return [str(exc.args[0])]
    problems = _problems(check, obj)
    if obj.get("kind") == "AlertmanagerConfig":
        problems += _child_route_problems(obj)
    return problems + _metadata_problems(obj.get("metadata"))


def _problems(check, instance, prefix=()):
    return [
        "%s: %s" % (".".join(str(p) for p in prefix + tuple(err.absolute_path)) or "(object)", err.message)
        for err in sorted(check.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _child_route_problems(obj):
    """The CRD leaves child routes free-form (``x-kubernetes-preserve-unknown-fields``); the
    operator decodes each as a Route and refuses the object when one does not decode, so they
    are checked against the top-level route's schema, at every depth."""
    schema = validator(obj["apiVersion"], obj["kind"]).schema
    route_check = type(validator(obj["apiVersion"], obj["kind"]))(
        schema["properties"]["spec"]["properties"]["route"]
    )
    problems = []
    pending = [(("spec", "route"), ((obj.get("spec") or {}).get("route") or {}))]
    while pending:
        path, route = pending.pop()
        children = route.get("routes") if isinstance(route, dict) else None
        for i, child in enumerate(children or []):
            where = path + ("routes", i)
            problems += _problems(route_check, child, where)
            pending.append((where, child))
    return problems


def validate_operator_object(obj):
    """Raise OperatorSchemaError unless ``obj`` is a valid ServiceMonitor, PrometheusRule or
    AlertmanagerConfig for the vendored operator version; returns ``obj``."""
    problems = operator_problems(obj)
    if problems:
        what = "%s %s" % (
            (obj or {}).get("kind") if isinstance(obj, dict) else "object",
            ((obj or {}).get("metadata") or {}).get("name") if isinstance(obj, dict) else "",
        )
        raise OperatorSchemaError(what.strip(), problems)
    return obj
