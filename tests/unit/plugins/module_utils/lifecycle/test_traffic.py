"""The selector record: maintenance keeps the first record, restore needs one; the runner
reads every Service first, patches through the one patch loop and waits through the one
waiter until the Endpoints list the maintenance pods and nothing else."""

import copy
import json

import fakes
import pytest
from fakes import Exit, FakeApi, merge

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import records
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import traffic as tr
from ansible_collections.multiagent.ops.plugins.modules import service_route

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
    assert json.loads(annotations[records.RECORDED_SELECTOR]) == APP
    assert annotations[records.ROUTED_BY] == "maintenance.yml"
    assert records.RECORDED_TARGET_PORTS not in annotations  # targetPort http already reaches the page
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
    assert json.loads(on_page["metadata"]["annotations"][records.RECORDED_TARGET_PORTS]) == {
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
            {records.RECORDED_SELECTOR: "{app: core"},
            "annotation multiagent.ops/recorded-selector='{app: core' is not JSON",
        ),
        ({records.RECORDED_SELECTOR: "{}"}, "is not a non-empty map of label names to values"),
        ({records.RECORDED_SELECTOR: '["app"]'}, "is not a non-empty map of label names to values"),
        ({records.RECORDED_SELECTOR: '{"app": 1}'}, "is not a non-empty map of label names to values"),
        (
            {records.RECORDED_SELECTOR: json.dumps(APP), records.RECORDED_TARGET_PORTS: '{"80/TCP": true}'},
            "is not a map of ports to target ports",
        ),
        (
            {records.RECORDED_TARGET_PORTS: '{"80/TCP": 8000}'},
            "is there without multiagent.ops/recorded-selector",
        ),
    ],
)
def test_a_damaged_record_is_named(annotations, message):
    svc = service(selector=PAGE, annotations=annotations)
    with pytest.raises(tr.TrafficError, match="^Service/mplp-core: ") as caught:
        tr.plan_restore(svc)
    assert message in str(caught.value)


def test_a_damaged_record_stops_maintenance_too():
    svc = service(annotations={records.RECORDED_SELECTOR: "not json"})
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


def test_on_page_asks_again_for_the_pods_when_an_address_is_unknown():
    asked = []

    def pods(fresh):
        asked.append(fresh)
        return {"page-a", "page-b"} if fresh else {"page-a"}

    endpoints = {
        "kind": "Endpoints",
        "metadata": {"name": "mplp-core", "namespace": "ns"},
        "subsets": [{"addresses": [{"targetRef": {"name": "page-a"}}, {"targetRef": {"name": "page-b"}}]}],
    }
    status = tr.on_page(pods)(endpoints)
    assert asked == [False, True]
    assert (status["done"], status["ready"], status["others"], status["message"]) == (
        True,
        2,
        [],
        "2 ready endpoint(s)",
    )
    endpoints["subsets"][0]["addresses"].append({"ip": "10.0.0.9", "targetRef": {"name": "mplp-core-x"}})
    status = tr.on_page(pods)(endpoints)
    assert status["done"] is False and status["message"] == "3 ready endpoint(s), still listing mplp-core-x"


# -- the runner ------------------------------------------------------------------------------

NS = "mplp-production"


def service_path(name):
    return resources.SERVICE.object_path(NS, name)


def named_service(name, selector=None, annotations=None):
    meta = {"name": name, "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return {
        "metadata": meta,
        "spec": {
            "selector": selector or {"app.kubernetes.io/component": name},
            "ports": [{"name": "http", "port": 8080, "targetPort": "http"}],
        },
    }


class Cluster(FakeApi):
    """Services, the maintenance pods, and an endpoints controller that writes each
    Service's Endpoints from its selector before every read, after ``lag`` reads of
    Endpoints (the apiserver's controller is not instant either)."""

    def __init__(self, *services, page_pods=("mplp-maintenance-a",), lag=0, refuse=None):
        super().__init__(refuse=refuse)
        for svc in services:
            self.put_object(service_path(svc["metadata"]["name"]), svc)
        for pod in page_pods:
            self.put_object(resources.POD.object_path(NS, pod), {"metadata": {"name": pod, "labels": PAGE}})
        self.page_pods = list(page_pods)
        self.lag = lag

    def service(self, name):
        return self.objects[service_path(name)]

    def patched(self):
        return [path.rsplit("/", 1)[1] for method, path in self.calls if method == "PATCH"]

    def request(self, path, query=None, **kwargs):
        if "/endpoints" in path:
            stale = self.lag > 0
            self.lag = max(self.lag - 1, 0)
            for key, svc in list(self.objects.items()):
                if "/services/" not in key:
                    continue
                name = svc["metadata"]["name"]
                if stale:
                    pods = [name + "-old"]
                elif svc["spec"]["selector"] == PAGE:
                    pods = self.page_pods
                else:
                    pods = [name + "-x"]
                addresses = [{"ip": "10.0.0.1", "targetRef": {"name": pod}} for pod in pods]
                endpoints = {
                    "metadata": {"name": name, "namespace": NS},
                    "subsets": [{"addresses": addresses}],
                }
                self.put_object(resources.ENDPOINTS.object_path(NS, name), endpoints)
        return super().request(path, query, **kwargs)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(service_route, check_mode, diff, **dict({"namespace": NS}, **params))


def run(module, cluster):
    clock = Clock()
    with pytest.raises(Exit):
        finish(module, tr.run, cluster, clock=clock, sleep=clock.sleep)
    return module.result


def test_maintenance_then_restore_round_trip():
    cluster = Cluster(named_service("mplp-core"), named_service("mplp-plan"))
    result = run(FakeModule(services=["mplp-core", "mplp-plan", "mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and result["changed"] is True
    assert cluster.patched() == ["mplp-core", "mplp-plan"]  # each once
    assert cluster.service("mplp-core")["spec"]["selector"] == PAGE
    assert [(s["object"], s["changed"], s["ready_endpoints"]) for s in result["services"]] == [
        ("Service/mplp-core", True, 1),
        ("Service/mplp-plan", True, 1),
    ]

    again = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert again["changed"] is False and len(cluster.patched()) == 2

    back = run(FakeModule(services=["mplp-core", "mplp-plan"], state="restored"), cluster)
    assert back["changed"] is True
    assert cluster.service("mplp-core")["spec"]["selector"] == {"app.kubernetes.io/component": "mplp-core"}
    assert not cluster.service("mplp-core")["metadata"].get("annotations")


def test_a_missing_service_fails_before_anything_changes():
    cluster = Cluster(named_service("mplp-core"))
    result = run(FakeModule(services=["mplp-core", "no-such"], selector=PAGE), cluster)
    assert result["failed"] is True
    assert result["msg"] == "Service no-such does not exist in namespace %s; nothing was changed" % NS
    assert cluster.patched() == []


def test_a_service_that_cannot_be_re_pointed_fails_before_anything_changes():
    bare = named_service("mplp-plan")
    bare["spec"]["selector"] = None
    cluster = Cluster(named_service("mplp-core"), bare)
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert result["failed"] is True and cluster.patched() == []
    assert result["msg"].startswith("Service/mplp-plan has no selector")
    assert result["msg"].endswith("; nothing was changed")


def test_check_mode_writes_nothing_waits_for_nothing_and_shows_the_diff():
    cluster = Cluster(named_service("mplp-core"), page_pods=())
    result = run(FakeModule(check_mode=True, diff=True, services=["mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and result["changed"] is True and cluster.patched() == []
    assert result["diff"] == {
        "before": {
            "Service/mplp-core": {
                "selector": {"app.kubernetes.io/component": "mplp-core"},
                "targetPorts": {"8080/TCP": "http"},
            }
        },
        "after": {"Service/mplp-core": {"selector": PAGE, "targetPorts": {"8080/TCP": "http"}}},
    }
    assert [method for method, _path in cluster.calls] == ["GET"]


def test_waits_until_the_endpoints_leave_the_application():
    cluster = Cluster(named_service("mplp-core"), lag=2)
    result = run(FakeModule(services=["mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and cluster.lag == 0  # looked until the old pod was gone
    assert result["services"][0]["ready_endpoints"] == 1
    assert "other_endpoints" not in result["services"][0]


def test_the_wait_lists_the_page_pods_again_only_for_an_unknown_address():
    cluster = Cluster(named_service("mplp-core"), named_service("mplp-plan"), lag=2)
    run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    pods = resources.POD.collection_path(NS)
    endpoints = resources.ENDPOINTS.collection_path(NS)
    reads = [path for method, path in cluster.calls if method == "GET" and path in (pods, endpoints)]
    # one LIST of the Endpoints per round for both Services; the pods listed in the first,
    # and again (once for both) in a later round that still shows an address not theirs
    assert reads == [endpoints, pods, endpoints, pods, endpoints]


def test_no_ready_maintenance_pod_fails_naming_the_service_and_the_selector():
    cluster = Cluster(named_service("mplp-core"), page_pods=())
    result = run(FakeModule(services=["mplp-core"], selector=PAGE, wait_timeout=5), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith(
        "traffic is not on the maintenance page after 5s (Service/mplp-core: 0 ready endpoint(s)); "
        "the switch is made and recorded"
    )
    assert (
        "app.kubernetes.io/component=maintenance-page,app.kubernetes.io/name=mplp-maintenance"
        in result["msg"]
    )
    assert result["services"][0]["ready_endpoints"] == 0


def test_endpoints_still_listing_the_application_are_named():
    cluster = Cluster(named_service("mplp-core"), lag=100)
    result = run(FakeModule(services=["mplp-core"], selector=PAGE, wait_timeout=3), cluster)
    assert result["msg"].startswith(
        "traffic is not on the maintenance page after 3s (Service/mplp-core: 1 ready endpoint(s), "
        "still listing mplp-core-old); "
    )


def test_endpoints_that_cannot_be_read_say_why():
    cluster = Cluster(named_service("mplp-core"))
    cluster.refuse[("GET", resources.ENDPOINTS.object_path(NS, "mplp-core"))] = 403
    result = run(FakeModule(services=["mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith(
        "traffic is not on the maintenance page (Service/mplp-core: cannot read the Endpoints: permission "
        "denied to read Endpoints %s/mplp-core: refused by the test); the switch is made and recorded" % NS
    )


def test_a_refused_patch_names_what_was_already_done():
    cluster = Cluster(
        named_service("mplp-core"),
        named_service("mplp-plan"),
        refuse={("PATCH", service_path("mplp-plan")): 403},
    )
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "Failed to re-point Service/mplp-plan: HTTP 403 refused by the test; already done: Service/mplp-core"
    )
    assert [s["changed"] for s in result["services"]] == [True, False]


def test_a_refused_first_patch_changed_nothing():
    on_page = named_service("mplp-core", selector=PAGE, annotations={records.RECORDED_SELECTOR: '{"a": "b"}'})
    cluster = Cluster(on_page, refuse={("PATCH", service_path("mplp-core")): 403})
    result = run(FakeModule(services=["mplp-core"], state="restored"), cluster)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        "Failed to restore Service/mplp-core: HTTP 403 refused by the test; already done: nothing"
    )


def test_restore_warns_about_a_service_on_the_page_without_a_record():
    cluster = Cluster(named_service("mplp-core", selector=PAGE))
    module = FakeModule(services=["mplp-core"], state="restored", selector=PAGE)
    result = run(module, cluster)
    assert result["changed"] is False and cluster.patched() == []
    assert module.warnings == [
        "Service/mplp-core selects the maintenance pods but has no record of its own selector: left alone"
    ]


def test_maintenance_needs_a_selector():
    cluster = Cluster(named_service("mplp-core"))
    result = run(FakeModule(services=["mplp-core"]), cluster)
    assert result["failed"] is True
    assert result["msg"] == "state=maintenance needs the maintenance pods' selector; nothing was changed"
    assert cluster.calls == []


def test_a_damaged_record_fails_before_anything_changes():
    damaged = named_service("mplp-plan", selector=PAGE, annotations={records.RECORDED_SELECTOR: "{oops"})
    cluster = Cluster(
        named_service("mplp-core", selector=PAGE, annotations={records.RECORDED_SELECTOR: '{"a": "b"}'}),
        damaged,
    )
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], state="restored"), cluster)
    assert result["failed"] is True and cluster.patched() == []
    assert result["msg"].startswith("Service/mplp-plan: annotation multiagent.ops/recorded-selector='{oops'")
    assert result["msg"].endswith("; nothing was changed")
