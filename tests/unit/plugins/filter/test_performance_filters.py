"""performance_report: the report of every cluster, what the servers said kept as text, its
errors named after the filter."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.multiagent.ops.plugins.filter import performance

REPORT = {
    "namespace": "mplp",
    "findings": [],
    "endpoints": [],
    "database": None,
    "cache": {
        "name": "redis",
        "via": "direct",
        "memory": {},
        "stats": {},
        "slowlog": [{"command": "GET {{ lookup('env', 'HOME') }}", "duration_ms": 12.0, "start_time": 1}],
    },
}


def test_quoted_jinja_stays_text():
    text = performance.FilterModule().filters()["performance_report"]({"us-east-1": REPORT})
    assert "GET {{ lookup('env', 'HOME') }}" in text and text.startswith("# Performance analysis")
    page = performance.performance_report({"us-east-1": REPORT}, "html", title="T", generated="now")
    assert "<title>T</title>" in page and "Generated now." in page


def test_errors_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="^performance_report: format must be one of markdown, html"):
        performance.performance_report({"us-east-1": REPORT}, "pdf")
