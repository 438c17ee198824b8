"""Dashboards as data: the four boards per platform, their uids, selectors and layout."""

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import dashboards as d

ROOT = Path(__file__).resolve().parents[5]
APP_ONLY = [{"name": "core", "workload": "mplp-core", "service": {"name": "mplp-core", "port": 8080}}]
WITH_DATA = APP_ONLY + [
    {"name": "plan", "workload": "mplp-plan", "service": {"name": "mplp-plan", "port": 8080}},
    {"name": "postgresql", "role": "database", "service": {"name": "mplp-postgresql", "port": 5432}},
    {"name": "redis", "role": "cache", "service": {"name": "mplp-redis", "port": 6379}},
    {"name": "billing", "kind": "external", "external": {"host": "billing.example.com", "port": 443}},
]


def render(components=WITH_DATA, platform="mplp", namespace="mplp-production", **kw):
    return d.render_dashboards(components, platform, namespace, **kw)


def by_name(boards):
    return {b["name"]: b for b in boards}


def variables(board):
    return {v["name"]: v for v in board["json"]["templating"]["list"]}


def test_the_four_boards_of_the_runbook_each_with_its_uid_and_title():
    boards = render()
    assert [(b["name"], b["uid"], b["title"]) for b in boards] == [
        ("system-overview", "mplp-system-overview", "mplp / System overview"),
        ("performance", "mplp-performance", "mplp / Performance"),
        ("business", "mplp-business", "mplp / Business"),
        ("errors", "mplp-errors", "mplp / Error analysis"),
    ]
    for board in boards:
        assert board["json"]["uid"] == board["uid"] and board["json"]["title"] == board["title"]
        assert board["json"]["panels"], board["name"]


def test_a_rerun_renders_the_same_json():
    assert json.dumps(render(), sort_keys=True) == json.dumps(render(), sort_keys=True)


def test_every_query_is_scoped_to_the_platforms_namespace():
    for board in render():
        for title, _ref, expr in d.queries(board["json"]):
            selectors = re.findall(r"\{([^}]*)\}", expr)
            assert selectors, (title, expr)
            for selector in selectors:
                assert 'namespace="$namespace"' in selector, (board["name"], title, expr)


def test_the_variables_hold_the_platforms_namespace_and_its_app_services():
    ns, job = (variables(render()[0])[k] for k in ("namespace", "job"))
    assert ns["query"] == "mplp-production" and ns["current"]["value"] == "mplp-production"
    # the app's services only: not the data tier, not an external component
    assert job["query"] == "mplp-core,mplp-plan"
    assert job["allValue"] == "mplp-core|mplp-plan"
    assert [o["value"] for o in job["options"]] == ["$__all", "mplp-core", "mplp-plan"]


def test_the_datasource_variable_defaults_to_the_given_one_and_every_panel_uses_it():
    board = render(datasource={"uid": "prom-main", "name": "Prometheus"})[0]
    ds = variables(board)["datasource"]
    assert (ds["type"], ds["query"], ds["current"]) == (
        "datasource",
        "prometheus",
        {"text": "Prometheus", "value": "prom-main"},
    )
    assert "current" not in variables(render()[0])["datasource"]
    for panel in board["json"]["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])


def test_data_tier_panels_only_when_the_platform_has_that_role():
    def titles(components):
        return [p["title"] for p in by_name(render(components))["performance"]["json"]["panels"]]

    full, app_only = titles(WITH_DATA), titles(APP_ONLY)
    assert any(t.startswith("PostgreSQL") for t in full) and any(t.startswith("Redis") for t in full)
    assert not any(t.startswith(("PostgreSQL", "Redis")) for t in app_only)
    only_db = titles(APP_ONLY + [WITH_DATA[2]])
    assert any(t.startswith("PostgreSQL") for t in only_db) and not any(
        t.startswith("Redis") for t in only_db
    )


def test_exporter_metric_names_for_system_app_and_data_tier():
    exprs = " ".join(e for b in render() for _t, _r, e in d.queries(b["json"]))
    for metric in (
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kube_pod_container_resource_requests",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "pg_stat_activity_count",
        "pg_settings_max_connections",
        "redis_connected_clients",
        "redis_memory_max_bytes",
    ):
        assert metric in exprs
    # the seed's own names that no exporter emits are not used
    assert "postgresql_connections_active" not in exprs and "http_requests_per_second" not in exprs


def test_business_metrics_carry_the_prefix_default_platform_name():
    def business(**kw):
        return " ".join(e for _t, _r, e in d.queries(by_name(render(**kw))["business"]["json"]))

    assert "langgraph_tasks_total" in business(platform="langgraph")
    assert "mplp_tasks_active" in business() and "langgraph_" not in business()
    assert "app_agents_active" in business(prefix="app_")
    used = set(
        re.findall(
            r"mplp_(\w+?)(?:_bucket)?\{", " ".join(e for b in render() for _t, _r, e in d.queries(b["json"]))
        )
    )
    assert used <= set(d.BUSINESS_METRICS), used - set(d.BUSINESS_METRICS)
    with pytest.raises(d.DashboardError, match="metric prefix '9x' "):
        render(prefix="9x")


def test_instant_panels_ask_for_instant_queries_and_heatmaps_for_buckets():
    for board in render():
        for panel in board["json"]["panels"]:
            for target in panel["targets"]:
                instant = panel["type"] in ("stat", "piechart", "bargauge")
                assert (target["instant"], target["range"]) == (instant, not instant), panel["title"]
                assert (target.get("format") == "heatmap") == (panel["type"] == "heatmap")
    refs = [t["refId"] for t in render()[0]["json"]["panels"][5]["targets"]]
    assert refs == ["A", "B", "C"]


def test_panels_are_laid_out_in_rows_of_24_without_overlap():
    for board in render():
        cells = set()
        for panel in board["json"]["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, (board["name"], panel["title"])
                    cells.add((x, y))
        ids = [p["id"] for p in board["json"]["panels"]]
        assert ids == list(range(1, len(ids) + 1))
    first_row = [p["gridPos"] for p in render()[0]["json"]["panels"][:5]]
    assert [(g["x"], g["y"]) for g in first_row] == [(0, 0), (6, 0), (12, 0), (18, 0), (0, 8)]


@pytest.mark.parametrize(
    "platform, board",
    [("mplp", "performance"), ("x" * 60, "system-overview"), ("A b", "errors"), ("a-b", "errors")],
)
def test_uid_at_most_40_characters_deterministic_and_in_grafanas_alphabet(platform, board):
    uid = d.dashboard_uid(platform, board)
    assert len(uid) <= 40 and re.fullmatch(r"[a-z0-9_-]+", uid)
    assert uid == d.dashboard_uid(platform, board)


def test_uids_of_names_that_look_alike_stay_apart():
    assert d.dashboard_uid("mplp", "performance") == "mplp-performance"
    assert d.dashboard_uid("A b", "errors") != d.dashboard_uid("a-b", "errors")
    long = {d.dashboard_uid("p" * 50 + str(i), "system-overview") for i in range(20)}
    assert len(long) == 20


def test_uids_unique_across_the_shipped_inventories():
    uids = []
    for name in ("mplp", "langgraph"):
        desc = yaml.safe_load((ROOT / "inventories" / name / "group_vars/all/platform.yml").read_text())
        uids += [b["uid"] for b in render(desc["platform_components"], desc["platform_name"], "ns")]
    assert len(uids) == len(set(uids)) == 8


def test_boards_selection_and_extra_boards_from_data():
    boards = render(
        boards=["errors"],
        extra=[
            {
                "name": "queues",
                "title": "Queues",
                "panels": [
                    {"title": "Backlog", "expr": 'sum(mplp_plan_execution_backlog{namespace="$namespace"})'},
                    {
                        "title": "Context queue",
                        "type": "stat",
                        "unit": "short",
                        "exprs": [{"expr": "max(mplp_context_queue_length)", "legend": "queue"}],
                        "width": 24,
                    },
                ],
            }
        ],
    )
    assert [(b["name"], b["uid"]) for b in boards] == [("errors", "mplp-errors"), ("queues", "mplp-queues")]
    extra = boards[1]["json"]["panels"]
    assert [p["targets"][0]["expr"] for p in extra] == [
        'sum(mplp_plan_execution_backlog{namespace="$namespace"})',
        "max(mplp_context_queue_length)",
    ]
    assert extra[1]["gridPos"] == {"h": 8, "w": 24, "x": 0, "y": 8}
    assert extra[1]["targets"][0]["legendFormat"] == "queue" and extra[1]["targets"][0]["instant"] is True


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"boards": ["nope"]}, "board 'nope' is not one of system-overview, performance, business, errors"),
        ({"extra": [{"name": "x", "panels": [{"title": "t"}]}]}, "board 'x', panel 't': needs expr or exprs"),
        ({"extra": [{"name": "x", "panels": [{"expr": "up"}]}]}, "board 'x': every panel needs a title"),
        ({"extra": [{"name": "x", "panels": []}]}, "board 'x' has no panels"),
        (
            {"extra": [{"name": "errors", "panels": [{"title": "t", "expr": "up"}]}]},
            "board 'errors' is given twice",
        ),
        (
            {"extra": [{"name": "x", "panels": [{"title": "t", "expr": "up", "type": "graph"}]}]},
            "board 'x', panel 't': type 'graph' is not one of timeseries",
        ),
        (
            {"extra": [{"name": "x", "panels": [{"title": "t", "expr": "up", "width": 30}]}]},
            "board 'x', panel 't': width 30 is not a whole number of grid units from 1 to 24",
        ),
        ({"namespace": ""}, "the platform needs a namespace"),
        ({"components": [{"name": "a", "role": "queue"}]}, "component 'a': role 'queue' is not one of"),
    ],
)
def test_errors_name_the_board_and_the_panel(kw, message):
    with pytest.raises(d.DashboardError) as err:
        render(**kw)
    assert message in str(err.value)


def test_two_boards_with_one_uid_are_refused():
    # "x " gets a hashed uid; a board named like that uid's tail would get it too
    hashed = d.dashboard_uid("p", "x ")
    look_alike = hashed[len("p-") :]
    assert d.dashboard_uid("p", look_alike) == hashed
    extra = [{"name": n, "panels": [{"title": "t", "expr": "up"}]} for n in ("x ", look_alike)]
    with pytest.raises(
        d.DashboardError, match="board '%s' and board 'x ' get the same uid %s" % (look_alike, hashed)
    ):
        d.render_dashboards(APP_ONLY, "p", "ns", boards=[], extra=extra)


def test_configmaps_for_the_sidecar_label_folder_and_stable_text():
    boards = render(boards=["errors"])
    (cm,) = d.dashboard_configmaps(boards, "monitoring", labels={"release": "kps"}, folder="MPLP")
    assert cm["metadata"] == {
        "name": "mplp-errors-dashboard",
        "namespace": "monitoring",
        "labels": {"release": "kps", "grafana_dashboard": "1"},
        "annotations": {"grafana_folder": "MPLP"},
    }
    assert list(cm["data"]) == ["mplp-errors.json"]
    assert json.loads(cm["data"]["mplp-errors.json"]) == boards[0]["json"]
    assert cm["data"] == d.dashboard_configmaps(render(boards=["errors"]), "monitoring")[0]["data"]
    assert "annotations" not in d.dashboard_configmaps(boards, "monitoring")[0]["metadata"]


def test_expand_replaces_grafanas_variables_and_names_a_missing_one():
    assert (
        d.expand(
            'rate(x{namespace="$namespace", job=~"${job:regex}"}[$__rate_interval])',
            {"namespace": "ns", "job": "a|b", "__rate_interval": "5m"},
        )
        == 'rate(x{namespace="ns", job=~"a|b"}[5m])'
    )
    with pytest.raises(d.DashboardError, match=r"uses \$job, which has no value"):
        d.expand('up{job=~"$job"}', {})
