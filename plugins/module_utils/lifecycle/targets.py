# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The targets of scale.yml: the components named with their replica counts, as the
``targets`` option of multiagent.ops.scale wants them, from the inventory's description.

Each target carries the component's autoscaling range from the inventory, so the module
can refuse a count outside it and agree with the component's HorizontalPodAutoscaler.
Restoring the autoscalers' ranges needs no count: without names, it restores every
autoscaled component.
"""

from __future__ import annotations

import re

from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec

SCALABLE = ("Deployment", "StatefulSet")
_COUNT = re.compile(r"^[0-9]+$")


def _count(value):
    """A replica count given on the command line (``-e scale_replicas=3`` is a string), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and _COUNT.match(value.strip()):
        return int(value.strip())
    return None


def _kind(comp):
    """The kind as the description decides it (a database or cache without one is a
    StatefulSet); a wrong role or kind stays as written, and is reported as unscalable."""
    try:
        return platform_spec.component_kind(comp)
    except platform_spec.SpecError:
        return comp.get("kind", "Deployment")


def scale_targets(components, given=None, restore=False):
    """``platform_components``, ``given`` (``{component: replicas}``; with ``restore`` also a
    list of names) -> ``{"names", "targets", "known", "problems", "stops"}``.

    ``targets``: ``{component, kind, name, replicas, min, max}`` in the description's
    order (``name`` is the workload; ``replicas`` is None when restoring; ``min``/``max``
    the inventory's autoscaling range, None without one). ``stops``: some target is to be
    scaled to 0 (a destructive change: the runbook's gate then wants a window). ``problems``
    name what makes the request unusable: nothing named, unknown components, components
    without a Deployment or StatefulSet, counts that are not whole numbers of 0 or more.
    """
    components = [c for c in components or [] if isinstance(c, dict)]
    known = [c.get("name") for c in components]
    given = given if given not in (None, "") else {}
    if isinstance(given, dict):
        names = list(given)
    elif isinstance(given, (list, tuple)):
        names = list(dict.fromkeys(given))
    else:
        names = [str(given)]
    if not names and restore:
        names = [c.get("name") for c in components if c.get("autoscaling")]

    problems = []
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append("unknown component(s) %s" % ", ".join(unknown))
    unscalable = [c.get("name") for c in components if c.get("name") in names and _kind(c) not in SCALABLE]
    if unscalable:
        problems.append(
            "component(s) without a Deployment or StatefulSet to scale: %s" % ", ".join(unscalable)
        )
    if not restore:
        if not isinstance(given, dict):
            problems.append(
                "replicas must be given per component ({component: replicas}), got a list of names"
            )
        else:
            bad = ["%s=%s" % (name, value) for name, value in given.items() if _count(value) is None]
            if bad:
                problems.append("replicas must be a whole number, 0 or more, got %s" % ", ".join(bad))

    targets = []
    for comp in components:
        name = comp.get("name")
        if name not in names:
            continue
        scaling = comp.get("autoscaling") or {}
        targets.append(
            {
                "component": name,
                "kind": _kind(comp),
                "name": comp.get("workload") or name,
                "replicas": None if restore or not isinstance(given, dict) else _count(given.get(name)),
                "min": scaling.get("min"),
                "max": scaling.get("max"),
            }
        )
    return {
        "names": names,
        "targets": targets,
        "known": known,
        "problems": problems,
        "stops": not restore and any(t["replicas"] == 0 for t in targets),
    }
