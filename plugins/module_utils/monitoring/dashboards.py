# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana dashboards as data: the LangGraph runbook's four boards, rendered per platform.

A board is a list of panels, each a title, a visualisation, a unit and its PromQL; this module
turns them into Grafana's dashboard JSON (schemaVersion 39) with a datasource variable and the
platform's selectors, so every query is scoped to the platform's namespace and services, and
into the ConfigMaps Grafana's dashboard sidecar loads (label ``grafana_dashboard: "1"``).

Metric names are those real exporters emit: cAdvisor and kube-state-metrics for the system,
``http_requests_total`` / ``http_request_duration_seconds_bucket`` for the application (the
seed's alert rules use them; prometheus-fastapi-instrumentator labels them ``handler``,
``method``, ``status``), postgres_exporter and redis_exporter for the data tier. The business
metrics are the runbook's own names under the platform's prefix (``langgraph_`` for LangGraph,
``<platform>_`` by default): see BUSINESS_METRICS.

Each dashboard's ``uid`` is derived from the platform and the board (dashboard_uid), so a
re-run replaces the same dashboard instead of adding one. Pure: no I/O.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

from ansible_collections.multiagent.ops.plugins.module_utils.platform import spec

SCHEMA_VERSION = 39
UID_MAX = 40
GRID_WIDTH = 24
SIDECAR_LABEL = "grafana_dashboard"
FOLDER_ANNOTATION = "grafana_folder"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# The application's own metrics the business and error boards read, after the prefix
# (the LangGraph runbook's names: langgraph_tasks_total, ...). Labels the panels group by:
# tasks_total{status}, errors_total{type}, recovery_attempts_total{result="success"|...}.
BUSINESS_METRICS = {
    "tasks_total": "counter of tasks by status",
    "tasks_active": "gauge of tasks running now",
    "failed_tasks_total": "counter of failed tasks",
    "agents_active": "gauge of active agents",
    "users_active": "gauge of active users (sessions)",
    "workflow_duration_seconds": "histogram of workflow execution time",
    "errors_total": "counter of errors by type",
    "recovery_attempts_total": "counter of recovery attempts by result (success, failure)",
}

# Placeholders of the boards below (%-format): the selectors every query is scoped by.
#   app: the platform's services (job = Service name, as a ServiceMonitor sets it)
#   ctr: the platform's containers in cAdvisor (not the pause container, not the pod total)
#   ns:  everything in the namespace (kube-state-metrics, exporters)
#   p:   the business metrics' prefix
SELECTORS = {
    "app": 'namespace="$namespace", job=~"$job"',
    "ctr": 'namespace="$namespace", container!="", container!="POD"',
    "ns": 'namespace="$namespace"',
}
RATE = "$__rate_interval"


def _q(expr, legend=""):
    return {"expr": expr, "legend": legend}


def _panel(title, kind, unit, *queries, width=None, height=8, description="", when=None, **field):
    """One panel as data; ``when`` names the data role (database, cache) it needs."""
    panel = {"title": title, "type": kind, "unit": unit, "queries": list(queries), "height": height}
    panel["width"] = width or (6 if kind == "stat" else 12)
    if description:
        panel["description"] = description
    if when:
        panel["when"] = when
    panel.update(field)
    return panel


_REQ = "sum(rate(http_requests_total{%(app)s}[" + RATE + "]))"
_ERR = 'sum(rate(http_requests_total{%(app)s, status=~"5.."}[' + RATE + "]))"


def _quantile(q, buckets):
    return _q(
        "histogram_quantile(%s, sum by (le) (rate(%s[%s])))" % (q, buckets, RATE),
        "p%d" % round(float(q) * 100),
    )


def _latency(q):
    return _quantile(q, "http_request_duration_seconds_bucket{%(app)s}")


BOARDS = {
    "system-overview": {
        "title": "System overview",
        "description": "Service status, requests, error rate, response time and active users.",
        "panels": [
            _panel(
                "Services up",
                "stat",
                "percentunit",
                _q("sum(up{%(app)s}) / count(up{%(app)s})"),
                description="Share of the platform's scrape targets that answer (1 = all).",
                min=0,
                max=1,
            ),
            _panel("Requests per second", "stat", "reqps", _q(_REQ)),
            _panel("Error rate (5xx)", "stat", "percentunit", _q(_ERR + " / " + _REQ), min=0, max=1),
            _panel("Active users", "stat", "short", _q("sum(%(p)susers_active{%(ns)s})")),
            _panel(
                "Requests and errors",
                "timeseries",
                "reqps",
                _q("sum by (job) (rate(http_requests_total{%(app)s}[" + RATE + "]))", "{{job}}"),
                _q(
                    'sum by (job) (rate(http_requests_total{%(app)s, status=~"5.."}[' + RATE + "]))",
                    "{{job}} 5xx",
                ),
            ),
            _panel("Response time", "timeseries", "s", _latency("0.5"), _latency("0.95"), _latency("0.99")),
        ],
    },
    "performance": {
        "title": "Performance",
        "description": "CPU and memory against requests and limits, network and disk I/O, database, cache.",
        "panels": [
            _panel(
                "CPU usage (cores)",
                "timeseries",
                "short",
                _q(
                    "sum by (pod) (rate(container_cpu_usage_seconds_total{%(ctr)s}[" + RATE + "]))", "{{pod}}"
                ),
            ),
            _panel(
                "CPU usage / requests",
                "timeseries",
                "percentunit",
                _q(
                    "sum by (pod) (rate(container_cpu_usage_seconds_total{%(ctr)s}[" + RATE + "]))"
                    ' / sum by (pod) (kube_pod_container_resource_requests{%(ns)s, resource="cpu"})',
                    "{{pod}}",
                ),
            ),
            _panel(
                "Memory (working set)",
                "timeseries",
                "bytes",
                _q("sum by (pod) (container_memory_working_set_bytes{%(ctr)s})", "{{pod}}"),
            ),
            _panel(
                "Memory / limits",
                "timeseries",
                "percentunit",
                _q(
                    "sum by (pod) (container_memory_working_set_bytes{%(ctr)s})"
                    ' / sum by (pod) (kube_pod_container_resource_limits{%(ns)s, resource="memory"})',
                    "{{pod}}",
                ),
            ),
            _panel(
                "Network I/O",
                "timeseries",
                "Bps",
                _q(
                    "sum by (pod) (rate(container_network_receive_bytes_total{%(ns)s}[" + RATE + "]))",
                    "{{pod}} in",
                ),
                _q(
                    "sum by (pod) (rate(container_network_transmit_bytes_total{%(ns)s}[" + RATE + "]))",
                    "{{pod}} out",
                ),
            ),
            _panel(
                "Disk I/O",
                "timeseries",
                "Bps",
                _q(
                    "sum by (pod) (rate(container_fs_reads_bytes_total{%(ctr)s}[" + RATE + "]))",
                    "{{pod}} read",
                ),
                _q(
                    "sum by (pod) (rate(container_fs_writes_bytes_total{%(ctr)s}[" + RATE + "]))",
                    "{{pod}} write",
                ),
            ),
            _panel(
                "PostgreSQL transactions",
                "timeseries",
                "ops",
                _q("sum(rate(pg_stat_database_xact_commit{%(ns)s}[" + RATE + "]))", "commits"),
                _q("sum(rate(pg_stat_database_xact_rollback{%(ns)s}[" + RATE + "]))", "rollbacks"),
                when="database",
            ),
            _panel(
                "PostgreSQL connections / max_connections",
                "timeseries",
                "percentunit",
                _q(
                    "sum(pg_stat_activity_count{%(ns)s}) / max(pg_settings_max_connections{%(ns)s})",
                    "in use",
                ),
                _q('sum(pg_stat_activity_count{%(ns)s, state="active"})', "active"),
                when="database",
            ),
            _panel(
                "PostgreSQL cache hit ratio",
                "timeseries",
                "percentunit",
                _q(
                    "sum(rate(pg_stat_database_blks_hit{%(ns)s}[" + RATE + "])) / (sum(rate("
                    "pg_stat_database_blks_hit{%(ns)s}[" + RATE + "])) + sum(rate("
                    "pg_stat_database_blks_read{%(ns)s}[" + RATE + "])))",
                    "hit ratio",
                ),
                when="database",
                min=0,
                max=1,
            ),
            _panel(
                "Redis commands and clients",
                "timeseries",
                "ops",
                _q("sum(rate(redis_commands_processed_total{%(ns)s}[" + RATE + "]))", "commands/s"),
                _q("sum(redis_connected_clients{%(ns)s})", "clients"),
                when="cache",
            ),
            _panel(
                "Redis memory / maxmemory and hit rate",
                "timeseries",
                "percentunit",
                _q(
                    "sum(redis_memory_used_bytes{%(ns)s}) / sum(redis_memory_max_bytes{%(ns)s} > 0)",
                    "memory / maxmemory",
                ),
                _q(
                    "sum(rate(redis_keyspace_hits_total{%(ns)s}[" + RATE + "])) / (sum(rate("
                    "redis_keyspace_hits_total{%(ns)s}[" + RATE + "])) + sum(rate("
                    "redis_keyspace_misses_total{%(ns)s}[" + RATE + "])))",
                    "hit rate",
                ),
                when="cache",
            ),
        ],
    },
    "business": {
        "title": "Business",
        "description": "Task execution, agent activity, workflow durations and the endpoints' use.",
        "panels": [
            _panel("Active tasks", "stat", "short", _q("sum(%(p)stasks_active{%(ns)s})")),
            _panel("Active agents", "stat", "short", _q("sum(%(p)sagents_active{%(ns)s})")),
            _panel(
                "Tasks finished (range)",
                "stat",
                "short",
                _q("sum(increase(%(p)stasks_total{%(ns)s}[$__range]))"),
            ),
            _panel(
                "Failed tasks (range)",
                "stat",
                "short",
                _q("sum(increase(%(p)sfailed_tasks_total{%(ns)s}[$__range]))"),
            ),
            _panel(
                "Task executions by status",
                "timeseries",
                "ops",
                _q("sum by (status) (rate(%(p)stasks_total{%(ns)s}[" + RATE + "]))", "{{status}}"),
            ),
            _panel(
                "Active tasks and agents",
                "timeseries",
                "short",
                _q("sum(%(p)stasks_active{%(ns)s})", "tasks"),
                _q("sum(%(p)sagents_active{%(ns)s})", "agents"),
            ),
            _panel(
                "Workflow duration distribution",
                "heatmap",
                "s",
                _q(
                    "sum by (le) (increase(%(p)sworkflow_duration_seconds_bucket{%(ns)s}[" + RATE + "]))",
                    "{{le}}",
                ),
            ),
            _panel(
                "Workflow duration p50 / p95",
                "timeseries",
                "s",
                _quantile("0.5", "%(p)sworkflow_duration_seconds_bucket{%(ns)s}"),
                _quantile("0.95", "%(p)sworkflow_duration_seconds_bucket{%(ns)s}"),
            ),
            _panel(
                "Requests by endpoint (front-end integration included)",
                "timeseries",
                "reqps",
                _q(
                    "sum by (handler, status) (rate(http_requests_total{%(app)s}[" + RATE + "]))",
                    "{{handler}} {{status}}",
                ),
                width=24,
            ),
        ],
    },
    "errors": {
        "title": "Error analysis",
        "description": "Error types and trend, recovery success rate, the services and pods affected.",
        "panels": [
            _panel(
                "Error types (range)",
                "piechart",
                "short",
                _q("sum by (type) (increase(%(p)serrors_total{%(ns)s}[$__range]))", "{{type}}"),
            ),
            _panel(
                "HTTP errors by status (range)",
                "piechart",
                "short",
                _q(
                    'sum by (status) (increase(http_requests_total{%(app)s, status=~"[45].."}[$__range]))',
                    "{{status}}",
                ),
            ),
            _panel(
                "Error trend",
                "timeseries",
                "ops",
                _q("sum by (type) (rate(%(p)serrors_total{%(ns)s}[" + RATE + "]))", "{{type}}"),
                _q(_ERR, "HTTP 5xx"),
            ),
            _panel(
                "Recovery success rate",
                "timeseries",
                "percentunit",
                _q(
                    'sum(rate(%(p)srecovery_attempts_total{%(ns)s, result="success"}[' + RATE + "]))"
                    " / sum(rate(%(p)srecovery_attempts_total{%(ns)s}[" + RATE + "]))",
                    "success rate",
                ),
                min=0,
                max=1,
            ),
            _panel(
                "Services returning 5xx (impact)",
                "bargauge",
                "reqps",
                _q(
                    'sum by (job) (rate(http_requests_total{%(app)s, status=~"5.."}[' + RATE + "])) > 0",
                    "{{job}}",
                ),
            ),
            _panel(
                "Pods not ready and restarts (range)",
                "bargauge",
                "short",
                _q(
                    'sum by (pod) (kube_pod_status_ready{%(ns)s, condition="false"}) > 0', "{{pod}} not ready"
                ),
                _q(
                    "sum by (pod) (increase(kube_pod_container_status_restarts_total{%(ns)s}[$__range])) > 0",
                    "{{pod}} restarts",
                ),
            ),
        ],
    },
}
DEFAULT_BOARDS = tuple(BOARDS)
_REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_LEGEND = {"displayMode": "list", "placement": "bottom", "showLegend": True}
# Panels that show one value per series (the current one): their queries are instant.
_INSTANT = ("stat", "piechart", "bargauge")
_OPTIONS = {
    "timeseries": {"legend": _LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    "stat": {"reduceOptions": _REDUCE, "colorMode": "value", "graphMode": "area", "textMode": "auto"},
    "piechart": {
        "reduceOptions": _REDUCE,
        "pieType": "pie",
        "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["value"]},
    },
    "bargauge": {"reduceOptions": _REDUCE, "orientation": "horizontal", "displayMode": "gradient"},
    "heatmap": {"calculate": False, "color": {"mode": "scheme", "scheme": "Oranges"}, "yAxis": {}},
    "table": {"showHeader": True},
}
PANEL_TYPES = tuple(_OPTIONS)
_UID_CHARS = re.compile(r"[^a-z0-9_-]+")
_PREFIX = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


class DashboardError(ValueError):
    """A board that cannot be rendered; the message names the board and the panel."""


def dashboard_uid(platform, board):
    """The uid of ``board`` for ``platform``: ``<platform>-<board>`` in Grafana's uid alphabet,
    at most 40 characters. A longer one keeps its start and ends with a hash of the whole, so it
    stays deterministic and two long names never meet."""
    whole = "%s-%s" % (platform, board)
    slug = _UID_CHARS.sub("-", whole.lower()).strip("-")
    if slug == whole and len(slug) <= UID_MAX:
        return slug
    # a changed name gets the hash too: "A b" and "a-b" stay two boards
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return "-".join(part for part in (slug[: UID_MAX - len(digest) - 1].rstrip("-"), digest) if part)


def _jobs(components):
    """The application's services in the cluster: the ``job`` a ServiceMonitor gives their
    metrics (the Service's name)."""
    jobs = []
    for i, comp in enumerate(components or []):
        if spec.component_role(comp, i) != "app" or spec.component_kind(comp, i) in ("none", "external"):
            continue
        jobs.append((comp.get("service") or {}).get("name") or comp.get("workload") or comp["name"])
    return jobs


def _variables(namespace, jobs, datasource):
    ds = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "hide": 0,
        "refresh": 1,
    }
    if datasource.get("uid") or datasource.get("name"):
        ds["current"] = {
            "text": datasource.get("name") or datasource["uid"],
            "value": datasource.get("uid") or datasource["name"],
        }
    job_options = [{"text": "All", "value": "$__all", "selected": True}] + [
        {"text": j, "value": j, "selected": False} for j in jobs
    ]
    return [
        ds,
        {
            "name": "namespace",
            "label": "Namespace",
            "type": "custom",
            "query": namespace,
            "current": {"text": namespace, "value": namespace},
            "options": [{"text": namespace, "value": namespace, "selected": True}],
            "hide": 0,
        },
        {
            "name": "job",
            "label": "Service",
            "type": "custom",
            "query": ",".join(jobs),
            "multi": True,
            "includeAll": True,
            # the services of the description, not any job of the namespace
            # (Service names are DNS labels: nothing to escape in a regex)
            "allValue": "|".join(jobs) or ".*",
            "current": {"text": ["All"], "value": ["$__all"]},
            "options": job_options,
            "hide": 0,
        },
    ]


def _target(ref, query, kind):
    target = {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": query["expr"],
        "legendFormat": query.get("legend") or "__auto",
        "range": kind not in _INSTANT,
        "instant": kind in _INSTANT,
    }
    if kind == "heatmap":
        target["format"] = "heatmap"
    return target


def _panel_json(panel_id, panel, grid, where):
    kind = panel.get("type", "timeseries")
    if kind not in _OPTIONS:
        raise DashboardError("%s: type %r is not one of %s" % (where, kind, ", ".join(PANEL_TYPES)))
    queries = panel.get("queries") or []
    if not queries:
        raise DashboardError("%s: a panel needs at least one query (expr)" % where)
    defaults = {"unit": panel.get("unit") or "short"}
    for key in ("min", "max", "decimals"):
        if panel.get(key) is not None:
            defaults[key] = panel[key]
    if kind == "timeseries":
        defaults["custom"] = {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}
    result = {
        "id": panel_id,
        "type": kind,
        "title": panel["title"],
        "datasource": DATASOURCE,
        "gridPos": grid,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": copy.deepcopy(_OPTIONS[kind]),
        "targets": [_target(chr(ord("A") + i), q, kind) for i, q in enumerate(queries)],
    }
    if kind == "heatmap":
        result["options"]["yAxis"] = {"unit": defaults["unit"]}
    if panel.get("description"):
        result["description"] = panel["description"]
    return result


def _layout(panels):
    """Grid positions, left to right in rows of 24 columns."""
    x = y = row_height = 0
    for panel in panels:
        w, h = panel["width"], panel["height"]
        if x + w > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        yield {"h": h, "w": w, "x": x, "y": y}
        x += w
        row_height = max(row_height, h)


def _normal_panel(raw, where):
    """A panel of an inventory's extra board: ``expr`` or ``exprs`` ({expr, legend} or text)."""
    if not isinstance(raw, dict) or not raw.get("title"):
        raise DashboardError("%s: every panel needs a title, got %r" % (where, raw))
    where = "%s, panel '%s'" % (where, raw["title"])
    exprs = raw.get("exprs") or ([raw["expr"]] if raw.get("expr") else [])
    queries = [_q(e) if isinstance(e, str) else _q(e.get("expr", ""), e.get("legend", "")) for e in exprs]
    if not queries or not all(q["expr"] for q in queries):
        raise DashboardError("%s: needs expr or exprs (PromQL)" % where)
    kind = raw.get("type", "timeseries")
    panel = _panel(raw["title"], kind, raw.get("unit", "short"), *queries, width=raw.get("width"))
    panel["height"] = raw.get("height", 8)
    for key in ("description", "min", "max", "decimals"):
        if key in raw:
            panel[key] = raw[key]
    for key, most in (("width", GRID_WIDTH), ("height", 4 * GRID_WIDTH)):
        if isinstance(panel[key], bool) or not isinstance(panel[key], int) or not 1 <= panel[key] <= most:
            raise DashboardError(
                "%s: %s %r is not a whole number of grid units from 1 to %d" % (where, key, panel[key], most)
            )
    return panel


def _boards(names, extra):
    chosen = {}
    for name in names:
        if name not in BOARDS:
            raise DashboardError("board '%s' is not one of %s" % (name, ", ".join(BOARDS)))
        chosen[name] = {"panels": BOARDS[name]["panels"], "title": BOARDS[name]["title"], "builtin": True}
        chosen[name]["description"] = BOARDS[name]["description"]
    for raw in extra or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            raise DashboardError("every extra board needs a name, got %r" % (raw,))
        where = "board '%s'" % raw["name"]
        if raw["name"] in chosen:
            raise DashboardError("%s is given twice" % where)
        if not raw.get("panels"):
            raise DashboardError("%s has no panels" % where)
        chosen[raw["name"]] = {
            "title": raw.get("title") or raw["name"],
            "description": raw.get("description", ""),
            # the inventory's PromQL is used as written (Grafana's $namespace, $job apply)
            "builtin": False,
            "panels": [_normal_panel(p, where) for p in raw["panels"]],
        }
    return chosen


def render_dashboards(
    components, platform, namespace, boards=None, datasource=None, prefix=None, extra=None, title=None
):
    """The platform's dashboards: a list of {name, uid, title, json} (``json`` a dict).

    ``components`` is the inventory's platform_components (the app's services become the
    ``job`` variable, the data tier decides whether the PostgreSQL and Redis panels are
    there), ``boards`` the names of BOARDS to render (default all), ``extra`` more boards
    from data ({name, title, panels: [{title, type, unit, expr | exprs, width, height}]}),
    ``datasource`` {uid, name} the default of the datasource variable, ``prefix`` the business
    metrics' prefix (default ``<platform>_``), ``title`` the boards' title prefix (default the
    platform's name).
    """
    if not platform or not isinstance(platform, str):
        raise DashboardError("the platform needs a name (platform_name), got %r" % (platform,))
    if not namespace or not isinstance(namespace, str):
        raise DashboardError("the platform needs a namespace (platform_namespace), got %r" % (namespace,))
    prefix = "%s_" % _UID_CHARS.sub("_", platform.lower()).replace("-", "_") if prefix is None else prefix
    if prefix and not _PREFIX.match(prefix):
        raise DashboardError("metric prefix %r is not a Prometheus metric name start" % prefix)
    try:
        jobs = _jobs(components)
        roles = {spec.component_role(comp, i) for i, comp in enumerate(components or [])}
    except spec.SpecError as exc:
        raise DashboardError(str(exc)) from exc
    values = dict(SELECTORS, p=prefix)
    variables = _variables(namespace, jobs, datasource or {})
    heading = title or platform
    result, seen = [], {}
    for name, board in _boards(boards if boards is not None else DEFAULT_BOARDS, extra).items():
        where = "board '%s'" % name
        uid = dashboard_uid(platform, name)
        if uid in seen:
            raise DashboardError("%s and board '%s' get the same uid %s" % (where, seen[uid], uid))
        seen[uid] = name
        panels = [p for p in board["panels"] if not p.get("when") or p["when"] in roles]
        rendered = []
        for i, (panel, grid) in enumerate(zip(panels, _layout(panels), strict=True), start=1):
            if board["builtin"]:
                panel = dict(panel, queries=[dict(q, expr=q["expr"] % values) for q in panel["queries"]])
            rendered.append(_panel_json(i, panel, grid, "%s, panel '%s'" % (where, panel["title"])))
        tags = ["multiagent.ops", "platform-%s" % platform]
        dashboard = {
            "uid": uid,
            "title": "%s / %s" % (heading, board["title"]),
            "description": board["description"],
            "tags": tags,
            "editable": False,
            "graphTooltip": 1,
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "time": {"from": "now-6h", "to": "now"},
            "timezone": "browser",
            "templating": {"list": copy.deepcopy(variables)},
            "links": [
                {
                    "type": "dashboards",
                    "title": "%s boards" % heading,
                    "tags": ["platform-%s" % platform],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                }
            ],
            "panels": rendered,
        }
        result.append({"name": name, "uid": uid, "title": dashboard["title"], "json": dashboard})
    return result


def dashboard_configmaps(dashboards, namespace, labels=None, folder="", label=SIDECAR_LABEL):
    """ConfigMaps that Grafana's dashboard sidecar loads: one per dashboard, labelled
    ``<label>: "1"`` (plus ``labels``), annotated with the folder when one is given, the JSON
    under ``<uid>.json`` with sorted keys so the same board is the same text on every run."""
    maps = []
    for board in dashboards:
        metadata = {
            # a uid may hold "_", a ConfigMap name may not
            "name": board["uid"].replace("_", "-") + "-dashboard",
            "namespace": namespace,
            "labels": dict(labels or {}, **{label: "1"}),
        }
        if folder:
            metadata["annotations"] = {FOLDER_ANNOTATION: folder}
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata,
                "data": {board["uid"] + ".json": json.dumps(board["json"], sort_keys=True, indent=1)},
            }
        )
    return maps


def expand(expr, variables):
    """``expr`` with Grafana's variables ($name, ${name}, ${name:format}) replaced from
    ``variables``: what the query would be in Grafana (the tests run it against Prometheus)."""

    def one(match):
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise DashboardError("query %r uses $%s, which has no value" % (expr, name))
        return str(variables[name])

    return _VARIABLE.sub(one, expr)


def queries(dashboard):
    """Every query of a dashboard (the JSON): [(panel title, refId, expr)]."""
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in dashboard.get("panels", [])
        for target in panel.get("targets", [])
    ]
