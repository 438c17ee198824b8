"""The capacity charts: matplotlib SVG, reproducible, with the data drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import charts, forecast

END = 1_800_000_000 - 1_800_000_000 % 3600
LEVELS = {"cpu": 80.0, "memory": 85.0}


def entry_and_peaks():
    cpu = [(END - 720 * 3600 + h * 3600, 40 + h / 24) for h in range(720)]
    memory = [(ts, 30.0 + (h % 24)) for h, (ts, _) in enumerate(cpu)]
    entry = {
        "component": "core",
        "region": "eu-west-1",
        "cpu": forecast.analyse(cpu, now=END, thresholds=(80,)),
        "memory": forecast.analyse(memory, now=END, thresholds=(85,)),
    }
    return entry, {"cpu": cpu, "memory": memory}


def test_a_chart_is_svg_drawn_by_matplotlib_with_both_metrics_and_the_title():
    assert charts.available() is None
    entry, peaks = entry_and_peaks()
    svg = charts.component_chart(entry, peaks, END, 30, LEVELS)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "Matplotlib" in svg  # the generator comment: drawn by the library, not by hand
    assert "core in eu-west-1" in svg  # text kept as text (svg.fonttype none)
    paths = [el for el in root.iter() if el.tag.endswith("path")]
    assert len(paths) > 10
    assert "CPU % of requests" in svg and "memory % of requests" in svg


def test_the_same_data_gives_the_same_svg():
    entry, peaks = entry_and_peaks()
    assert charts.component_chart(entry, peaks, END, 30, LEVELS) == charts.component_chart(
        entry, peaks, END, 30, LEVELS
    )


def test_a_component_without_data_gets_a_chart_that_says_so():
    svg = charts.component_chart(
        {"component": "x", "region": "r", "cpu": None, "memory": None}, {}, END, 30, LEVELS
    )
    assert "no data" in svg and svg.startswith("<svg")


def test_a_reused_chart_keeps_nothing_of_the_component_before():
    entry, peaks = entry_and_peaks()
    two_days = {"memory": [(ts, 90.0 + h) for h, (ts, _) in enumerate(peaks["memory"][-48:])]}
    two_days_fit = forecast.analyse(two_days["memory"], now=END)
    memory_only = dict(entry, component="plan", cpu=None, memory=two_days_fit)
    empty = {"component": "x", "region": "r", "cpu": None, "memory": None}
    chart = charts.Chart()
    cases = ((entry, peaks), (empty, {}), (memory_only, two_days))
    drawn = [chart.draw(e, p, END, 30, LEVELS) for e, p in cases]
    again = chart.draw(entry, peaks, END, 30, LEVELS)
    assert again == drawn[0]
    assert drawn == [charts.component_chart(e, p, END, 30, LEVELS) for e, p in cases]
    assert "no data" not in drawn[0] and "no data" in drawn[1]
    assert "CPU % of requests" not in drawn[2] and "memory % of requests" in drawn[2]
