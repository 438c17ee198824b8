"""monitoring.scrape: ServiceMonitors from the platform description, valid for the operator."""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import scrape
from ansible_collections.multiagent.ops.plugins.module_utils.platform import render
from tests.operator_schema import validate_operator_object

COMPONENTS = [
    {"name": "core", "workload": "mplp-core", "image": "mplp/core", "replicas": 2,
     "service": {"name": "mplp-core", "port": 8080}, "metrics": True},
    {"name": "plan", "workload": "mplp-plan", "image": "mplp/plan", "replicas": 2,
     "service": {"name": "mplp-plan", "port": 8080}},
    {"name": "postgresql", "role": "database", "workload": "mplp-postgresql", "image": "postgres:15",
     "replicas": 1, "service": {"name": "mplp-postgresql", "port": 5432},
     "metrics": {"port": 9187, "interval": "1m"}},
]  # fmt: skip


def monitors(components=COMPONENTS, **kw):
    kw.setdefault("platform", "mplp")
    kw.setdefault("platform_namespace", "mplp-production")
    return scrape.service_monitors(components, **kw)


def by_component(objs):
    return {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in objs}


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def kept(endpoint, service_name):
    """Whether the endpoint's relabelings keep targets of this Service (RE2 anchors the regex)."""
    for rule in endpoint["relabelings"]:
        if rule["action"] == "keep" and rule["sourceLabels"] == ["__meta_kubernetes_service_name"]:
            return re.fullmatch(rule["regex"], service_name) is not None
    return True


def test_only_components_that_describe_metrics_are_scraped_and_the_operator_accepts_them():
    objs = monitors(labels={"release": "kube-prometheus-stack"})
    assert sorted(by_component(objs)) == ["core", "postgresql"]
    assert scrape.scraped(COMPONENTS) == ["core", "postgresql"]
    for obj in objs:
        validate_operator_object(obj)
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert obj["metadata"]["namespace"] == "mplp-production"
        assert "namespaceSelector" not in obj["spec"]  # its own namespace
    core = by_component(objs)["core"]["spec"]["endpoints"][0]
    assert (core["port"], core["path"], core["interval"]) == ("http", "/metrics", "30s")
    pg = by_component(objs)["postgresql"]["spec"]["endpoints"][0]
    assert (pg["targetPort"], pg["interval"]) == (9187, "1m") and "port" not in pg


def test_each_monitor_selects_its_rendered_service_and_only_that_one():
    """A StatefulSet's headless Service has the same labels as its Service: the selector
    matches both, the keep rule leaves one, so no pod is scraped twice."""
    spec = {"name": "mplp", "namespace": "mplp-production", "version": "1.0.0", "components": COMPONENTS}
    services = [o for o in render.render_platform(spec) if o["kind"] == "Service"]
    for component, obj in by_component(monitors()).items():
        endpoint = obj["spec"]["endpoints"][0]
        selected = [s for s in services if matches(obj["spec"]["selector"], s["metadata"]["labels"])]
        scraped = [s["metadata"]["name"] for s in selected if kept(endpoint, s["metadata"]["name"])]
        assert scraped == [next(c for c in COMPONENTS if c["name"] == component)["service"]["name"]]
        if component == "core":  # its port name is the one the renderer gave the Service
            assert endpoint["port"] in [p["name"] for p in selected[0]["spec"]["ports"]]
    assert len([s for s in services if "postgresql" in s["metadata"]["name"]]) == 2  # with the headless one


def test_series_carry_platform_and_component_labels():
    endpoint = by_component(monitors())["core"]["spec"]["endpoints"][0]
    assert {
        r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"] if r["action"] == "replace"
    } == {
        "platform": "mplp",
        "component": "core",
    }


def test_monitors_elsewhere_select_the_platform_namespace():
    obj = monitors(namespace="monitoring")[0]
    assert obj["metadata"]["namespace"] == "monitoring"
    assert obj["spec"]["namespaceSelector"] == {"matchNames": ["mplp-production"]}
    validate_operator_object(obj)


def test_an_exporter_service_with_its_own_labels():
    comps = copy.deepcopy(COMPONENTS)
    comps[2]["metrics"] = {"port": "metrics", "service": "pg-exporter", "selector": {"app": "pg-exporter"}}
    obj = by_component(monitors(comps))["postgresql"]
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "pg-exporter"}}
    assert kept(obj["spec"]["endpoints"][0], "pg-exporter") and not kept(
        obj["spec"]["endpoints"][0], "mplp-postgresql"
    )
    validate_operator_object(obj)


def test_only_limits_the_components_and_names_unknown_ones():
    assert list(by_component(monitors(only=["core"]))) == ["core"]
    with pytest.raises(scrape.ScrapeError, match="no component named nope"):
        monitors(only=["nope"])


@pytest.mark.parametrize(
    "metrics, message",
    [
        ("yes", "must be true or a dict"),
        ({"prot": 1}, "unknown field"),
        ({"port": 70000}, "not a port number"),
        ({"port": "Metrics_Port"}, "not a port name"),
        ({"interval": "30 seconds"}, "not a Prometheus duration"),
        ({"interval": "0"}, "not a Prometheus duration above 0"),
        ({"interval": "10s", "scrape_timeout": "15s"}, "longer than the interval"),
        ({"path": "metrics"}, "must start with /"),
        ({"scheme": "ftp"}, "not http or https"),
        ({"service": "other", "port": "m"}, "give metrics.selector"),
    ],
)
def test_wrong_metrics_descriptions_name_the_component_and_field(metrics, message):
    comps = [dict(COMPONENTS[0], metrics=metrics)]
    with pytest.raises(scrape.ScrapeError, match=message) as err:
        monitors(comps)
    assert "core" in str(err.value)


def test_a_database_needs_its_exporters_port():
    with pytest.raises(scrape.ScrapeError, match="exporter's port"):
        monitors([dict(COMPONENTS[2], metrics=True)])


def test_external_components_cannot_be_scraped_by_a_service_monitor():
    comp = {"name": "db", "kind": "external", "external": {"host": "db.example.com", "port": 5432},
            "service": {"name": "db", "port": 5432}, "metrics": {"port": 9187}}  # fmt: skip
    with pytest.raises(scrape.ScrapeError, match="static target"):
        monitors([comp])


def test_timeout_within_interval_is_kept():
    obj = monitors(
        [dict(COMPONENTS[0], metrics={"interval": "1m", "scrape_timeout": "45s", "scheme": "HTTPS"})]
    )[0]
    endpoint = obj["spec"]["endpoints"][0]
    assert (endpoint["scrapeTimeout"], endpoint["scheme"]) == ("45s", "https")
    validate_operator_object(obj)


@pytest.mark.parametrize(
    "text, ms", [("30s", 30000), ("1h30m", 5400000), ("500ms", 500), ("0", 0), ("1x", None)]
)
def test_duration_ms(text, ms):
    assert scrape.duration_ms(text) == ms
