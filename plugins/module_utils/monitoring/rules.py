# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A platform's Prometheus alert rules as data: the catalogue, the inventory's overrides and
the rendering as rule groups (a plain rule file) or as a Prometheus Operator PrometheusRule.

Pure functions over plain data. Every expression selects the platform's own series (its
namespace, its workloads and the scrape jobs of its components), so that one Prometheus
watching several platforms keeps them apart, and every alert says which playbook of the
collection helps (``runbook_url``).

Where the metrics come from:

- the application: ``http_requests_total{status}`` and ``http_request_duration_seconds``
  (the LangGraph manual's names), scraped under the job of each application component (by
  default its Service's name, which a ServiceMonitor makes the ``job``);
- containers: the kubelet's cAdvisor (``container_memory_working_set_bytes``,
  ``container_spec_memory_limit_bytes``, ``container_cpu_usage_seconds_total``) and the
  kubelet's volume stats; workloads: kube-state-metrics;
- the data tier: postgres_exporter (``pg_up``, ``pg_stat_activity_count``,
  ``pg_settings_max_connections``, ...) and redis_exporter (``redis_up``,
  ``redis_memory_max_bytes``, ...), scraped under the job of the database / cache component;
- backups: ``kube_cronjob_status_last_successful_time`` of the backup CronJob, and
  ``multiagent_ops_backup_last_success_timestamp_seconds`` (PUSH_METRIC), which on-demand
  backups push to a Pushgateway under the grouping key ``job="multiagent_ops_backup"``,
  ``platform=<platform name>``, ``backup="database"`` or ``"cache"``.
"""

from __future__ import annotations

import json
import re

from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec as platform_spec

SEVERITIES = ("critical", "warning", "info")
FIELDS = ("enabled", "threshold", "for", "severity")
# The metric on-demand backups push (seconds since the epoch of the last successful backup).
PUSH_METRIC = "multiagent_ops_backup_last_success_timestamp_seconds"
PUSH_JOB = "multiagent_ops_backup"
API_VERSION = "monitoring.coreos.com/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "multiagent.ops"}

# Prometheus' duration syntax (model.ParseDuration): units largest first, each at most once.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
# Kubernetes object names (DNS-1123): safe inside a PromQL regex once dots are escaped.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class RulesError(ValueError):
    """An override or a description the rules cannot be built from; the message names the
    alert and the field (or the component)."""


class Alert:
    """One alert of the catalogue: its defaults, what it needs of the platform (``needs``:
    app, pods, workloads, database, cache, backup) and how its expression is built
    (``expr(ctx, threshold)``). ``unit`` says what ``threshold`` is: ``ratio`` (a fraction,
    0 < t <= 1), ``seconds`` (a number or a duration such as ``26h``), ``count`` (>= 0) or
    ``none`` (the alert has no threshold)."""

    def __init__(
        self, name, group, needs, expr, unit, threshold, for_, severity, playbook, summary, description
    ):
        self.name = name
        self.group = group
        self.needs = needs
        self.expr = expr
        self.unit = unit
        self.threshold = threshold
        self.for_ = for_
        self.severity = severity
        self.playbook = playbook
        self.summary = summary
        self.description = description


# --- PromQL helpers -------------------------------------------------------------------------


def _str(value):
    """A PromQL string literal (Go escapes; JSON's are a subset for these names)."""
    return json.dumps(str(value))


def _regex(names):
    """An anchored PromQL regex (RE2) matching exactly ``names``."""
    return _str("|".join(name.replace(".", "\\.") for name in names))


def _sel(ctx, **matchers):
    """``{namespace="<ns>", ...}``: ``key=value`` is an equality matcher; a value that is a
    ``("=~", regex)`` / ``("!=", v)`` / ``("!~", v)`` pair is that matcher."""
    parts = ["namespace=%s" % _str(ctx["namespace"])]
    for key, value in matchers.items():
        op, value = value if isinstance(value, tuple) else ("=", _str(value))
        parts.append("%s%s%s" % (key, op, value))
    return "{%s}" % ",".join(parts)


def _jobs(names):
    return ("=~", _regex(names))


def _pods(workloads):
    """Pods of the workloads: a Deployment's ``<name>-<hash>-<id>``, a StatefulSet's ``<name>-<n>``."""
    return ("=~", _str("(%s)-.+" % "|".join(name.replace(".", "\\.") for name in workloads)))


def _num(value):
    return repr(value) if isinstance(value, float) else str(int(value))


def _containers(ctx):
    return dict(pod=_pods(ctx["pods"]), container=("!~", _str("|POD")))


# --- The expressions --------------------------------------------------------------------------
# Each takes the platform context and the threshold and returns PromQL text.


def _high_error_rate(ctx, t):
    # A ratio of 5xx to all requests per service: the seed compared each series' absolute
    # 5xx rate with 0.1 (busy services alert at 0.1 % errors, quiet ones never, and errors
    # spread over several status codes or pods stay under it).
    sel = dict(job=_jobs(ctx["app_jobs"]))
    return (
        "sum by (namespace, job) (rate(http_requests_total%s[5m]))\n"
        "/\n"
        "sum by (namespace, job) (rate(http_requests_total%s[5m]))\n"
        "> %s" % (_sel(ctx, status=("=~", '"5.."'), **sel), _sel(ctx, **sel), _num(t))
    )


def _high_response_time(ctx, t):
    # The quantile of the service's summed buckets: without `sum by (le, ...)` the seed took a
    # quantile per pod (and per any other label), so one slow pod with few requests alerted
    # while the service was fast, and a slow service spread over pods could stay silent.
    return (
        "histogram_quantile(0.95,\n"
        "  sum by (namespace, job, le) (rate(http_request_duration_seconds_bucket%s[5m]))\n"
        ") > %s" % (_sel(ctx, job=_jobs(ctx["app_jobs"])), _num(t))
    )


def _high_memory(ctx, t):
    # The working set (what the OOM killer counts; usage includes reclaimable page cache)
    # against a limit that is set: the seed divided by a missing limit (0: +Inf).
    c = _containers(ctx)
    return (
        "max by (namespace, pod, container) (container_memory_working_set_bytes%s)\n"
        "/ on (namespace, pod, container)\n"
        "(max by (namespace, pod, container) (container_spec_memory_limit_bytes%s) > 0)\n"
        "> %s" % (_sel(ctx, **c), _sel(ctx, **c), _num(t))
    )


def _high_cpu(ctx, t):
    c = _containers(ctx)
    return (
        "sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total%s[5m]))\n"
        "/ on (namespace, pod, container)\n"
        "(max by (namespace, pod, container) (kube_pod_container_resource_limits%s) > 0)\n"
        "> %s" % (_sel(ctx, **c), _sel(ctx, resource="cpu", pod=c["pod"]), _num(t))
    )


def _down(ctx, jobs, metric=None):
    """None of the jobs' targets is up (or, with ``metric``, the exporter says its server is
    down), or the job has no target at all: the seed's ``up == 0`` never fired when the
    target disappeared (pods gone, a Service without ready endpoints)."""
    arms = []
    if metric:
        arms.append("max by (namespace, job) (%s%s) == 0" % (metric, _sel(ctx, job=_jobs(jobs))))
    arms.append("max by (namespace, job) (up%s) == 0" % _sel(ctx, job=_jobs(jobs)))
    arms += ["absent(up%s)" % _sel(ctx, job=job) for job in jobs]
    return "\nor\n".join(arms)


def _service_down(ctx, t):
    return _down(ctx, ctx["app_jobs"])


def _high_db_connections(ctx, t):
    # Connections (every state holds a slot) against max_connections, in postgres_exporter's
    # names: the seed's postgresql_connections_active is no exporter's metric (never fires),
    # and an absolute 80 is nothing on a server with max_connections 500.
    sel = _sel(ctx, job=ctx["database"]["job"])
    return (
        "sum by (namespace, job, instance) (pg_stat_activity_count%s)\n"
        "/ on (namespace, job, instance)\n"
        "(max by (namespace, job, instance) (pg_settings_max_connections%s) > 0)\n"
        "> %s" % (sel, sel, _num(t))
    )


def _pg_down(ctx, t):
    return _down(ctx, [ctx["database"]["job"]], "pg_up")


def _pg_deadlocks(ctx, t):
    sel = _sel(ctx, job=ctx["database"]["job"], datname=("!~", '"template.*"'))
    return "sum by (namespace, job, datname) (increase(pg_stat_database_deadlocks%s[5m])) > %s" % (
        sel,
        _num(t),
    )


def _pg_long_transaction(ctx, t):
    sel = _sel(ctx, job=ctx["database"]["job"], datname=("!~", '"template.*"'))
    return "max by (namespace, job, datname) (pg_stat_activity_max_tx_duration%s) > %s" % (sel, _num(t))


def _pg_replication_lag(ctx, t):
    sel = _sel(ctx, job=ctx["database"]["job"])
    return (
        "max by (namespace, job, instance) (pg_replication_lag_seconds%s) > %s\n"
        "and on (namespace, job, instance)\n"
        "max by (namespace, job, instance) (pg_replication_is_replica%s) == 1" % (sel, _num(t), sel)
    )


def _redis_down(ctx, t):
    return _down(ctx, [ctx["cache"]["job"]], "redis_up")


def _ratio_of_limit(metric, limit, ctx, job, t):
    sel = _sel(ctx, job=job)
    return (
        "max by (namespace, job, instance) (%s%s)\n"
        "/ on (namespace, job, instance)\n"
        "(max by (namespace, job, instance) (%s%s) > 0)\n"
        "> %s" % (metric, sel, limit, sel, _num(t))
    )


def _redis_memory(ctx, t):
    # maxmemory 0 means "no limit": the guard keeps it from dividing by zero.
    return _ratio_of_limit("redis_memory_used_bytes", "redis_memory_max_bytes", ctx, ctx["cache"]["job"], t)


def _redis_connections(ctx, t):
    return _ratio_of_limit("redis_connected_clients", "redis_config_maxclients", ctx, ctx["cache"]["job"], t)


def _redis_rejected(ctx, t):
    return "sum by (namespace, job, instance) (increase(redis_rejected_connections_total%s[5m])) > %s" % (
        _sel(ctx, job=ctx["cache"]["job"]),
        _num(t),
    )


def _crash_looping(ctx, t):
    return (
        "max by (namespace, pod, container) (\n"
        "  max_over_time(kube_pod_container_status_waiting_reason%s[5m])\n"
        ") >= 1" % _sel(ctx, reason="CrashLoopBackOff", pod=_pods(ctx["pods"]))
    )


def _replicas_mismatch(ctx, t):
    arms = []
    if ctx["deployments"]:
        d = _sel(ctx, deployment=_jobs(ctx["deployments"]))
        arms.append(
            "(kube_deployment_spec_replicas%s != kube_deployment_status_replicas_available%s)\n"
            "and (changes(kube_deployment_status_replicas_updated%s[10m]) == 0)" % (d, d, d)
        )
    if ctx["statefulsets"]:
        s = _sel(ctx, statefulset=_jobs(ctx["statefulsets"]))
        arms.append(
            "(kube_statefulset_replicas%s != kube_statefulset_status_replicas_ready%s)\n"
            "and (changes(kube_statefulset_status_replicas_updated%s[10m]) == 0)" % (s, s, s)
        )
    return "\nor\n".join(arms)


def _rollout_stuck(ctx, t):
    arms = []
    if ctx["deployments"]:
        # the controller gave up: ProgressDeadlineExceeded
        arms.append(
            "max by (namespace, deployment) (kube_deployment_status_condition%s) == 1"
            % _sel(ctx, deployment=_jobs(ctx["deployments"]), condition="Progressing", status="false")
        )
    if ctx["statefulsets"]:
        # kubernetes-mixin's KubeStatefulSetUpdateNotRolledOut: a new revision, pods not all
        # updated, and no progress for 5 minutes
        s = _sel(ctx, statefulset=_jobs(ctx["statefulsets"]))
        arms.append(
            "(\n  max by (namespace, statefulset) (\n"
            "    kube_statefulset_status_current_revision%s\n"
            "    unless kube_statefulset_status_update_revision%s\n"
            "  )\n  * on (namespace, statefulset)\n"
            "  max by (namespace, statefulset) (\n"
            "    kube_statefulset_replicas%s != kube_statefulset_status_replicas_updated%s\n  )\n"
            ")\nand on (namespace, statefulset)\n"
            "max by (namespace, statefulset) (changes(kube_statefulset_status_replicas_updated%s[5m])) == 0"
            % (s, s, s, s, s)
        )
    return "\nor\n".join(arms)


def _hpa_maxed(ctx, t):
    sel = _sel(ctx)
    return (
        "(kube_horizontalpodautoscaler_status_current_replicas%s\n"
        "  >= kube_horizontalpodautoscaler_spec_max_replicas%s)\n"
        "and\n"
        "(kube_horizontalpodautoscaler_spec_max_replicas%s\n"
        "  > kube_horizontalpodautoscaler_spec_min_replicas%s)" % (sel, sel, sel, sel)
    )


def _pvc_filling(ctx, t):
    sel = _sel(ctx)
    return (
        "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes%s)\n"
        "/ on (namespace, persistentvolumeclaim)\n"
        "(max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes%s) > 0)\n"
        "> %s" % (sel, sel, _num(t))
    )


def _backup_too_old(ctx, t):
    # The newest success of either source counts: an on-demand backup covers a failed night.
    pushed = "%s{job=%s,platform=%s}" % (PUSH_METRIC, _str(PUSH_JOB), _str(ctx["platform"]))
    newest = pushed
    never = ""
    if ctx["backup_cronjob"]:
        cj = _sel(ctx, cronjob=ctx["backup_cronjob"])
        last = 'label_replace(kube_cronjob_status_last_successful_time%s, "backup", "database", "", "")' % cj
        newest = "%s\n  or\n  %s" % (last, pushed)
        # a CronJob that has never succeeded since it was created longer ago than allowed
        never = (
            "\nor\n(max by (backup) (\n"
            '  label_replace(time() - kube_cronjob_created%s, "backup", "database", "", "")\n)'
            " > %s\n unless on (backup)\n max by (backup) (\n  %s\n))" % (cj, _num(t), newest)
        )
    return "time() - max by (backup) (\n  %s\n) > %s%s" % (newest, _num(t), never)


# --- The catalogue ------------------------------------------------------------------------------
# name, group, needs, expr, unit, threshold, for, severity, playbook, summary, description.
# Annotations are Prometheus templates ({{ $labels.x }}, {{ $value }}).
CATALOGUE = (
    Alert(
        "HighErrorRate",
        "application",
        ("app",),
        _high_error_rate,
        "ratio",
        0.1,
        "2m",
        "critical",
        "playbooks/diagnose.yml",
        "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail",
        "More than {threshold_pct} of the requests to {{ $labels.namespace }}/{{ $labels.job }} answered"
        " 5xx over 5 minutes (now {{ $value | humanizePercentage }}).",
    ),
    Alert(
        "HighResponseTime",
        "application",
        ("app",),
        _high_response_time,
        "seconds",
        2,
        "5m",
        "warning",
        "playbooks/diagnose.yml",
        "{{ $labels.job }}: p95 response time {{ $value | humanizeDuration }}",
        "The 95th percentile of the response times of {{ $labels.namespace }}/{{ $labels.job }} is above"
        " {threshold}s (now {{ $value | humanizeDuration }}).",
    ),
    Alert(
        "ServiceDown",
        "application",
        ("app",),
        _service_down,
        "none",
        None,
        "1m",
        "critical",
        "playbooks/emergency_recovery.yml",
        "{{ $labels.job }} is down",
        "No target of {{ $labels.namespace }}/{{ $labels.job }} is up, or Prometheus has no target for it"
        " (its pods are gone or none is ready).",
    ),
    Alert(
        "HighMemoryUsage",
        "resources",
        ("pods",),
        _high_memory,
        "ratio",
        0.8,
        "5m",
        "warning",
        "playbooks/scale.yml",
        "{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory"
        " limit",
        "The working set of container {{ $labels.container }} in {{ $labels.namespace }}/{{ $labels.pod }} is"
        " above {threshold_pct} of its memory limit (now {{ $value | humanizePercentage }}); at the limit it"
        " is OOM-killed. Containers without a limit are not considered.",
    ),
    Alert(
        "HighCPUUsage",
        "resources",
        ("pods",),
        _high_cpu,
        "ratio",
        0.8,
        "15m",
        "warning",
        "playbooks/scale.yml",
        "{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanizePercentage }} of its CPU limit",
        "Container {{ $labels.container }} in {{ $labels.namespace }}/{{ $labels.pod }} used more than"
        " {threshold_pct} of its CPU limit over 5 minutes (now {{ $value | humanizePercentage }}) and is"
        " throttled at the limit. Containers without a limit are not considered.",
    ),
    Alert(
        "PVCFillingUp",
        "resources",
        ("namespace",),
        _pvc_filling,
        "ratio",
        0.9,
        "5m",
        "warning",
        "playbooks/diagnose.yml",
        "Volume claim {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full",
        "PersistentVolumeClaim {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is more than"
        " {threshold_pct} full (now {{ $value | humanizePercentage }}).",
    ),
    Alert(
        "CrashLooping",
        "workloads",
        ("pods",),
        _crash_looping,
        "none",
        None,
        "15m",
        "warning",
        "playbooks/emergency_recovery.yml",
        "{{ $labels.pod }}/{{ $labels.container }} is crash looping",
        "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} has been in"
        " CrashLoopBackOff for 15 minutes.",
    ),
    Alert(
        "ReplicasMismatch",
        "workloads",
        ("workloads",),
        _replicas_mismatch,
        "none",
        None,
        "15m",
        "warning",
        "playbooks/diagnose.yml",
        "{{ $labels.deployment }}{{ $labels.statefulset }} does not have its replicas",
        "{{ $labels.namespace }}/{{ $labels.deployment }}{{ $labels.statefulset }} has had fewer ready"
        " replicas than it asks for, without a rollout in progress, for 15 minutes.",
    ),
    Alert(
        "RolloutStuck",
        "workloads",
        ("workloads",),
        _rollout_stuck,
        "none",
        None,
        "15m",
        "warning",
        "playbooks/rollback.yml",
        "The rollout of {{ $labels.deployment }}{{ $labels.statefulset }} is stuck",
        "The rollout of {{ $labels.namespace }}/{{ $labels.deployment }}{{ $labels.statefulset }} does not"
        " progress (a Deployment past its progress deadline, a StatefulSet whose update stopped).",
    ),
    Alert(
        "HPAMaxedOut",
        "workloads",
        ("namespace",),
        _hpa_maxed,
        "none",
        None,
        "15m",
        "warning",
        "playbooks/scale.yml",
        "HPA {{ $labels.horizontalpodautoscaler }} runs at its maximum",
        "HorizontalPodAutoscaler {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its"
        " maximum replicas for 15 minutes: the load may need more.",
    ),
    Alert(
        "HighDatabaseConnections",
        "postgresql",
        ("database",),
        _high_db_connections,
        "ratio",
        0.8,
        "3m",
        "warning",
        "playbooks/diagnose.yml",
        "PostgreSQL uses {{ $value | humanizePercentage }} of max_connections",
        "PostgreSQL {{ $labels.instance }} ({{ $labels.namespace }}/{{ $labels.job }}) has more than"
        " {threshold_pct} of max_connections in use (now {{ $value | humanizePercentage }}).",
    ),
    Alert(
        "PostgreSQLDown",
        "postgresql",
        ("database",),
        _pg_down,
        "none",
        None,
        "1m",
        "critical",
        "playbooks/emergency_recovery.yml",
        "PostgreSQL of {{ $labels.namespace }} is down",
        "postgres_exporter ({{ $labels.namespace }}/{{ $labels.job }}) cannot reach PostgreSQL, is down"
        " itself, or Prometheus has no target for it.",
    ),
    Alert(
        "PostgreSQLDeadlocks",
        "postgresql",
        ("database",),
        _pg_deadlocks,
        "count",
        5,
        "0s",
        "warning",
        "playbooks/diagnose.yml",
        "Deadlocks in database {{ $labels.datname }}",
        "Database {{ $labels.datname }} ({{ $labels.namespace }}/{{ $labels.job }}) had more than {threshold}"
        " deadlocks in 5 minutes (now {{ $value }}).",
    ),
    Alert(
        "PostgreSQLLongTransaction",
        "postgresql",
        ("database",),
        _pg_long_transaction,
        "seconds",
        300,
        "2m",
        "warning",
        "playbooks/diagnose.yml",
        "A transaction in {{ $labels.datname }} runs for {{ $value | humanizeDuration }}",
        "A transaction in database {{ $labels.datname }} ({{ $labels.namespace }}/{{ $labels.job }}) has been"
        " open for more than {threshold}s (now {{ $value | humanizeDuration }}): it holds locks and keeps"
        " VACUUM from cleaning up.",
    ),
    Alert(
        "PostgreSQLReplicationLag",
        "postgresql",
        ("database",),
        _pg_replication_lag,
        "seconds",
        30,
        "5m",
        "warning",
        "playbooks/diagnose.yml",
        "Replica {{ $labels.instance }} lags {{ $value | humanizeDuration }}",
        "PostgreSQL replica {{ $labels.instance }} ({{ $labels.namespace }}/{{ $labels.job }}) is more than"
        " {threshold}s behind its primary.",
    ),
    Alert(
        "RedisDown",
        "redis",
        ("cache",),
        _redis_down,
        "none",
        None,
        "1m",
        "critical",
        "playbooks/emergency_recovery.yml",
        "Redis of {{ $labels.namespace }} is down",
        "redis_exporter ({{ $labels.namespace }}/{{ $labels.job }}) cannot reach Redis, is down itself, or"
        " Prometheus has no target for it.",
    ),
    Alert(
        "RedisMemoryHigh",
        "redis",
        ("cache",),
        _redis_memory,
        "ratio",
        0.9,
        "5m",
        "warning",
        "playbooks/diagnose.yml",
        "Redis uses {{ $value | humanizePercentage }} of maxmemory",
        "Redis {{ $labels.instance }} ({{ $labels.namespace }}/{{ $labels.job }}) uses more than"
        " {threshold_pct} of maxmemory (now {{ $value | humanizePercentage }}): it will evict keys or refuse"
        " writes. Without maxmemory (0) this alert does not apply.",
    ),
    Alert(
        "RedisTooManyConnections",
        "redis",
        ("cache",),
        _redis_connections,
        "ratio",
        0.8,
        "5m",
        "warning",
        "playbooks/diagnose.yml",
        "Redis has {{ $value | humanizePercentage }} of maxclients connected",
        "Redis {{ $labels.instance }} ({{ $labels.namespace }}/{{ $labels.job }}) has more than"
        " {threshold_pct} of maxclients connected.",
    ),
    Alert(
        "RedisRejectedConnections",
        "redis",
        ("cache",),
        _redis_rejected,
        "count",
        0,
        "0s",
        "warning",
        "playbooks/diagnose.yml",
        "Redis rejected connections",
        "Redis {{ $labels.instance }} ({{ $labels.namespace }}/{{ $labels.job }}) rejected {{ $value }}"
        " connections in 5 minutes (maxclients reached).",
    ),
    Alert(
        "BackupTooOld",
        "backup",
        ("backup",),
        _backup_too_old,
        "seconds",
        93600,
        "5m",
        "critical",
        "playbooks/backup_database.yml",
        "The last {{ $labels.backup }} backup is {{ $value | humanizeDuration }} old",
        "The newest successful {{ $labels.backup }} backup of platform {platform} is older than {threshold}s"
        " (or the backup CronJob {cronjob} has never succeeded). Sources:"
        " kube_cronjob_status_last_successful_time of the CronJob, and "
        + PUSH_METRIC
        + " (labels job "
        + PUSH_JOB
        + ", platform {platform}, backup"
        " database or cache) that on-demand backups push to the Pushgateway.",
    ),
)
ALERTS = {alert.name: alert for alert in CATALOGUE}
GROUPS = ("application", "resources", "workloads", "postgresql", "redis", "backup")


# --- Settings -----------------------------------------------------------------------------------


def duration_seconds(text):
    """Seconds of a Prometheus duration (``90s``, ``1h30m``, ``0s``); None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    match = _DURATION.match(text)
    if not match:
        return None
    return sum(int(part) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if part)


def _threshold(alert, value):
    if alert.unit == "none":
        raise RulesError("alert %s: field 'threshold': this alert has no threshold" % alert.name)
    if alert.unit == "seconds" and isinstance(value, str):
        seconds = duration_seconds(value)
        if seconds is None:
            raise RulesError(
                "alert %s: field 'threshold': %r is neither a number of seconds nor a duration such as 26h"
                % (alert.name, value)
            )
        return seconds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError("alert %s: field 'threshold': %r is not a number" % (alert.name, value))
    if alert.unit == "ratio" and not 0 < value <= 1:
        raise RulesError(
            "alert %s: field 'threshold': %r is not a fraction in (0, 1] (0.85 for 85 %%)"
            % (alert.name, value)
        )
    if value < 0:
        raise RulesError("alert %s: field 'threshold': %r is negative" % (alert.name, value))
    return value


def settings(overrides=None):
    """The catalogue's defaults with the inventory's ``overrides`` (``{alert: {enabled,
    threshold, for, severity}}``) applied and checked: ``{alert: {enabled, threshold, for,
    severity}}``. A RulesError names the alert and the field of a wrong override."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise RulesError("the alert overrides must be a mapping of alert names, got %r" % (overrides,))
    result = {
        a.name: {"enabled": True, "threshold": a.threshold, "for": a.for_, "severity": a.severity}
        for a in CATALOGUE
    }
    for name, override in overrides.items():
        alert = ALERTS.get(name)
        if alert is None:
            raise RulesError("unknown alert %r: the alerts are %s" % (name, ", ".join(sorted(ALERTS))))
        if override is None:
            continue
        if not isinstance(override, dict):
            raise RulesError(
                "alert %s: the override must be a mapping of %s, got %r" % (name, ", ".join(FIELDS), override)
            )
        for field, value in override.items():
            if field not in FIELDS:
                raise RulesError("alert %s: unknown field %r (%s)" % (name, field, ", ".join(FIELDS)))
            if field == "enabled":
                if not isinstance(value, bool):
                    raise RulesError("alert %s: field 'enabled': %r is not true or false" % (name, value))
            elif field == "threshold":
                value = _threshold(alert, value)
            elif field == "for":
                if duration_seconds(value) is None:
                    raise RulesError(
                        "alert %s: field 'for': %r is not a Prometheus duration such as 90s, 5m or 1h30m"
                        % (name, value)
                    )
            elif value not in SEVERITIES:
                raise RulesError(
                    "alert %s: field 'severity': %r is not one of %s" % (name, value, ", ".join(SEVERITIES))
                )
            result[name][field] = value
    return result


# --- The platform ---------------------------------------------------------------------------------


def _check_name(what, name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise RulesError(
            "%s %r is not a Kubernetes name (lower case letters, digits, '-' and '.')" % (what, name)
        )
    return name


def platform_context(
    platform, namespace, components, database=None, cache=None, backup_cronjob=None, jobs=None
):
    """What the expressions select, from the platform description: ``platform`` (its name),
    ``namespace``, ``app_jobs`` (the scrape job of each application component: ``jobs[name]``,
    else its Service's name, else its workload's), ``pods`` (every workload's name),
    ``deployments``, ``statefulsets``, ``database`` / ``cache`` (None or ``{name, job}``) and
    ``backup_cronjob``. A RulesError names what is missing or wrong."""
    if not platform or not isinstance(platform, str):
        raise RulesError("the platform needs a name (platform_name), got %r" % (platform,))
    _check_name("namespace", namespace)
    jobs = jobs or {}
    if not isinstance(jobs, dict):
        raise RulesError("jobs must be a mapping of component names to scrape jobs, got %r" % (jobs,))
    try:
        refs = platform_spec.health_components(components)
        tier = platform_spec.data_tier(components, database, cache)
        roles = {
            ref["name"]: platform_spec.component_role(c, i)
            for i, (ref, c) in enumerate(zip(refs, components, strict=True))
        }
    except platform_spec.SpecError as exc:
        raise RulesError(str(exc)) from exc
    unknown = sorted(
        set(jobs) - set(roles) - {(tier.get(r) or {}).get("name") for r in ("database", "cache")}
    )
    if unknown:
        raise RulesError("jobs names components the platform does not have: %s" % ", ".join(unknown))
    by_name = {c["name"]: c for c in components or []}

    def job_of(name):
        comp = by_name.get(name) or {}
        job = jobs.get(name) or (comp.get("service") or {}).get("name") or comp.get("workload") or name
        return _check_name("the scrape job of component '%s'" % name, job)

    workloads = [r for r in refs if r["kind"] in platform_spec.WORKLOAD_KINDS]
    ctx = {
        "platform": platform,
        "namespace": namespace,
        "app_jobs": [job_of(r["name"]) for r in refs if roles[r["name"]] == "app" and r["kind"] != "none"],
        "pods": [_check_name("workload", r["workload"]) for r in workloads],
        "deployments": [r["workload"] for r in workloads if r["kind"] == "Deployment"],
        "statefulsets": [r["workload"] for r in workloads if r["kind"] == "StatefulSet"],
        "backup_cronjob": _check_name("backup CronJob", backup_cronjob) if backup_cronjob else None,
    }
    for role in ("database", "cache"):
        found = tier.get(role)
        ctx[role] = {"name": found["name"], "job": job_of(found["name"])} if found else None
    return ctx


def _applies(alert, ctx):
    for need in alert.needs:
        if need == "app" and not ctx["app_jobs"]:
            return False
        if need == "pods" and not ctx["pods"]:
            return False
        if need == "workloads" and not (ctx["deployments"] or ctx["statefulsets"]):
            return False
        if need in ("database", "cache") and not ctx[need]:
            return False
    return True


# --- Rendering ------------------------------------------------------------------------------------


def runbook_url(base, playbook):
    """``<base>/<playbook>``; the playbook's path alone without a base."""
    return "%s/%s" % (base.rstrip("/"), playbook) if base else playbook


def _threshold_text(alert, value):
    return {
        "threshold": "" if value is None else _num(value),
        "threshold_pct": "" if value is None else "%g %%" % (value * 100) if alert.unit == "ratio" else "",
    }


def rule_groups(ctx, overrides=None, runbook_base_url="", labels=None):
    """The enabled alerts that apply to the platform (``ctx`` from platform_context), as rule
    groups ``[{name: <platform>-<group>, rules: [...]}]``, empty groups left out. Each rule
    carries the labels ``severity`` and ``platform`` (and ``labels``) and the annotations
    ``summary``, ``description`` and ``runbook_url``."""
    chosen = settings(overrides)
    groups = []
    for group in GROUPS:
        rules = []
        for alert in CATALOGUE:
            setting = chosen[alert.name]
            if alert.group != group or not setting["enabled"] or not _applies(alert, ctx):
                continue
            words = dict(
                _threshold_text(alert, setting["threshold"]),
                platform=ctx["platform"],
                cronjob=ctx["backup_cronjob"] or "(none)",
            )
            rule_labels = dict(labels or {})
            rule_labels.update(severity=setting["severity"], platform=ctx["platform"])
            rules.append(
                {
                    "alert": alert.name,
                    "expr": alert.expr(ctx, setting["threshold"]),
                    "for": setting["for"],
                    "labels": rule_labels,
                    "annotations": {
                        "summary": alert.summary,
                        "description": _fill(alert.description, words),
                        "runbook_url": runbook_url(runbook_base_url, alert.playbook),
                    },
                }
            )
        if rules:
            groups.append({"name": "%s-%s" % (ctx["platform"], group), "rules": rules})
    return groups


def _fill(text, words):
    """Put ``{threshold}``-style words in, leaving Prometheus' ``{{ ... }}`` templates alone."""
    out = text.replace("{{", "\0").replace("}}", "\1")
    for key, value in words.items():
        out = out.replace("{%s}" % key, str(value))
    return out.replace("\0", "{{").replace("\1", "}}")


def _copy(value):
    """A deep copy as plain dicts and lists (Ansible 2.19 hands filters lazy containers, which
    copy.deepcopy cannot rebuild)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value


def rule_file(groups):
    """A Prometheus rule file (``rule_files:``) holding ``groups``."""
    return {"groups": _copy(groups)}


def prometheus_rule(groups, name, namespace, labels=None):
    """The Prometheus Operator's PrometheusRule holding ``groups``."""
    _check_name("PrometheusRule name", name)
    _check_name("namespace", namespace)
    if labels is not None and not isinstance(labels, dict):
        raise RulesError("labels must be a mapping, got %r" % (labels,))
    meta_labels = dict(MANAGED_BY)
    meta_labels.update(labels or {})
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
        "spec": {"groups": _copy(groups)},
    }
