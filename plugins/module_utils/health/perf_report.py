# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The performance analysis as a report, in Markdown and in self-contained HTML. Pure.

Both come from one outline (``outline``: headings, paragraphs, lists and tables), so they
always say the same; only ``markdown`` and ``html`` know their syntax.
"""

from __future__ import annotations

import html

FORMATS = ("markdown", "html")
VERDICT_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "invalid": "#9a6700"}


def _num(value, digits=1, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        text = ("%.*f" % (digits, value)).rstrip("0").rstrip(".") if digits else "%d" % round(value)
    else:
        text = str(value)
    return text + unit


def _pct(ratio):
    return "-" if ratio is None else "%.1f %%" % (100.0 * ratio)


def _bytes(value):
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return ("%d %s" % (size, unit)) if unit == "B" else "%.1f %s" % (size, unit)
        size /= 1024.0
    return "-"  # not reached


def _where(part):
    return (
        "exec in pod %s" % part["pod"]
        if part.get("via") == "exec" and part.get("pod")
        else part.get("via") or "-"
    )


def _endpoints(report):
    rows = [
        [
            ep["name"],
            ep.get("component") or "-",
            _num(ep["requests"]),
            "%d (%s)" % (ep["errors"], _pct(ep["error_rate"])),
            _num(ep["p50_ms"]),
            _num(ep["p95_ms"]),
            _num(ep["p99_ms"]),
            _num(ep["max_ms"]),
            _num(ep.get("throughput_rps")),
        ]
        for ep in report.get("endpoints") or []
    ]
    if not rows:
        return [("p", "No endpoints were measured.")]
    blocks = [
        (
            "p",
            "%s requests per endpoint, %s at a time; times in milliseconds over every request, failed ones "
            "included." % (report.get("requests"), report.get("concurrency")),
        ),
        (
            "table",
            ["Endpoint", "Component", "Requests", "Errors", "p50", "p95", "p99", "max", "req/s"],
            rows,
        ),
    ]
    reasons = [
        "%s: %s" % (ep["name"], ", ".join("%s x%d" % item for item in ep["error_reasons"].items()))
        for ep in report.get("endpoints") or []
        if ep.get("error_reasons")
    ]
    if reasons:
        blocks.append(("ul", reasons))
    return blocks


def _database(db):
    if db.get("error"):
        return [("p", "Not read: %s" % db["error"])]
    conn = db.get("connections") or {}
    states = ", ".join("%s %d" % item for item in (conn.get("by_state") or {}).items()) or "-"
    blocks = [
        (
            "ul",
            [
                "Connections: %s of max_connections %s (%s); by state: %s"
                % (
                    _num(conn.get("total")),
                    _num(conn.get("max_connections")),
                    _num(conn.get("usage_percent"), unit=" %"),
                    states,
                ),
                "Buffer cache hit ratio: %s" % _pct(db.get("cache_hit_ratio")),
                "Database %s: %s; commits %s, rollbacks %s, deadlocks %s, temporary files %s (%s)"
                % (
                    db.get("database") or "-",
                    _bytes(db.get("size_bytes")),
                    _num(db.get("xact_commit")),
                    _num(db.get("xact_rollback")),
                    _num(db.get("deadlocks")),
                    _num(db.get("temp_files")),
                    _bytes(db.get("temp_bytes")),
                ),
                "Estimated bloat (size x share of dead rows): %s" % _bytes(db.get("estimated_bloat_bytes")),
            ],
        )
    ]
    if db.get("top_statements"):
        blocks += [
            ("h", 4, "Top statements (by total time)"),
            (
                "table",
                ["Statement", "Calls", "Total ms", "Mean ms", "Max ms", "Rows", "Cache hit"],
                [
                    [
                        s["query"],
                        _num(s["calls"]),
                        _num(s["total_ms"]),
                        _num(s["mean_ms"], 2),
                        _num(s["max_ms"], 2),
                        _num(s["rows"]),
                        _pct(s.get("cache_hit_ratio")),
                    ]
                    for s in db["top_statements"]
                ],
            ),
        ]
    else:
        blocks.append(("p", "Top statements: %s" % (db.get("top_statements_note") or "none")))
    if db.get("tables"):
        blocks += [
            ("h", 4, "Tables by estimated bloat"),
            (
                "table",
                ["Table", "Live rows", "Dead rows", "Dead share", "Size", "Estimated bloat", "Last vacuum"],
                [
                    [
                        t["table"],
                        _num(t["live_rows"]),
                        _num(t["dead_rows"]),
                        _pct(t["dead_ratio"]),
                        _bytes(t["size_bytes"]),
                        _bytes(t["estimated_bloat_bytes"]),
                        t.get("last_vacuum") or "never",
                    ]
                    for t in db["tables"]
                ],
            ),
        ]
    return blocks


def _cache(cache):
    if cache.get("error"):
        return [("p", "Not read: %s" % cache["error"])]
    memory = cache.get("memory") or {}
    stats = cache.get("stats") or {}
    if memory.get("maxmemory"):
        limit = "of maxmemory %s (%s), policy %s" % (
            _bytes(memory["maxmemory"]),
            _num(memory.get("usage_percent"), unit=" %"),
            memory.get("maxmemory_policy") or "-",
        )
    else:
        limit = "(no maxmemory: unlimited, policy %s)" % (memory.get("maxmemory_policy") or "-")
    blocks = [
        (
            "ul",
            [
                "Version: %s" % (cache.get("server_version") or "-"),
                "Memory: %s used %s; peak %s; fragmentation ratio %s"
                % (
                    _bytes(memory.get("used_memory")),
                    limit,
                    _bytes(memory.get("used_memory_peak")),
                    _num(memory.get("mem_fragmentation_ratio"), 2),
                ),
                "Keyspace hit rate: %s (%s hits, %s misses)"
                % (
                    _pct(stats.get("hit_rate")),
                    _num(stats.get("keyspace_hits")),
                    _num(stats.get("keyspace_misses")),
                ),
                "Operations: %s per second now, %s commands since start; evicted keys %s, expired keys %s"
                % (
                    _num(stats.get("instantaneous_ops_per_sec")),
                    _num(stats.get("total_commands_processed")),
                    _num(stats.get("evicted_keys")),
                    _num(stats.get("expired_keys")),
                ),
                "Clients: %s connected, %s blocked, %s connections rejected"
                % (
                    _num(stats.get("connected_clients")),
                    _num(stats.get("blocked_clients")),
                    _num(stats.get("rejected_connections")),
                ),
            ],
        )
    ]
    if cache.get("slowlog"):
        blocks += [
            ("h", 4, "Slow log (slowest first)"),
            (
                "table",
                ["Command", "Duration ms", "Started (epoch)", "Client"],
                [
                    [e["command"], _num(e["duration_ms"], 3), _num(e["start_time"]), e.get("client") or "-"]
                    for e in cache["slowlog"]
                ],
            ),
        ]
    else:
        blocks.append(("p", "Slow log: %s" % (cache.get("slowlog_note") or "empty")))
    return blocks


def _load(load):
    blocks = [
        ("verdict", load["verdict"], load["message"]),
        (
            "table",
            [
                "Target",
                "Reached",
                "Started",
                "Dropped",
                "Requests failed",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
            ],
            [
                [
                    "%s/s for %ss" % (_num(load["target_rate"]), _num(load["duration"])),
                    "%s/s (%s)" % (_num(load["achieved_rate"], 2), _pct(load.get("rate_ratio"))),
                    "%d of %d" % (load["started"], load["scheduled"]),
                    _num(load["dropped"]),
                    "%d (%s)" % (load["errors"], _pct(load["error_rate"])),
                    _num(load["p50_ms"]),
                    _num(load["p95_ms"]),
                    _num(load["p99_ms"]),
                    _num(load["max_ms"]),
                ]
            ],
        ),
    ]
    if load.get("checks"):
        blocks.append(
            (
                "ul",
                [
                    "%s: %s, threshold %s: %s"
                    % (c["name"], _num(c["value"], 4), _num(c["threshold"], 4), "ok" if c["ok"] else "missed")
                    for c in load["checks"]
                ],
            )
        )
    blocks.append(("p", "GET %s, at most %s in flight." % (load["url"], load.get("max_in_flight"))))
    return blocks


def outline(reports, title="Performance analysis", generated=None):
    """The report's blocks for ``reports`` (cluster -> the module's report): ``("h", level,
    text)``, ``("p", text)``, ``("ul", [text])``, ``("table", headers, rows)``, ``("verdict",
    verdict, message)``."""
    blocks = [("h", 1, title)]
    if generated:
        blocks.append(("p", "Generated %s." % generated))
    for cluster in sorted(reports):
        report = reports[cluster] or {}
        blocks.append(("h", 2, "%s (namespace %s)" % (cluster, report.get("namespace") or "-")))
        blocks.append(("ul", report.get("findings") or ["Nothing stands out."]))
        blocks += [("h", 3, "Response times")] + _endpoints(report)
        if report.get("database"):
            db = report["database"]
            blocks += [("h", 3, "PostgreSQL %s (%s)" % (db.get("name"), _where(db)))] + _database(db)
        if report.get("cache"):
            cache = report["cache"]
            blocks += [("h", 3, "Redis %s (%s)" % (cache.get("name"), _where(cache)))] + _cache(cache)
        if report.get("load"):
            blocks += [("h", 3, "Load check")] + _load(report["load"])
    return blocks


def _md_cell(text):
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(reports, title="Performance analysis", generated=None):
    """The report in Markdown (GitHub's tables)."""
    lines = []
    for block in outline(reports, title, generated):
        kind = block[0]
        if kind == "h":
            lines += ["#" * block[1] + " " + block[2], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "verdict":
            lines += ["**%s**: %s" % (block[1].upper(), block[2]), ""]
        elif kind == "ul":
            lines += ["- %s" % _md_cell(item) for item in block[1]] + [""]
        elif kind == "table":
            lines.append("| " + " | ".join(_md_cell(h) for h in block[1]) + " |")
            lines.append("|" + "|".join("---" for _i in block[1]) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block[2]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#1f2328;max-width:80em}"
    "table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #d0d7de;padding:.3em .6em;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}td{font-variant-numeric:tabular-nums}"
    ".verdict{display:inline-block;color:#fff;padding:.2em .6em;border-radius:.3em;font-weight:bold}"
)


def html_page(reports, title="Performance analysis", generated=None):
    """The report as one self-contained HTML page (inline style, nothing loaded)."""
    esc = html.escape
    body = []
    for block in outline(reports, title, generated):
        kind = block[0]
        if kind == "h":
            body.append("<h%d>%s</h%d>" % (block[1], esc(block[2]), block[1]))
        elif kind == "p":
            body.append("<p>%s</p>" % esc(block[1]))
        elif kind == "verdict":
            body.append(
                '<p><span class="verdict" style="background:%s">%s</span> %s</p>'
                % (VERDICT_COLOURS.get(block[1], "#57606a"), esc(block[1].upper()), esc(block[2]))
            )
        elif kind == "ul":
            body.append("<ul>%s</ul>" % "".join("<li>%s</li>" % esc(str(item)) for item in block[1]))
        elif kind == "table":
            head = "".join("<th>%s</th>" % esc(str(h)) for h in block[1])
            rows = "".join(
                "<tr>%s</tr>" % "".join("<td>%s</td>" % esc(str(c)) for c in row) for row in block[2]
            )
            body.append("<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, rows))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>%s</title>\n'
        "<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n" % (esc(title), STYLE, "\n".join(body))
    )


def render(reports, fmt="markdown", title="Performance analysis", generated=None):
    """The report in ``fmt`` (``markdown`` or ``html``)."""
    if fmt not in FORMATS:
        raise ValueError("format must be one of %s, got %r" % (", ".join(FORMATS), fmt))
    if not isinstance(reports, dict):
        raise ValueError(
            "reports must map clusters to performance_analysis reports, got %r" % type(reports).__name__
        )
    return (markdown if fmt == "markdown" else html_page)(reports, title, generated)
