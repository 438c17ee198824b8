# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity report's charts, drawn with matplotlib into SVG text (no file, no display).

One chart per component and region: the hourly peaks of CPU and memory utilisation (percent
of requests) over the report's days, each metric's fitted trend carried on to the forecast
horizon, and the thresholds. The x axis counts days from the report's end (negative: the
data, positive: the forecast). The SVG is reproducible (no date, fixed ids), so a report of
the same data is the same file and a re-run changes nothing.
"""

from __future__ import annotations

import io

DAY = 86400.0
COLOURS = {"cpu": "#1f77b4", "memory": "#d62728"}
LABELS = {"cpu": "CPU", "memory": "memory"}
STYLE = {
    "svg.hashsalt": "multiagent.ops capacity report",
    "svg.fonttype": "none",  # text as text: smaller, and searchable in the page
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SIZE = (7.0, 2.6)


def _matplotlib():
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("svg", force=False)
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    return matplotlib, Figure, FigureCanvasSVG


def preload():
    """Import matplotlib (about 0.6 s) ahead of need: the runner calls it on a thread while the
    queries are in flight. An import error is left for available() to report."""
    try:
        _matplotlib()
    except ImportError:
        pass


def available():
    """None when matplotlib can be imported, else why not."""
    try:
        _matplotlib()
    except ImportError as exc:
        return "matplotlib is not installed where the module runs (%s)" % exc
    return None


def _fit_line(analysis, end, days_ahead):
    """Two points of the chosen fit, from its origin to the forecast horizon, in chart units."""
    fit = analysis["theil_sen"] or analysis["least_squares"]
    if analysis["method"] != fit["method"]:
        fit = analysis["least_squares"]
    horizon = end + days_ahead * DAY
    xs = [fit["origin"], horizon]
    ys = [fit["intercept"] + fit["slope_per_day"] * (x - fit["origin"]) / DAY for x in xs]
    return [(x - end) / DAY for x in xs], ys


def component_chart(entry, peaks, end, days_ahead, levels):
    """The SVG (text, without the XML prolog) of one component's chart: ``entry`` is a report
    entry (planning.build), ``peaks`` its ``{metric: [(ts, value)]}``."""
    matplotlib, Figure, FigureCanvasSVG = _matplotlib()
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=SIZE)
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        drawn = False
        for metric in ("cpu", "memory"):
            points = peaks.get(metric)
            analysis = entry.get(metric)
            if not points or not analysis:
                continue
            drawn = True
            colour = COLOURS[metric]
            ax.plot(
                [(ts - end) / DAY for ts, _value in points],
                [v for _ts, v in points],
                color=colour,
                linewidth=0.7,
                alpha=0.75,
                label="%s %% of requests: hourly peaks, trend (%s), threshold"
                % (LABELS[metric], analysis["method"].replace("_", " ")),
            )
            xs, ys = _fit_line(analysis, end, days_ahead)
            ax.plot(xs, ys, color=colour, linestyle="--", linewidth=1.2)
            ax.axhline(levels[metric], color=colour, linestyle=":", linewidth=0.8)
        ax.axvline(0, color="#555555", linewidth=0.6)
        ax.set_xlabel("days from the report's end (right of 0: forecast)")
        ax.set_ylabel("% of requests")
        ax.set_title("%s in %s" % (entry["component"], entry["region"]), loc="left")
        ax.set_ylim(bottom=0)
        # fixed ticks: fewer labels to lay out
        span = int(round((end - min((pts[0][0] for pts in peaks.values() if pts), default=end)) / DAY))
        ax.set_xticks(range(-span, days_ahead + 1, max(1, (span + days_ahead) // 6)))
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.grid(True, alpha=0.25)
        if drawn:
            ax.legend(loc="upper left", fontsize=6, frameon=False)
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
        # fixed margins: tight_layout() would draw the figure twice
        fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.16)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]
