# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of ``capacity_report``: one look at Prometheus for every component of every
region (planning.queries, sent at once by monitoring/client.py), the forecasts
(planning.build), and the report files (Markdown, HTML with one matplotlib chart per component
and region, JSON) written atomically into ``report_dir``, only where they differ.

A read, except for the files: in check mode everything is computed and nothing is written;
``changed`` says whether a file would change (a report of the same data changes nothing)."""

from __future__ import annotations

import threading
import time

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import charts, planning, render, store
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import query as query_runner

FORMATS = {"markdown": ".md", "html": ".html", "json": ".json"}


def _fail(msg, **result):
    result.setdefault("changed", False)
    result.setdefault("files", [])
    raise OpsError(nothing_changed(msg), **result)


def plan(params, now):
    """``(queries, settings)`` from the module's options; raises OpsError for a bad option."""
    try:
        end = promql.timestamp(params.get("end") or "now", now, "end")
        step = promql.duration(params.get("step") or "5m", "step")
        promql.duration(params.get("rate_window") or "10m", "rate_window")
        comps = planning.components(params["components"])
        levels = planning.thresholds(params.get("thresholds"))
        regions = [str(r) for r in params.get("regions") or ()]
        region_label = params.get("region_label") or None
        specs = planning.queries(
            params["platform_namespace"],
            end,
            days=params["days"],
            step=step,
            rate_window=params.get("rate_window") or "10m",
            region_label=region_label,
            regions=regions,
        )
    except (ValueError, planning.PlanningError) as exc:
        _fail("Cannot make the capacity report: %s" % exc)
    if params["days_ahead"] < 1:
        _fail("Cannot make the capacity report: days_ahead must be at least 1, not %d" % params["days_ahead"])
    unknown = sorted(set(params.get("formats") or ()) - set(FORMATS))
    if unknown:
        _fail("Cannot make the capacity report: unknown format(s) %s" % ", ".join(unknown))
    settings = {
        "end": end,
        "components": comps,
        "levels": levels,
        "regions": regions,
        "region_label": region_label,
    }
    return specs, settings


def files_of(report, peaks, formats, name):
    """``{file name: bytes}`` of the report in ``formats``."""
    out = {}
    if "markdown" in formats:
        out[name + FORMATS["markdown"]] = render.markdown(report).encode()
    if "html" in formats:
        chart = charts.Chart()
        drawn = {
            key: chart.draw(entry, peaks[key], report["end"], report["days_ahead"], report["thresholds"])
            for entry in report["components"]
            for key in [(entry["region"], entry["component"])]
        }
        out[name + FORMATS["html"]] = render.html_page(report, drawn).encode()
    if "json" in formats:
        out[name + FORMATS["json"]] = render.json_text(report).encode()
    return out


def run(request, prometheus, now=time.time):
    """``{changed, report, recommendations, files}``; OpsError (changed false) when a query
    fails, no component has data, or a file cannot be written."""
    params = request.params
    started = time.monotonic()
    specs, settings = plan(params, now())
    formats = list(params.get("formats") or FORMATS)
    drawing = bool(params.get("report_dir")) and "html" in formats
    if drawing:  # matplotlib's import overlaps the queries
        threading.Thread(target=charts.preload, daemon=True).start()
    try:
        queries = promql.normalize_all(specs, now())
    except promql.QueryError as exc:
        _fail("Cannot make the capacity report: %s" % exc)
    results, errors = prometheus.run(queries)
    durations = {"query": time.monotonic() - started}
    if errors:
        _fail(
            "Cannot make the capacity report from %s: %s"
            % (prometheus.transport.describe(), query_runner.failure_message(errors, len(queries))),
            errors={name: str(exc) for name, exc in errors.items()},
        )
    report, peaks = planning.build(
        results,
        settings["components"],
        settings["end"],
        days=params["days"],
        days_ahead=params["days_ahead"],
        levels=settings["levels"],
        robust=params.get("robust") or "auto",
        region_label=settings["region_label"],
        default_region=params.get("region") or "default",
        regions=settings["regions"],
    )
    durations["analyse"] = time.monotonic() - started - durations["query"]
    if not planning.has_data(report):
        _fail(
            "No usage, request or traffic series of namespace %s%s in %s between %s and %s: "
            "is it the platform's Prometheus, and are cAdvisor and kube-state-metrics scraped?"
            % (
                params["platform_namespace"],
                (" in %s" % ", ".join(settings["regions"])) if settings["regions"] else "",
                prometheus.transport.describe(),
                render.when(report["start"]),
                render.when(report["end"]),
            )
        )
    for entry in report["components"]:
        if entry["missing"]:
            request.warn(
                "%s in %s: no %s series"
                % (entry["component"], entry["region"], " or ".join(entry["missing"]))
            )
    written = []
    if params.get("report_dir"):
        if drawing:
            why = charts.available()
            if why:
                _fail("Cannot draw the capacity report's charts: %s" % why, report=report)
        mark = time.monotonic()
        content = files_of(report, peaks, formats, params.get("report_name") or "capacity")
        durations["render"] = time.monotonic() - mark
        mark = time.monotonic()
        try:
            store.put(params["report_dir"], content, request.check_mode, out=written)
        except OSError as exc:
            message = "Cannot write the capacity report into %s: %s" % (params["report_dir"], exc)
            done = any(f["changed"] for f in written)
            raise OpsError(
                message if done else nothing_changed(message),
                changed=done,
                report=report,
                files=written,
            ) from None
        durations["write"] = time.monotonic() - mark
    return {
        "changed": any(f["changed"] for f in written),
        "durations": {k: round(v, 3) for k, v in durations.items()},
        "report": report,
        "recommendations": report["recommendations"],
        "files": written,
    }
