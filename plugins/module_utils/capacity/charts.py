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

from ansible_collections.multiagent.ops.plugins.module_utils.capacity.arrays import numpy as np

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


class Chart:
    """One figure, drawn again for each component: its axes, ticks and texts are made once
    (about a third of a chart's time), its lines, levels, title and legend set per component.
    Nothing of one component stays in the next one's SVG: a chart is the same file whether it
    is drawn first or after others."""

    def __init__(self):
        matplotlib, Figure, FigureCanvasSVG = _matplotlib()
        self._matplotlib = matplotlib
        self.used = False
        with matplotlib.rc_context(STYLE):
            self.fig = fig = Figure(figsize=SIZE)
            FigureCanvasSVG(fig)
            self.ax = ax = fig.add_subplot()
            self.peaks, self.fits, self.levels = {}, {}, {}
            for metric in ("cpu", "memory"):
                colour = COLOURS[metric]
                (self.peaks[metric],) = ax.plot([], [], color=colour, linewidth=0.7, alpha=0.75)
                (self.fits[metric],) = ax.plot([], [], color=colour, linestyle="--", linewidth=1.2)
                self.levels[metric] = ax.axhline(0, color=colour, linestyle=":", linewidth=0.8)
            ax.axvline(0, color="#555555", linewidth=0.6)
            ax.set_xlabel("days from the report's end (right of 0: forecast)")
            ax.set_ylabel("% of requests")
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
            ax.grid(True, alpha=0.25)
            self.empty = ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
            # fixed margins: tight_layout() would draw the figure twice
            fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.16)

    def draw(self, entry, peaks, end, days_ahead, levels):
        """The SVG (text, without the XML prolog) of one component's chart: ``entry`` is a
        report entry (planning.build), ``peaks`` its ``{metric: (n, 2) hourly peaks}``."""
        shown = {
            metric: np.asarray(peaks.get(metric, ()), dtype=np.float64).reshape(-1, 2)
            for metric in ("cpu", "memory")
            if entry.get(metric) and len(peaks.get(metric, ()))
        }
        if not shown and self.used:  # limits scaled to nothing would be the last chart's
            return Chart().draw(entry, peaks, end, days_ahead, levels)
        self.used = True
        ax = self.ax
        with self._matplotlib.rc_context(STYLE):
            drawn = []
            first = end
            for metric in ("cpu", "memory"):
                points = shown.get(metric)
                analysis = entry.get(metric)
                for line in (self.peaks[metric], self.fits[metric], self.levels[metric]):
                    line.set_visible(points is not None)
                if points is None:
                    continue
                first = min(first, points[0, 0])
                peak = self.peaks[metric]
                peak.set_data((points[:, 0] - end) / DAY, points[:, 1])
                peak.set_label(
                    "%s %% of requests: hourly peaks, trend (%s), threshold"
                    % (LABELS[metric], analysis["method"].replace("_", " "))
                )
                self.fits[metric].set_data(*_fit_line(analysis, end, days_ahead))
                self.levels[metric].set_ydata([levels[metric], levels[metric]])
                drawn.append(peak)
            ax.set_title("%s in %s" % (entry["component"], entry["region"]), loc="left")
            ax.relim(visible_only=True)
            ax.set_autoscale_on(True)
            ax.autoscale_view()
            ax.set_ylim(bottom=0)
            # fixed ticks: fewer labels to lay out
            span = int(round((end - first) / DAY))
            ax.set_xticks(range(-span, days_ahead + 1, max(1, (span + days_ahead) // 6)))
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
            if drawn:
                ax.legend(handles=drawn, loc="upper left", fontsize=6, frameon=False)
            self.empty.set_visible(not drawn)
            out = io.StringIO()
            self.fig.savefig(out, format="svg", metadata={"Date": None})
        text = out.getvalue()
        return text[text.index("<svg") :]


def component_chart(entry, peaks, end, days_ahead, levels):
    """One chart on a figure of its own (see :class:`Chart`, which draws many)."""
    return Chart().draw(entry, peaks, end, days_ahead, levels)
