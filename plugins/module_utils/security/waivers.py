# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waivers: a finding that is known, accepted for a reason, until a date.

Three sources, one meaning (a waiver turns a ``fail`` finding into ``waived`` and keeps its
reason):

* an annotation on the object itself, one per rule::

      metadata:
        annotations:
          multiagent.ops/waive.MAO-008: "2027-03-31 MPLP PostgreSQL writes to its root filesystem"

  The key is ``multiagent.ops/waive.<rule id>``; the value is the expiry date
  (``YYYY-MM-DD``, the last day the waiver holds, UTC), one or more spaces, and the reason.
  It waives the rule for every container of the object.
* a list (the module's ``waivers`` option, or the YAML or JSON ``waiver_file``: a list, or a
  mapping with a ``waivers`` list) of ``{rule, kind, namespace, name, container, reason,
  expires}``; ``rule``, ``reason`` and ``expires`` are required, the others narrow the
  waiver to objects of that kind, namespace, name and container (absent: any);
* checkov's own ``checkov.io/skip<N>: CKV_K8S_16=reason`` annotations, for the checks that
  checkov.py maps to rules, so that waivers written for checkov carry over. They have no
  expiry (checkov's have none).

An expired waiver waives nothing: the finding fails again, and the waiver is itself a
MAO-220 finding. A waiver that cannot be read (no date, a bad date, no reason, an unknown
rule) waives nothing and is a MAO-221 finding. MAO-220 and MAO-221 cannot be waived.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.module_utils.security import checkov
from ansible_collections.multiagent.ops.plugins.module_utils.security.checks import finding

ANNOTATION = records.WAIVE + "."
CHECKOV_ANNOTATION = "checkov.io/skip"
EXPIRED = "MAO-220"
MALFORMED = "MAO-221"
UNWAIVABLE = frozenset((EXPIRED, MALFORMED))
_VALUE = re.compile(r"^\s*(\S+)\s+(\S.*?)\s*$", re.S)
_FIELDS = ("rule", "kind", "namespace", "name", "container", "reason", "expires")


def _date(value):
    """A date from ``YYYY-MM-DD`` (or a date YAML already read); None when it is not one."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip()) if len(str(value).strip()) == 10 else None
    except ValueError:
        return None


def _waiver(rule_id, reason, expires, origin, **match):
    return dict(match, rule=rule_id, reason=reason, expires=expires, origin=origin)


def of_object(obj, obj_ref, source, today, known):
    """``(waivers, findings)`` of the annotations of one object: the waivers that hold, and
    the MAO-220/221 findings of those that do not. ``known``: the rule ids of the catalogue."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not annotations:
        return (), ()
    waivers, problems = [], []
    for key, value in annotations.items():
        if key.startswith(ANNOTATION):
            rule_id = key[len(ANNOTATION) :]
            where = "annotation %s" % key
            match = _VALUE.match(str(value or ""))
            expires = _date(match.group(1)) if match else None
            if rule_id not in known or rule_id in UNWAIVABLE:
                problem = "waives %s, which is not a rule that can be waived" % rule_id
            elif match is None or expires is None:
                problem = "is not 'YYYY-MM-DD reason'"
            else:
                problem = None
            if problem:
                problems.append(
                    finding(
                        MALFORMED,
                        "%s %s: %r" % (where, problem, value),
                        obj_ref,
                        None,
                        "metadata.annotations",
                        source,
                    )
                )
            elif expires < today:
                problems.append(
                    finding(
                        EXPIRED,
                        "%s expired on %s (%s)" % (where, expires.isoformat(), match.group(2)),
                        obj_ref,
                        None,
                        "metadata.annotations",
                        source,
                    )
                )
            else:
                waivers.append(_waiver(rule_id, match.group(2), expires.isoformat(), "annotation"))
        elif key.startswith(CHECKOV_ANNOTATION):
            check_id, reason = str(value or "").partition("=")[::2]
            for rule_id in checkov.CHECKOV.get(check_id.strip(), ()):
                waivers.append(
                    _waiver(rule_id, reason.strip() or "skipped for checkov (%s)" % key, None, "checkov")
                )
    return waivers, problems


def of_entries(entries, where, today, known):
    """``(waivers, findings)`` of a list of waivers (the ``waivers`` option or a waiver
    file, named by ``where``): the waivers that hold, and the MAO-220/221 findings of those
    that do not, each on the object the waiver names."""
    waivers, problems = [], []
    for index, entry in enumerate(entries or ()):
        label = "%s[%d]" % (where, index)
        if not isinstance(entry, dict):
            problems.append(
                finding(MALFORMED, "%s is not a mapping: %r" % (label, entry), _target({}), None, label)
            )
            continue
        target = _target(entry)
        unknown = sorted(set(entry) - set(_FIELDS))
        expires = _date(entry.get("expires"))
        reason = str(entry.get("reason") or "").strip()
        if entry.get("rule") not in known or entry.get("rule") in UNWAIVABLE:
            problem = "waives %r, which is not a rule that can be waived" % entry.get("rule")
        elif expires is None:
            problem = "has no expiry date YYYY-MM-DD (expires: %r)" % entry.get("expires")
        elif not reason:
            problem = "gives no reason"
        elif unknown:
            problem = "has unknown fields %s (known: %s)" % (", ".join(unknown), ", ".join(_FIELDS))
        else:
            problem = None
        if problem:
            problems.append(
                finding(MALFORMED, "%s %s" % (label, problem), target, entry.get("container"), label)
            )
        elif expires < today:
            problems.append(
                finding(
                    EXPIRED,
                    "%s (%s) expired on %s: %s" % (label, entry["rule"], expires.isoformat(), reason),
                    target,
                    entry.get("container"),
                    label,
                )
            )
        else:
            match = {field: entry.get(field) for field in ("kind", "namespace", "name", "container")}
            waivers.append(_waiver(entry["rule"], reason, expires.isoformat(), "file", **match))
    return waivers, problems


def _target(entry):
    return {
        "apiVersion": None,
        "kind": entry.get("kind") or "*",
        "namespace": entry.get("namespace"),
        "name": entry.get("name") or "*",
    }


def index(waivers):
    """``{rule: [waiver]}``, to look the waivers of a finding up by its rule."""
    by_rule = {}
    for waiver in waivers:
        by_rule.setdefault(waiver["rule"], []).append(waiver)
    return by_rule


def _holds(waiver, found):
    obj = found["object"]
    for field in ("kind", "namespace", "name"):
        wanted = waiver.get(field)
        if wanted is not None and wanted != "*" and wanted != obj.get(field):
            return False
    wanted = waiver.get("container")
    return wanted is None or wanted == found.get("container")


def apply(findings, *indexes):
    """Waive, in place, each ``fail`` finding a waiver of ``indexes`` (:func:`index`) holds
    for: status ``waived``, ``waiver`` {reason, expires, from}. Returns ``findings``."""
    for found in findings:
        if found["status"] != "fail" or found["rule"] in UNWAIVABLE:
            continue
        for by_rule in indexes:
            waiver = next((w for w in by_rule.get(found["rule"], ()) if _holds(w, found)), None)
            if waiver is not None:
                found["status"] = "waived"
                found["waiver"] = {
                    "reason": waiver["reason"],
                    "expires": waiver["expires"],
                    "from": waiver["origin"],
                }
                break
    return findings
