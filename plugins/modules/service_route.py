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
        maintenance page, and fail naming the Services where it is not within O(wait_timeout).
      - O(state=restored) does not wait. Never waits in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
  - multiagent.ops.wait
attributes:
  check_mode:
    support: full
    description: Reads and reports what would change without writing or waiting.
  diff_mode:
    support: full
    description: Selectors and target ports before and after, per Service.
notes:
  - Waiting reads the core C(v1) Endpoints of each Service (served next to EndpointSlices)
    and lists the maintenance pods by O(selector).
  - The changes are merge patches, one per Service; a failure half-way says which Services
    were already re-pointed, and a re-run completes the work (the records are in the cluster).
requirements:
  - python >= 3.11 (on the host that runs the module)
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
    - When a write fails half-way, the task fails with these results; C(changed) is false
      for the Services it did not reach.
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

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import traffic


def argspec():
    return k8s_module.argspec(
        wait=True,
        namespace=dict(type="str", required=True),
        services=dict(type="list", elements="str", required=True),
        state=dict(type="str", default=traffic.MAINTENANCE, choices=list(traffic.STATES)),
        selector=dict(type="dict"),
        port_name=dict(type="str", default="http"),
        purpose=dict(type="str", default="multiagent.ops"),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, traffic.run)


if __name__ == "__main__":
    main()
