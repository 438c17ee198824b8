# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every ``multiagent.ops/*`` annotation the collection writes, in one place.

A runbook step that changes something it must be able to undo writes what it changed onto
the object itself, so that a later run, another operator or an AWX job can read it back
and put it back: nothing lives only in a playbook's memory. Other annotations steer how
the collection applies objects. Each constant says who writes it, what it records and who
reads it back. Python code uses these names; YAML that must name an annotation (the
``roles/deploy`` apply task, the maintenance page template, runbook messages) spells the
value out, and is listed here under "read back by".
"""

from __future__ import annotations

import datetime

PREFIX = "multiagent.ops/"

# -- the replica record (multiagent.ops.quiesce) ----------------------------------------------

#: Written by quiesce (state=quiesced) on a Deployment or StatefulSet: its ``spec.replicas``
#: before it was scaled to zero, as a decimal string. Never overwritten by a later quiesce.
#: Read back by quiesce (state=restored: scales back to it and drops the record), by scale
#: (refuses to scale a quiesced workload) and by k8s_apply through roles/deploy
#: ``refuse_annotations`` (no deploy over an application in maintenance).
RECORDED_REPLICAS = PREFIX + "recorded-replicas"
#: Written by quiesce (state=quiesced) on a CronJob: its ``spec.suspend`` before it was
#: suspended, ``"true"`` or ``"false"``. Read back by quiesce (state=restored).
RECORDED_SUSPEND = PREFIX + "recorded-suspend"
#: Written by quiesce beside the records above: its ``purpose`` (who quiesced, and why).
#: Read back by scale's refusal message, and by people.
QUIESCED_BY = PREFIX + "quiesced-by"
#: Written by quiesce beside the records above: when (UTC, RFC 3339). Read back by people.
QUIESCED_AT = PREFIX + "quiesced-at"

# -- the selector record (multiagent.ops.service_route) ---------------------------------------

#: Written by service_route (state=maintenance) on a Service: its own ``spec.selector``
#: (compact JSON) before it was pointed at the maintenance pods. Never overwritten by a later
#: run. Read back by service_route (state=restored), by k8s_apply through roles/deploy
#: ``refuse_annotations``, and named in playbooks/maintenance.yml's messages.
RECORDED_SELECTOR = PREFIX + "recorded-selector"
#: Written by service_route (state=maintenance) on a Service whose ports did not target the
#: maintenance pods' port name: ``{"<port>/<protocol>": original targetPort}`` (compact
#: JSON). Read back by service_route (state=restored).
RECORDED_TARGET_PORTS = PREFIX + "recorded-target-ports"
#: Written by service_route beside the selector record: its ``purpose``. Read back by people.
ROUTED_BY = PREFIX + "routed-by"
#: Written by service_route beside the selector record: when (UTC). Read back by people.
ROUTED_AT = PREFIX + "routed-at"

# -- the autoscaler's range (multiagent.ops.scale) --------------------------------------------

#: Written by scale (state=scaled) on a HorizontalPodAutoscaler the first time it changes
#: its range: ``spec.minReplicas`` before (decimal string). Read back by scale
#: (state=restored), and by k8s_apply through roles/deploy ``hold_fields`` (the field is
#: kept while the record is there).
RECORDED_MIN_REPLICAS = PREFIX + "recorded-min-replicas"
#: As :data:`RECORDED_MIN_REPLICAS`, for ``spec.maxReplicas``.
RECORDED_MAX_REPLICAS = PREFIX + "recorded-max-replicas"
#: Written by scale on an HPA it changed: its ``purpose``. Dropped by the restore. Read back
#: by people.
SCALED_BY = PREFIX + "scaled-by"

# -- the lock (multiagent.ops.lease) ----------------------------------------------------------

#: Written by lease (state=acquired) on the Lease: what its holder does. Dropped on release.
#: Read back by lease, to tell whoever has to wait who holds the lock and why.
LEASE_PURPOSE = PREFIX + "purpose"

# -- how objects are applied (multiagent.ops.k8s_apply) ---------------------------------------

#: Written by k8s_apply on the pod template of a workload: the sha256 of the ConfigMaps and
#: Secrets the template uses, so that a change of their content rolls the pods. Read back by
#: k8s_apply (the same content: an unchanged template) and roles/deploy's molecule check.
CONFIG_CHECKSUM = PREFIX + "config-checksum"
#: Written by platform/render on a workload (its own metadata, not the pod template) that reads
#: a Secret or ConfigMap only when it first starts: ``Secret/name[,ConfigMap/name...]``, which
#: the config checksum leaves out (the database's initial password: a change of it must not
#: restart PostgreSQL, whose role password ALTER ROLE changes). Read back by k8s_apply and by
#: k8s_secret_rotate (security/rotation.py), which keeps such a workload running.
CONFIG_CHECKSUM_SKIP = PREFIX + "config-checksum-skip"
#: Written by platform/render (the platform_manifests filter) on a manifest that only makes
#: sense where a group/version is served (an OpenShift Route): its ``apiVersion``. Read back
#: by k8s_apply, which applies the object only where that group/version is served.
APPLY_IF_SERVED = PREFIX + "apply-if-served"
#: As :data:`APPLY_IF_SERVED`, for a manifest applied only where the group/version is NOT
#: served (the Ingress standing in for a Route).
APPLY_UNLESS_SERVED = PREFIX + "apply-unless-served"
#: Written by playbooks/templates/maintenance_page.yml.j2 on the maintenance page's pod
#: template: the sha256 of the page's content, so that a new page rolls its pods. Read back
#: by no one (the template spells the value out; it is listed here to keep the names unique).
PAGE_CHECKSUM = PREFIX + "page-checksum"
#: Written by platform/render (the platform_manifests filter, ``security.network_policies``) on
#: each NetworkPolicy it renders: the flow it allows, in words ("DNS over UDP and TCP 53 from
#: every pod of the namespace to kube-system k8s-app=kube-dns"). Read back by people and by
#: the security audit's coverage report.
FLOW = PREFIX + "flow"

# -- waivers (multiagent.ops.k8s_security_audit) ---------------------------------------------

#: Written by people (or rendered from the platform description) on an object whose finding
#: of one rule is accepted: the key is this, a dot and the rule id
#: (``multiagent.ops/waive.MAO-008``), the value ``YYYY-MM-DD reason`` (the last day it holds,
#: and why). Read back by k8s_security_audit (security/waivers.py).
WAIVE = PREFIX + "waive"

#: Every annotation above, by value.
ALL = (
    RECORDED_REPLICAS,
    RECORDED_SUSPEND,
    QUIESCED_BY,
    QUIESCED_AT,
    RECORDED_SELECTOR,
    RECORDED_TARGET_PORTS,
    ROUTED_BY,
    ROUTED_AT,
    RECORDED_MIN_REPLICAS,
    RECORDED_MAX_REPLICAS,
    SCALED_BY,
    LEASE_PURPOSE,
    CONFIG_CHECKSUM,
    CONFIG_CHECKSUM_SKIP,
    APPLY_IF_SERVED,
    APPLY_UNLESS_SERVED,
    PAGE_CHECKSUM,
    FLOW,
    WAIVE,
)


def stamp(moment=None):
    """The time written in a ``*-at`` record: UTC to the second (``2026-11-22T02:00:00Z``);
    now when ``moment`` is None."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
