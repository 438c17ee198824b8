"""The selector record: maintenance keeps the first record, restore needs one."""

import copy
import json

import pytest
from fakes import merge

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import traffic as tr

APP = {"app.kubernetes.io/name": "mplp", "app.kubernetes.io/component": "core"}
PAGE = {"app.kubernetes.io/name": "mplp-maintenance", "app.kubernetes.io/component": "maintenance-page"}


def service(selector="app", ports=None, annotations=None, **spec):
    meta = {"name": "mplp-core", "namespace": "ns"}
    if annotations:
        meta["annotations"] = dict(annotations)
    selector = APP if selector == "app" else selector
    body = {"selector": dict(selector) if selector is not None else None, **spec}
    body["ports"] = ports if ports is not None else [{"name": "http", "port": 8080, "targetPort": "http"}]
    return {"kind": "Service", "metadata": meta, "spec": body}


def enable(svc):
    return tr.plan_maintenance(svc, PAGE, "http", "maintenance.yml", "2026-11-22T02:00:00Z")


def test_maintenance_records_the_selector_and_replaces_it_whole():
    svc = service()
    patch, summary = enable(svc)
    # merge patches merge maps: the application's keys that the page does not use must be
    # removed explicitly, or the Service would select app AND page labels (nothing at all)
    assert patch["spec"]["selector"] == dict(PAGE)  # same keys here: replaced in place
    after = merge(copy.deepcopy(svc), patch)
    assert after["spec"]["selector"] == PAGE
    annotations = after["metadata"]["annotations"]
    assert json.loads(annotations[tr.RECORDED_SELECTOR]) == APP
    assert annotations[tr.ROUTED_BY] == "maintenance.yml"
    assert tr.RECORDED_TARGET_PORTS not in annotations  # targetPort http already reaches the page
    assert "ports" not in patch["spec"]
    assert summary == {
        "object": "Service/mplp-core",
        "selector_before": APP,
        "selector_after": PAGE,
        "recorded": APP,
        "target_ports_before": {"8080/TCP": "http"},
        "target_ports_after": {"8080/TCP": "http"},
    }

    extra = service(selector=dict(APP, tier="backend"))
    after = merge(copy.deepcopy(extra), enable(extra)[0])
    assert after["spec"]["selector"] == PAGE  # "tier" is gone, not left behind


def test_second_run_keeps_the_first_record():
    svc = service()
    once = merge(copy.deepcopy(svc), enable(svc)[0])
    patch, summary = enable(once)
    assert patch is None  # already on the page: nothing to write, the record stays APP
    assert summary["recorded"] == APP
    # someone re-applied the application's Service meanwhile: back to the page, record kept
    reapplied = merge(copy.deepcopy(once), {"spec": {"selector": APP}})
    patch = enable(reapplied)[0]
    assert patch == {"spec": {"selector": PAGE}}


def test_restore_puts_back_the_selector_and_drops_the_record():
    svc = service(selector=dict(APP, tier="backend"))
    on_page = merge(copy.deepcopy(svc), enable(svc)[0])
    patch, summary = tr.plan_restore(on_page)
    restored = merge(copy.deepcopy(on_page), patch)
    assert restored["spec"]["selector"] == dict(APP, tier="backend")
    assert not restored["metadata"].get("annotations")
    assert summary["selector_after"] == dict(APP, tier="backend")
    patch, summary = tr.plan_restore(restored)  # a second restore: no record, left alone
    assert patch is None and summary["recorded"] is None


def test_a_service_without_a_record_is_left_alone_even_on_the_page():
    patch, summary = tr.plan_restore(service(selector=PAGE))
    assert patch is None and summary["selector_after"] == PAGE


def test_numeric_target_port_is_pointed_at_the_page_and_restored():
    ports = [
        {"name": "api", "port": 80, "targetPort": 8000, "protocol": "TCP"},
        {"name": "metrics", "port": 9090},  # no targetPort: the same number as the port
        {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"},
    ]
    svc = service(ports=ports)
    patch, summary = enable(svc)
    assert [p.get("targetPort") for p in patch["spec"]["ports"]] == ["http", "http", 5353]
    on_page = merge(copy.deepcopy(svc), patch)
    assert json.loads(on_page["metadata"]["annotations"][tr.RECORDED_TARGET_PORTS]) == {
        "80/TCP": 8000,
        "9090/TCP": 9090,
    }
    assert summary["target_ports_after"] == {"80/TCP": "http", "9090/TCP": "http", "53/UDP": 5353}
    assert enable(on_page)[0] is None  # idempotent, the port record kept

    restored = merge(copy.deepcopy(on_page), tr.plan_restore(on_page)[0])
    assert [p.get("targetPort") for p in restored["spec"]["ports"]] == [8000, 9090, 5353]
    assert not restored["metadata"].get("annotations")


@pytest.mark.parametrize(
    "annotations, message",
    [
        (
            {tr.RECORDED_SELECTOR: "{app: core"},
            "annotation multiagent.ops/recorded-selector='{app: core' is not JSON",
        ),
        ({tr.RECORDED_SELECTOR: "{}"}, "is not a non-empty map of label names to values"),
        ({tr.RECORDED_SELECTOR: '["app"]'}, "is not a non-empty map of label names to values"),
        ({tr.RECORDED_SELECTOR: '{"app": 1}'}, "is not a non-empty map of label names to values"),
        (
            {tr.RECORDED_SELECTOR: json.dumps(APP), tr.RECORDED_TARGET_PORTS: '{"80/TCP": true}'},
            "is not a map of ports to target ports",
        ),
        ({tr.RECORDED_TARGET_PORTS: '{"80/TCP": 8000}'}, "is there without multiagent.ops/recorded-selector"),
    ],
)
def test_a_damaged_record_is_named(annotations, message):
    svc = service(selector=PAGE, annotations=annotations)
    with pytest.raises(tr.TrafficError, match="^Service/mplp-core: ") as caught:
        tr.plan_restore(svc)
    assert message in str(caught.value)


def test_a_damaged_record_stops_maintenance_too():
    svc = service(annotations={tr.RECORDED_SELECTOR: "not json"})
    with pytest.raises(
        tr.TrafficError, match="Service/mplp-core: annotation multiagent.ops/recorded-selector"
    ):
        enable(svc)


@pytest.mark.parametrize(
    "svc, message",
    [
        (service(selector=None), "Service/mplp-core has no selector"),
        (service(selector={}, type="ExternalName"), "Service/mplp-core is of type ExternalName"),
        (service(selector=PAGE), "already selects the maintenance pods"),
    ],
)
def test_services_that_cannot_be_re_pointed_are_named(svc, message):
    with pytest.raises(tr.TrafficError, match=message):
        enable(svc)


@pytest.mark.parametrize("selector", [{}, None, {"app": 1}])
def test_the_maintenance_selector_must_be_labels(selector):
    with pytest.raises(tr.TrafficError, match="maintenance selector must be a non-empty map"):
        tr.plan_maintenance(service(), selector, "http", "p", "t")


def test_ready_on_counts_ready_addresses_and_names_pods_of_others():
    endpoints = {
        "subsets": [
            {
                "addresses": [
                    {"ip": "10.0.0.1", "targetRef": {"name": "mplp-maintenance-a"}},
                    {"ip": "10.0.0.2", "targetRef": {"name": "mplp-core-b"}},
                ],
                "notReadyAddresses": [{"ip": "10.0.0.3", "targetRef": {"name": "mplp-maintenance-c"}}],
            }
        ]
    }
    assert tr.ready_on(endpoints, {"mplp-maintenance-a", "mplp-maintenance-c"}) == (2, ["mplp-core-b"])
    assert tr.ready_on(None, set()) == (0, [])
