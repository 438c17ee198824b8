"""Label and field selectors, as the apiserver parses and applies them on LIST and WATCH."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

# key [op value] where op is one of = == != in notin; or !key, or bare key (exists).
_SET_RE = re.compile(r"^\s*(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*(?P<key>[^\s!=<>(),]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<value>[^\s,()]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=<>(),]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!exists", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "in":
                return present and value in self.values
            case "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case "!exists":
                return not present
            case "gt" | "lt":
                try:
                    number = int(value or "")
                except ValueError:
                    return False
                limit = int(self.values[0])
                return number > limit if self.op == "gt" else number < limit
        return False


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` value lists."""
    terms, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    requirements: list[Requirement] = []
    for term in _split_top_level(text or ""):
        if match := _SET_RE.match(term):
            values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(Requirement(match["key"], match["op"], values))
        elif match := _CMP_RE.match(term):
            op, value = match["op"], match["value"]
            if op in ("=", "=="):
                requirements.append(Requirement(match["key"], "in", (value,)))
            elif op == "!=":
                requirements.append(Requirement(match["key"], "notin", (value,)))
            else:
                if not value.lstrip("-").isdigit():
                    raise bad_request(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value "
                        f"must be an integer: {term.strip()}"
                    )
                requirements.append(Requirement(match["key"], "gt" if op == ">" else "lt", (value,)))
        elif match := _EXISTS_RE.match(term):
            op = "!exists" if match["neg"] else "exists"
            requirements.append(Requirement(match["key"], op))
        else:
            raise bad_request(f"unable to parse requirement: found '{term.strip()}', expected: identifier")
    return requirements


def selector_from_label_selector(selector: Mapping[str, Any] | None) -> list[Requirement]:
    """Convert a ``LabelSelector`` object (matchLabels/matchExpressions) to requirements."""
    requirements: list[Requirement] = []
    if not selector:
        return requirements
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append(Requirement(key, "in", (str(value),)))
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        requirements.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
    return requirements


def labels_match(requirements: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(requirement.matches(labels) for requirement in requirements)


# Field selectors: which fields each resource supports (beyond metadata.name/namespace).
_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
    "secrets": ("type",),
    "replicasets": ("status.replicas",),
    "jobs": ("status.successful",),
}
_FIELD_RE = re.compile(r"^\s*(?P<field>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")

FieldRequirement = tuple[str, bool, str]  # (field, wanted-equal, value)


def parse_field_selector(text: str | None, plural: str) -> list[FieldRequirement]:
    requirements: list[FieldRequirement] = []
    allowed = ("metadata.name", "metadata.namespace") + _FIELDS.get(plural, ())
    for term in (text or "").split(","):
        if not term.strip():
            continue
        match = _FIELD_RE.match(term)
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        if match["field"] not in allowed:
            raise bad_request(f"field label not supported: {match['field']}")
        requirements.append((match["field"], match["op"] != "!=", match["value"]))
    return requirements


def _field_value(obj: Mapping[str, Any], field: str) -> str:
    value: Any = obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if field == "source" and isinstance(value, Mapping):
        value = value.get("component")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fields_match(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all((_field_value(obj, f) == v) == equal for f, equal, v in requirements)


def make_filter(
    label_selector: str | None, field_selector: str | None, plural: str
) -> Callable[[Mapping[str, Any]], bool]:
    """Parse both selectors once (raising 400 on bad syntax) and return a predicate."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, plural)

    def predicate(obj: Mapping[str, Any]) -> bool:
        return labels_match(labels, obj.get("metadata", {}).get("labels")) and fields_match(fields, obj)

    return predicate
