# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity report as text: Markdown (the summary) and one self-contained HTML page (the
summary and one inline SVG chart per component and region; no script, no style sheet or font
fetched from anywhere). Pure: the report of planning.build and the charts' SVG text in, str out."""

from __future__ import annotations

import datetime
import html
import json

METRIC_NAMES = {"cpu": "CPU % of requests", "memory": "memory % of requests", "requests": "requests/s"}


def when(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value, digits=1):
    return "-" if value is None else "%.*f" % (digits, value)


def _days(analysis):
    """Days until the metric's threshold, as read in a table."""
    if not analysis or not analysis.get("thresholds"):
        return "-"
    t = analysis["thresholds"][0]
    if t["status"] == "already_above":
        return "above %g now" % t["threshold"]
    if t["status"] == "not_rising":
        return "not rising"
    return "%.0f" % t["days"]


def _cell(analysis, digits=1):
    if not analysis:
        return "no data"
    return "%s → %s (%+.*f/day%s)" % (
        _num(analysis["current"], digits),
        _num(analysis["predicted"], digits),
        digits + 1,
        analysis["slope_per_day"],
        ", Theil-Sen" if analysis["method"] == "theil_sen" else "",
    )


def _title(report, cluster):
    return "Capacity report%s: %s to %s, forecast %d days ahead" % (
        (" of %s" % cluster) if cluster else "",
        when(report["start"]),
        when(report["end"]),
        report["days_ahead"],
    )


def _rows(report, region):
    return [e for e in report["components"] if e["region"] == region]


def markdown(report, cluster=None):
    t = report["thresholds"]
    lines = [
        "# " + _title(report, cluster),
        "",
        "Utilisation is usage against requests, summed over each workload's pods (pods a rollout "
        "renamed count together), fitted to hourly peaks by least squares, or Theil-Sen where the "
        "data is noisy. Thresholds: CPU %g %%, memory %g %%, request growth %g %%."
        % (t["cpu"], t["memory"], t["requests_growth"]),
        "",
        "## Recommendations",
        "",
    ]
    if report["recommendations"]:
        lines += [
            "- **%s** in %s (%s): %s - %s"
            % (r["component"], r["region"], r["metric"], r["reason"], r["action"])
            for r in report["recommendations"]
        ]
    else:
        lines.append("None: no component is predicted to cross a threshold.")
    for region in report["regions"]:
        lines += [
            "",
            "## %s" % region,
            "",
            "| component | pods | CPU %% now → in %dd | days to CPU %g %% | memory %% now → in %dd "
            "| days to memory %g %% | requests/s now → in %dd | advice |"
            % (report["days_ahead"], t["cpu"], report["days_ahead"], t["memory"], report["days_ahead"]),
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in _rows(report, region):
            lines.append(
                "| %s | %d | %s | %s | %s | %s | %s | %s |"
                % (
                    e["component"],
                    e["pods"],
                    _cell(e["cpu"]),
                    _days(e["cpu"]),
                    _cell(e["memory"]),
                    _days(e["memory"]),
                    _cell(e["requests"], 2),
                    "; ".join(r["metric"] for r in e["recommendations"]) or "-",
                )
            )
    return "\n".join(lines) + "\n"


CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;font-size:.85em;text-align:left}
.chart{margin:.5em 0 1.5em 0}
.chart svg{max-width:100%;height:auto}
.advice{color:#a00}
"""


def html_page(report, charts, cluster=None):
    """The page: ``charts`` maps ``(region, component)`` to SVG text."""
    e_ = html.escape
    t = report["thresholds"]
    title = _title(report, cluster)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>%s</title><style>%s</style></head><body>" % (e_(title), CSS),
        "<h1>%s</h1>" % e_(title),
        "<p>Utilisation is usage against requests, summed over each workload's pods, fitted to hourly "
        "peaks (least squares; Theil-Sen where noisy). Thresholds: CPU %g %%, memory %g %%, request "
        "growth %g %%.</p>" % (t["cpu"], t["memory"], t["requests_growth"]),
        "<h2>Recommendations</h2>",
    ]
    if report["recommendations"]:
        out.append("<ul>")
        out += [
            '<li class="advice"><b>%s</b> in %s (%s): %s &mdash; %s</li>'
            % (e_(r["component"]), e_(r["region"]), e_(r["metric"]), e_(r["reason"]), e_(r["action"]))
            for r in report["recommendations"]
        ]
        out.append("</ul>")
    else:
        out.append("<p>None: no component is predicted to cross a threshold.</p>")
    for region in report["regions"]:
        out.append('<h2 id="%s">%s</h2>' % (e_(region), e_(region)))
        for e in _rows(report, region):
            out.append('<section class="component"><h3>%s</h3>' % e_(e["component"]))
            out.append(
                "<table><tr><th></th><th>now</th><th>in %d days</th><th>slope/day</th><th>method</th>"
                "<th>days to threshold</th></tr>" % report["days_ahead"]
            )
            for metric in ("cpu", "memory", "requests"):
                a = e[metric]
                if not a:
                    out.append("<tr><td>%s</td><td colspan=5>no data</td></tr>" % METRIC_NAMES[metric])
                    continue
                out.append(
                    "<tr><td>%s</td><td>%s</td><td>%s</td><td>%+.3f</td><td>%s</td><td>%s</td></tr>"
                    % (
                        METRIC_NAMES[metric],
                        _num(a["current"], 2),
                        _num(a["predicted"], 2),
                        a["slope_per_day"],
                        a["method"].replace("_", " "),
                        e_(_days(a)),
                    )
                )
            out.append("</table>")
            out.append("<p>%d pod(s) of %s over the period.</p>" % (e["pods"], e_(e["workload"])))
            for r in e["recommendations"]:
                out.append('<p class="advice">%s: %s</p>' % (e_(r["reason"]), e_(r["action"])))
            svg = charts.get((region, e["component"]))
            if svg:
                out.append('<div class="chart">%s</div>' % svg)
            out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def json_text(report):
    return json.dumps(report, indent=1, sort_keys=True) + "\n"
