# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which components of the platform description a lifecycle runbook acts on.

restart.yml, rollback.yml and upgrade.yml name components (or none: every Deployment
component) and act on their workloads; what they may act on differs only in the workload
kinds they accept. The choice and the reasons to refuse it are made here, once, from the
inventory's description; the runbooks only report the problems.
"""

from __future__ import annotations

from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec

DEFAULT_KIND = "Deployment"


def _listing(items):
    return ", ".join(items) or "none"


def _kinds_text(kinds):
    kinds = list(kinds)
    if len(kinds) == 1:
        return "%ss" % kinds[0]
    return "a %s or %s" % (", ".join(kinds[:-1]), kinds[-1])


def select_components(components, names=None, kinds=(DEFAULT_KIND,), one_kind=False):
    """``platform_components`` and the names a run was given -> what it acts on.

    ``names`` empty or None means every component of kind Deployment (databases in
    StatefulSets are restarted, rolled back or upgraded only when named). ``kinds`` are the
    workload kinds the runbook accepts; ``one_kind`` asks for a single kind per run (one
    rollout call acts on one kind).

    Returns ``{"names", "targets", "workloads", "kind", "known", "problems"}``: ``targets``
    are ``{name, kind, workload}`` in the description's order (``workloads`` their workload
    names), ``kind`` their kind when they
    share one, ``known`` every component's name, ``problems`` what makes the choice
    unusable (unknown names, a kind the runbook does not act on, several kinds with
    ``one_kind``), each naming the components. Raises spec.SpecError for a description
    that cannot be read.
    """
    everything = spec.health_components(components)
    known = [c["name"] for c in everything]
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(names or [])) or [c["name"] for c in everything if c["kind"] == DEFAULT_KIND]
    targets = [c for c in everything if c["name"] in wanted]
    problems = []
    unknown = [n for n in wanted if n not in known]
    if not wanted:
        problems.append("the platform has no %s component to act on: name the components" % DEFAULT_KIND)
    elif unknown:
        problems.append(
            "unknown component(s) %s; the platform has: %s" % (", ".join(unknown), _listing(known))
        )
    else:
        wrong = [t for t in targets if t["kind"] not in kinds]
        if wrong:
            problems.append(
                "not %s: %s"
                % (_kinds_text(kinds), ", ".join("%s (%s)" % (t["name"], t["kind"]) for t in wrong))
            )
        elif one_kind and len({t["kind"] for t in targets}) > 1:
            problems.append(
                "components of one workload kind per run, got: %s"
                % ", ".join("%s %s" % (t["name"], t["kind"]) for t in targets)
            )
    shared = {t["kind"] for t in targets}
    return {
        "names": wanted,
        "targets": targets,
        "workloads": [t["workload"] for t in targets],
        "kind": shared.pop() if len(shared) == 1 else None,
        "known": known,
        "problems": problems,
    }


def maintenance_targets(components, keep=None):
    """What maintenance mode (maintenance.yml) takes down: every component but those in
    ``keep`` (the database, the cache).

    Returns ``{"workloads", "services", "kept", "problems"}``: ``workloads`` the ``[{kind,
    name}]`` to record and scale to zero (the ``workloads`` option of quiesce), ``services``
    the in-cluster Services to point at the maintenance page (external components' Services
    point outside the cluster), ``kept`` the components left running, ``problems`` what
    maintenance mode cannot do (nothing to take down; a DaemonSet, which cannot be scaled
    to zero).
    """
    keep = [name for name in dict.fromkeys(keep or []) if name]
    everything = spec.health_components(components)
    by_name = {c.get("name"): c for c in components or [] if isinstance(c, dict)}
    app = [c for c in everything if c["name"] not in keep]
    services = []
    for comp in app:
        service = (by_name.get(comp["name"]) or {}).get("service") or {}
        if comp["kind"] != "none" and service.get("name") and service["name"] not in services:
            services.append(service["name"])
    workloads = [{"kind": c["kind"], "name": c["workload"]} for c in app if c["kind"] in spec.WORKLOAD_KINDS]
    problems = []
    if not services and not workloads:
        problems.append("no application component to take down (keeping running: %s)" % _listing(keep))
    daemons = [c["name"] for c in app if c["kind"] == "DaemonSet"]
    if daemons:
        problems.append(
            "DaemonSets cannot be scaled to zero (add them to maintenance_keep_running): %s"
            % ", ".join(daemons)
        )
    return {
        "workloads": workloads,
        "services": services,
        "kept": [c["name"] for c in everything if c["name"] in keep],
        "problems": problems,
    }
