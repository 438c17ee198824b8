#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: service_route
short_description: Point Services at a maintenance page with a record in the cluster, and back
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - "O(state=maintenance): records each Service's C(spec.selector) in an annotation on the
    Service (C(multiagent.ops/recorded-selector), JSON) and replaces it with O(selector), the
    labels of the maintenance pods. Whatever fronts the Service (an Ingress, an OpenShift Route,
    a LoadBalancer, in-cluster clients) then reaches the maintenance page, with no change to
    the Ingress or Route."
  - A port whose C(targetPort) is not O(port_name) (a number, or another name) would not
    reach the maintenance pods; it is pointed at O(port_name) and its original target is
    recorded in C(multiagent.ops/recorded-target-ports). UDP and SCTP ports are left alone.
  - Re-running keeps the first record, so a second run never records the maintenance
    selector as the Service's own.
  - "O(state=restored): puts back the recorded selector and target ports and removes the
    records. It works from any later run, because the record is in the cluster; a Service
    without a record is left as it is (with a warning when it selects the maintenance pods)."
  - Reads every Service first and fails naming the one that is missing, cannot be
    re-pointed (C(ExternalName), no selector) or carries a damaged record, before changing
    anything.
options:
  namespace:
    description: Namespace of the Services.
    type: str
    required: true
  services:
    description: Names of the Services to re-point or restore.
    type: list
    elements: str
    required: true
  state:
    description: C(maintenance) or C(restored).
    type: str
    default: maintenance
    choices: [maintenance, restored]
  selector:
    description:
      - Labels of the maintenance pods. Required with O(state=maintenance).
      - With O(state=restored), only used to warn about Services that select these pods
        without a record to go back to.
    type: dict
  port_name:
    description: Name of the maintenance pods' container port the Services must target.
    type: str
    default: http
  purpose:
    description: Who re-points the Services and why, kept in C(multiagent.ops/routed-by).
    type: str
    default: multiagent.ops
  wait:
    description:
      - With O(state=maintenance), wait until the Endpoints of every Service list at least one
        ready pod and only pods that match O(selector), that is until traffic is on the
        maintenance page.
      - Not done in check mode.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 120
  api_timeout:
    description: Timeout in seconds of each Kubernetes API request.
    type: float
    default: 15
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change without writing or waiting.
  diff_mode:
    support: full
    description: Selectors and target ports before and after, per Service.
notes:
  - Waiting reads the core C(v1) Endpoints of each Service (served next to EndpointSlices).
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Send the application's traffic to the maintenance page
  multiagent.ops.service_route:
    namespace: mplp-production
    services: [mplp-core, mplp-plan]
    selector:
      app.kubernetes.io/name: mplp-maintenance
      app.kubernetes.io/component: maintenance-page
    purpose: maintenance.yml by awx-job-4242

- name: Later (even from another run), give the Services back to the application
  multiagent.ops.service_route:
    namespace: mplp-production
    services: [mplp-core, mplp-plan]
    state: restored
"""

RETURN = r"""
services:
  description:
    - Per Service, C(object), C(selector_before), C(selector_after), C(recorded) (the
      Service's own selector, from the record or about to be recorded; null without one),
      C(target_ports_before), C(target_ports_after) (C(<port>/<protocol>) to target) and
      C(changed).
    - With O(state=maintenance) and O(wait), also C(ready_endpoints).
  returned: always
  type: list
  elements: dict
  sample:
    - object: Service/mplp-core
      selector_before: {app.kubernetes.io/name: mplp, app.kubernetes.io/component: core}
      selector_after: {app.kubernetes.io/name: mplp-maintenance, app.kubernetes.io/component: maintenance-page}
      recorded: {app.kubernetes.io/name: mplp, app.kubernetes.io/component: core}
      target_ports_before: {8080/TCP: http}
      target_ports_after: {8080/TCP: http}
      ready_endpoints: 2
      changed: true
"""

import datetime
import time
from urllib.parse import quote

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import traffic as tr


def argspec():
    return kube_module.argspec(
        namespace=dict(type="str", required=True),
        services=dict(type="list", elements="str", required=True),
        state=dict(type="str", default="maintenance", choices=["maintenance", "restored"]),
        selector=dict(type="dict"),
        port_name=dict(type="str", default="http"),
        purpose=dict(type="str", default="multiagent.ops"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        api_timeout=dict(type="float", default=15),
    )


def _path(ns, kind, name=None):
    base = "/api/v1/namespaces/%s/%s" % (quote(ns), kind)
    return base if name is None else "%s/%s" % (base, quote(name))


def _selector_string(selector):
    return ",".join("%s=%s" % (k, v) for k, v in sorted(selector.items()))


def _read_all(module, reader):
    """Every Service, before anything changes; a missing one fails the task."""
    ns = module.params["namespace"]
    services = []
    for name in dict.fromkeys(module.params["services"]):  # once each, in order
        svc = reader.get_optional(_path(ns, "services", name), "read Service %s" % name)
        if svc is None:
            module.fail_json(
                msg="Service %s does not exist in namespace %s; nothing was changed" % (name, ns)
            )
        services.append(svc)
    return services


def _wait(module, reader, results, deadline, sleep, clock):
    """Until every Service's Endpoints list ready maintenance pods and nothing else."""
    p = module.params
    ns = p["namespace"]
    pending = {r["object"].split("/", 1)[1]: r for r in results}
    while True:
        pods = reader.list(
            _path(ns, "pods"),
            "list the maintenance pods in namespace %s" % ns,
            label_selector=_selector_string(p["selector"]),
        )
        names = {(pod.get("metadata") or {}).get("name") for pod in pods}
        for name in list(pending):
            endpoints = reader.get_optional(_path(ns, "endpoints", name), "read Endpoints %s" % name)
            ready, others = tr.ready_on(endpoints, names)
            pending[name]["ready_endpoints"] = ready
            pending[name]["other_endpoints"] = others
            if ready and not others:
                del pending[name]
        if not pending or clock() >= deadline:
            return sorted(pending.values(), key=lambda r: r["object"])
        sleep(1)


def _plan(module, services, at):
    p = module.params
    try:
        if p["state"] == "maintenance":
            return [
                (svc, *tr.plan_maintenance(svc, p["selector"], p["port_name"], p["purpose"], at))
                for svc in services
            ]
        return [(svc, *tr.plan_restore(svc)) for svc in services]
    except tr.TrafficError as exc:
        module.fail_json(msg="%s; nothing was changed" % exc)


def run(module, reader, sleep=time.sleep, clock=time.monotonic):
    p = module.params
    ns = p["namespace"]
    maintenance = p["state"] == "maintenance"
    if maintenance and not p["selector"]:
        module.fail_json(msg="state=maintenance needs the maintenance pods' selector; nothing was changed")
    at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    planned = _plan(module, _read_all(module, reader), at)

    done = []
    for svc, patch, summary in planned:
        summary["changed"] = bool(patch)
        if not patch and not maintenance and p["selector"] and summary["selector_after"] == p["selector"]:
            module.warn(
                "%s selects the maintenance pods but has no record of its own selector: left alone"
                % summary["object"]
            )
        if patch and not module.check_mode:
            status, answer = reader.send(
                "PATCH", _path(ns, "services", svc["metadata"]["name"]), patch, "patch %s" % summary["object"]
            )
            if not 200 <= status < 300:
                message = answer.get("message") if isinstance(answer, dict) else ""
                module.fail_json(
                    msg="Failed to %s %s: HTTP %d %s; already done: %s"
                    % (
                        "re-point" if maintenance else "restore",
                        summary["object"],
                        status,
                        message,
                        ", ".join(done) or "nothing",
                    ),
                    services=[s for _svc, _p, s in planned],
                )
        if patch:
            done.append(summary["object"])

    results = [s for _svc, _p, s in planned]
    result = dict(changed=bool(done), services=results)
    if module._diff:
        result["diff"] = {
            "before": {
                s["object"]: {"selector": s["selector_before"], "targetPorts": s["target_ports_before"]}
                for s in results
            },
            "after": {
                s["object"]: {"selector": s["selector_after"], "targetPorts": s["target_ports_after"]}
                for s in results
            },
        }
    if maintenance and p["wait"] and not module.check_mode and results:
        late = _wait(module, reader, results, clock() + p["wait_timeout"], sleep, clock)
        detail = "; ".join(
            "%s: %d ready endpoint(s)%s"
            % (
                r["object"],
                r["ready_endpoints"],
                ", still listing " + ", ".join(r["other_endpoints"]) if r["other_endpoints"] else "",
            )
            for r in late
        )
        for summary in results:
            summary.pop("other_endpoints", None)
        if late:
            module.fail_json(
                msg="traffic is not on the maintenance page after %ds (%s); the switch is made and "
                "recorded: check the maintenance pods (%s), then re-run to wait again"
                % (p["wait_timeout"], detail, _selector_string(p["selector"])),
                **result,
            )
    module.exit_json(**result)


def main():
    module = kube_module.new_module(argspec(), supports_check_mode=True)
    kube_module.legacy_main(module, run)


if __name__ == "__main__":
    main()
