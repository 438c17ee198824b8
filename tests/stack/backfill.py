"""30 days of metrics for the stack's Prometheus, written as OpenMetrics for
``promtool tsdb create-blocks-from openmetrics``.

Deterministic: fixed timestamps ending at END (2026-12-01T00:00:00Z), noise from a
``random.Random`` seeded with the series' name, so the same parameters give the same text
and the same blocks. The blocks are cached by :func:`digest` (this file's source plus the
parameters): a change of either builds them anew.

What it holds, per region (REGIONS) and MPLP component (COMPONENTS), namespace ``mplp``,
every sample every STEP seconds from END - DAYS days to END - STEP, every series with a
``region`` label:

- one pod at a time per component, renamed by a rollout every ROLLOUT_DAYS days: pod
  ``mplp-<c>-<rs hash>-<suffix>`` of ReplicaSet ``mplp-<c>-<rs hash>`` (kube_pod_owner);
- ``container_cpu_usage_seconds_total{namespace,pod,container}`` (cAdvisor, a counter
  starting at 0 with each pod), ``container_memory_working_set_bytes{...}``;
- ``kube_pod_container_resource_requests{namespace,pod,container,resource="cpu",unit="core"}``
  and ``{resource="memory",unit="byte"}``, ``kube_pod_owner{namespace,pod,owner_kind=
  "ReplicaSet",owner_name,owner_is_controller="true"}`` (kube-state-metrics);
- ``http_requests_total{namespace,service="mplp-<c>",method="GET",status="200"|"500"}`` and
  ``http_request_duration_seconds_bucket{...,le="0.5"|"2"|"+Inf"}`` (the seeds' names).

Usage (CPU, memory, request rate) follows a daily cycle plus a linear trend per component
(:func:`profile`): some components grow towards their requests, some stay far below them.
One incident: ``core`` in ``us-east-1`` answers 20 % errors for one hour on day 20.

    python tests/stack/backfill.py OUT.txt     # write the text
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
from pathlib import Path

END = 1796083200  # 2026-12-01T00:00:00Z
DAYS = 30
STEP = 300
ROLLOUT_DAYS = 7
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
COMPONENTS = (
    "context",
    "plan",
    "role",
    "confirm",
    "trace",
    "extension",
    "dialog",
    "collab",
    "core",
    "network",
)
NAMESPACE = "mplp"
BUCKETS = ("0.5", "2", "+Inf")
INCIDENT = {"region": "us-east-1", "component": "core", "start": END - 10 * 86400, "seconds": 3600}


def params():
    return {
        "end": END,
        "days": DAYS,
        "step": STEP,
        "rollout_days": ROLLOUT_DAYS,
        "regions": list(REGIONS),
        "components": list(COMPONENTS),
        "buckets": list(BUCKETS),
    }


def digest():
    """The cache key of the blocks: this generator's source and its parameters."""
    text = Path(__file__).read_bytes() + repr(sorted(params().items())).encode()
    return hashlib.sha256(text).hexdigest()


def profile(region, component):
    """Requests and usage of one component in one region: CPU cores and memory bytes requested,
    the usage at START as a share of the request, its growth over the 30 days (share points),
    and the request rate per second."""
    i, r = COMPONENTS.index(component), REGIONS.index(region)
    cpu_request = (0.25, 0.5, 1.0)[i % 3]
    mem_request = (256, 512, 1024)[(i + r) % 3] * 2**20
    cpu_share = 0.15 + 0.05 * ((i * 7 + r * 3) % 9)  # 0.15 .. 0.55
    cpu_growth = (-0.05, 0.0, 0.1, 0.3, 0.45)[(i + r) % 5]
    mem_share = 0.2 + 0.05 * ((i * 5 + r) % 10)  # 0.2 .. 0.65
    mem_growth = (0.0, 0.05, 0.2, 0.35)[(i + 2 * r) % 4]
    rps = 5.0 + 3.0 * i + 2.0 * r
    return {
        "cpu_request": cpu_request,
        "mem_request": mem_request,
        "cpu_share": cpu_share,
        "cpu_growth": cpu_growth,
        "mem_share": mem_share,
        "mem_growth": mem_growth,
        "rps": rps,
        "rps_growth": (0.1, 0.6, 0.25)[(i + r) % 3],
    }


def _hash(text, n):
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def pods(region, component):
    """``[(pod, replicaset, first, last)]``: the pod of each rollout and its sample times."""
    start = END - DAYS * 86400
    out, first, gen = [], start, 0
    while first < END:
        last = min(first + ROLLOUT_DAYS * 86400, END) - STEP
        rs = "mplp-%s-%s" % (component, _hash("%s/%s/%d" % (region, component, gen), 10))
        pod = "%s-%s" % (rs, _hash("pod/%s/%d" % (region, gen), 5))
        out.append((pod, rs, first, last))
        first, gen = last + STEP, gen + 1
    return out


def _daily(ts):
    """A daily cycle between 0.7 and 1.3, peaking at 14:00 UTC."""
    return 1.0 + 0.3 * math.sin((ts % 86400 - 8 * 3600) / 86400 * 2 * math.pi)


def _labels(**kw):
    return "{%s}" % ",".join('%s="%s"' % kv for kv in kw.items())


def generate(write):
    """Call ``write(text)`` with the OpenMetrics exposition, family by family."""
    start = END - DAYS * 86400
    span = float(DAYS * 86400)
    times = range(start, END, STEP)
    families = {
        "container_cpu_usage_seconds_total": "counter",
        "container_memory_working_set_bytes": "gauge",
        "kube_pod_container_resource_requests": "gauge",
        "kube_pod_owner": "gauge",
        "http_requests_total": "counter",
        "http_request_duration_seconds_bucket": "unknown",
    }
    for family, kind in families.items():
        name = family[: -len("_total")] if kind == "counter" else family
        write("# TYPE %s %s\n" % (name, kind))
        for region in REGIONS:
            for comp in COMPONENTS:
                _series(write, family, region, comp, profile(region, comp), start, span, times)
    write("# EOF\n")


def _series(write, family, region, comp, prof, start, span, times):
    rng = random.Random("%s/%s/%s" % (family, region, comp))
    base = {"namespace": NAMESPACE, "region": region}
    if family.startswith("http_"):
        _http(write, family, region, comp, prof, start, span, times, rng, base)
        return
    for pod, rs, first, last in pods(region, comp):
        labels = dict(base, pod=pod, container=comp)
        if family == "container_cpu_usage_seconds_total":
            total, lines = 0.0, []
            for ts in range(first, last + 1, STEP):
                share = prof["cpu_share"] + prof["cpu_growth"] * (ts - start) / span
                cores = max(prof["cpu_request"] * share * _daily(ts) * (1 + rng.gauss(0, 0.05)), 0.001)
                total += cores * STEP
                lines.append("%s%s %.3f %d\n" % (family, _labels(**labels), total, ts))
            write("".join(lines))
        elif family == "container_memory_working_set_bytes":
            lines = []
            for ts in range(first, last + 1, STEP):
                share = prof["mem_share"] + prof["mem_growth"] * (ts - start) / span
                value = prof["mem_request"] * share * (1 + 0.05 * (_daily(ts) - 1) + rng.gauss(0, 0.02))
                lines.append("%s%s %d %d\n" % (family, _labels(**labels), value, ts))
            write("".join(lines))
        elif family == "kube_pod_container_resource_requests":
            for resource, unit, value in (
                ("cpu", "core", "%g" % prof["cpu_request"]),
                ("memory", "byte", "%d" % prof["mem_request"]),
            ):
                text = "%s%s %s" % (family, _labels(**dict(labels, resource=resource, unit=unit)), value)
                write("".join("%s %d\n" % (text, ts) for ts in range(first, last + 1, STEP)))
        else:  # kube_pod_owner
            owner = dict(base, pod=pod, owner_kind="ReplicaSet", owner_name=rs, owner_is_controller="true")
            text = "%s%s 1" % (family, _labels(**owner))
            write("".join("%s %d\n" % (text, ts) for ts in range(first, last + 1, STEP)))


def _http(write, family, region, comp, prof, start, span, times, rng, base):
    labels = dict(base, service="mplp-%s" % comp, method="GET")
    ok = err = 0.0
    slow = {b: 0.0 for b in BUCKETS}
    ok_lines, err_lines, bucket_lines = [], [], {b: [] for b in BUCKETS}
    incident = INCIDENT["region"] == region and INCIDENT["component"] == comp
    for ts in times:
        rps = prof["rps"] * (1 + prof["rps_growth"] * (ts - start) / span) * _daily(ts)
        n = max(rps * STEP * (1 + rng.gauss(0, 0.03)), 0.0)
        ratio = 0.005
        if incident and INCIDENT["start"] <= ts < INCIDENT["start"] + INCIDENT["seconds"]:
            ratio = 0.2
        ok += round(n * (1 - ratio))
        err += round(n * ratio)
        total = round(n)
        # Latency: 90 % under 0.5 s, 99 % under 2 s, more of the tail at the daily peak.
        slow["0.5"] += round(total * (0.9 - 0.05 * (_daily(ts) - 1)))
        slow["2"] += round(total * 0.99)
        slow["+Inf"] += total
        if family == "http_requests_total":
            ok_lines.append("%s%s %d %d\n" % (family, _labels(**dict(labels, status="200")), ok, ts))
            err_lines.append("%s%s %d %d\n" % (family, _labels(**dict(labels, status="500")), err, ts))
        else:
            for b in BUCKETS:
                bucket_lines[b].append("%s%s %d %d\n" % (family, _labels(**dict(labels, le=b)), slow[b], ts))
    if family == "http_requests_total":
        write("".join(ok_lines))
        write("".join(err_lines))
    else:
        for b in BUCKETS:
            write("".join(bucket_lines[b]))


def write_file(path):
    with open(path, "w") as out:
        generate(out.write)


if __name__ == "__main__":
    write_file(sys.argv[1])
