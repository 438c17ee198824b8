"""The capacity_report runner with a stand-in for Prometheus (monitoring/client.py's interface)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import report
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import promql

from .test_planning import COMPONENTS, END, results


class Transport:
    def describe(self):
        return "http://prometheus.test"


class FakePrometheus:
    def __init__(self, answers, fail=()):
        self.answers = answers
        self.fail = fail
        self.transport = Transport()
        self.asked = []

    def run(self, queries):
        self.asked.append(queries)
        errors = {
            q["name"]: promql.QueryError(q["name"], "HTTP 503") for q in queries if q["name"] in self.fail
        }
        found = {
            q["name"]: self.answers.get(q["name"], {"series": []}) for q in queries if q["name"] not in errors
        }
        return found, errors


def params(tmp_path=None, **kw):
    out = dict(
        platform_namespace="mplp",
        components=COMPONENTS,
        region_label="region",
        regions=[],
        region="default",
        end=END,
        days=10,
        step="5m",
        rate_window="10m",
        days_ahead=30,
        thresholds={},
        robust="auto",
        report_dir=str(tmp_path / "reports") if tmp_path else None,
        report_name="capacity-r1",
        formats=["markdown", "html", "json"],
    )
    out.update(kw)
    return out


def test_one_look_for_every_component_then_the_three_files(tmp_path):
    prom = FakePrometheus(results(cpu_growth=0.02))
    out = report.run(Request(params(tmp_path)), prom)
    assert len(prom.asked) == 1 and len(prom.asked[0]) == 7  # one batch, whatever the components
    assert out["changed"] is True
    names = sorted(os.path.basename(f["path"]) for f in out["files"])
    assert names == ["capacity-r1.html", "capacity-r1.json", "capacity-r1.md"]
    html = (tmp_path / "reports" / "capacity-r1.html").read_text()
    assert html.count("<svg") == 1
    assert [r["metric"] for r in out["recommendations"]] == ["cpu"]
    assert set(out["durations"]) == {"query", "analyse", "render", "write"}
    again = report.run(Request(params(tmp_path)), FakePrometheus(results(cpu_growth=0.02)))
    assert again["changed"] is False  # the same data: the same files


def test_check_mode_computes_everything_and_writes_nothing(tmp_path):
    out = report.run(Request(params(tmp_path), check_mode=True), FakePrometheus(results()))
    assert out["changed"] is True and all(f["changed"] for f in out["files"])
    assert out["report"]["components"][0]["cpu"] is not None
    assert not (tmp_path / "reports").exists()


def test_without_report_dir_only_the_result(tmp_path):
    out = report.run(Request(params()), FakePrometheus(results()))
    assert out["files"] == [] and out["changed"] is False and "render" not in out["durations"]


def test_a_failed_query_fails_naming_it_and_writes_nothing(tmp_path):
    with pytest.raises(OpsError) as caught:
        report.run(Request(params(tmp_path)), FakePrometheus(results(), fail=("cpu_usage",)))
    assert (
        "from http://prometheus.test" in caught.value.msg
        and "Query 'cpu_usage' failed: HTTP 503" in caught.value.msg
    )
    assert caught.value.msg.endswith("nothing was changed")
    assert caught.value.result["changed"] is False and "cpu_usage" in caught.value.result["errors"]
    assert not (tmp_path / "reports").exists()


def test_no_series_at_all_fails_saying_where_it_looked(tmp_path):
    with pytest.raises(
        OpsError,
        match="No usage, request or traffic series of namespace mplp in r1 in "
        "http://prometheus.test between 2027-01-",
    ) as caught:
        report.run(Request(params(tmp_path, regions=["r1"])), FakePrometheus({}))
    assert caught.value.result["changed"] is False


def test_a_component_without_series_is_a_warning(tmp_path):
    request = Request(params(components=COMPONENTS + ["ghost"]))
    report.run(request, FakePrometheus(results()))
    assert request.warnings == ["ghost in r1: no cpu or memory or requests series"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"end": "yesterday"}, "end 'yesterday' is not Unix seconds"),
        ({"thresholds": {"disk": 90}}, "unknown threshold 'disk'"),
        ({"days_ahead": 0}, "days_ahead must be at least 1"),
        ({"step": "1s"}, "Query 'cpu_usage' failed: 864001 points per series"),
    ],
)
def test_bad_options_fail_before_any_query(change, message):
    prom = FakePrometheus(results())
    with pytest.raises(OpsError, match=message) as caught:
        report.run(Request(params(**change)), prom)
    assert prom.asked == [] and caught.value.msg.endswith("nothing was changed")


def test_a_write_that_fails_says_so_and_whether_anything_was_written(tmp_path):
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(OpsError, match="Cannot write the capacity report into") as caught:
        report.run(Request(params(tmp_path)), FakePrometheus(results()))
    assert caught.value.result["changed"] is False and caught.value.msg.endswith("nothing was changed")
