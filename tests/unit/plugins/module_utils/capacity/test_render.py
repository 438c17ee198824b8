"""The capacity report as Markdown, HTML and JSON."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import render

END = 1_796_083_200


def analysis(current, predicted, slope, method="least_squares", threshold=None, status="rising", days=None):
    return {
        "current": current,
        "predicted": predicted,
        "slope_per_day": slope,
        "method": method,
        "thresholds": [{"threshold": threshold, "status": status, "days": days}] if threshold else [],
    }


REC = {
    "type": "scale_up",
    "metric": "cpu",
    "reason": "CPU utilisation is predicted to reach 95.0% in 30 days (> 80%)",
    "action": "add 2 replicas <now>",
    "region": "us-east-1",
    "component": "core",
}
REPORT = {
    "end": END,
    "start": END - 30 * 86400,
    "days": 30,
    "days_ahead": 30,
    "thresholds": {"cpu": 80.0, "memory": 85.0, "requests_growth": 50.0},
    "regions": ["us-east-1"],
    "components": [
        {
            "region": "us-east-1",
            "component": "core",
            "workload": "mplp-core",
            "pods": 5,
            "cpu": analysis(60, 95, 1.17, "theil_sen", 80, "rising", 17.1),
            "memory": analysis(90, 91, 0.03, threshold=85, status="already_above", days=0.0),
            "requests": analysis(10, 12, 0.07),
            "recommendations": [REC],
        },
        {
            "region": "us-east-1",
            "component": "plan",
            "workload": "mplp-plan",
            "pods": 0,
            "cpu": None,
            "memory": None,
            "requests": None,
            "recommendations": [],
        },
    ],
    "recommendations": [REC],
}


def test_markdown_summary_has_the_period_recommendations_and_one_row_per_component():
    text = render.markdown(REPORT)
    assert text.startswith(
        "# Capacity report: 2026-11-01 00:00 UTC to 2026-12-01 00:00 UTC, forecast 30 days"
    )
    assert "- **core** in us-east-1 (cpu): CPU utilisation is predicted to reach 95.0%" in text
    rows = [line for line in text.splitlines() if line.startswith("| core") or line.startswith("| plan")]
    assert rows[0].startswith("| core | 5 | 60.0 → 95.0 (+1.17/day, Theil-Sen) | 17 | ")
    assert "above 85 now" in rows[0]
    assert rows[1] == "| plan | 0 | no data | - | no data | - | no data | - |"


def test_markdown_says_when_nothing_is_recommended():
    quiet = dict(REPORT, recommendations=[])
    assert "None: no component is predicted to cross a threshold." in render.markdown(quiet)


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_one_self_contained_page_with_the_charts_inline_and_text_escaped():
    page = render.html_page(REPORT, {("us-east-1", "core"): '<svg xmlns="http://www.w3.org/2000/svg"></svg>'})
    parser = Collect()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert tags.count("svg") == 1 and tags.count("section") == 2
    # nothing to fetch: no script, stylesheet link, image or frame source
    assert not [t for t, a in parser.tags if t in ("script", "link", "img", "iframe") or "src" in a]
    assert "add 2 replicas &lt;now&gt;" in page and "<now>" not in page
    assert "5 pod(s) of mplp-core" in page


def test_json_is_the_report():
    assert json.loads(render.json_text(REPORT)) == json.loads(json.dumps(REPORT))
