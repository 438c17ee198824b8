"""service_route glue: read everything before writing, check and diff mode, waiting, messages."""

import copy

import fakes
import pytest
from fakes import Exit, merge

from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle import traffic as tr
from ansible_collections.multiagent.ops.plugins.modules import service_route

NS = "mplp-production"
PAGE = {"app.kubernetes.io/name": "mplp-maintenance", "app.kubernetes.io/component": "maintenance-page"}


class FakeModule(fakes.FakeModule):
    def __init__(self, check_mode=False, diff=False, **params):
        super().__init__(service_route, check_mode, diff, **dict({"namespace": NS}, **params))


def service(name, selector=None, annotations=None):
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


class Cluster:
    """Services, and an endpoints controller that follows their selectors after ``lag``
    looks (the apiserver's controller is not instant either)."""

    def __init__(self, *services, page_pods=("mplp-maintenance-a",), lag=0, refuse=()):
        self.services = {s["metadata"]["name"]: s for s in services}
        self.page_pods = list(page_pods)
        self.lag = lag
        self.refuse = set(refuse)
        self.patches = []

    def get_optional(self, path, what):
        kind, name = path.rsplit("/", 2)[1:]
        if kind == "services":
            obj = self.services.get(name)
            return copy.deepcopy(obj) if obj else None
        assert kind == "endpoints"
        selector = self.services[name]["spec"]["selector"]
        if self.lag:
            self.lag -= 1
            pods = [name + "-old"]
        elif selector == PAGE:
            pods = self.page_pods
        else:
            pods = [name + "-x"]
        return {"subsets": [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"name": p}} for p in pods]}]}

    def list(self, path, what, label_selector=None, field_selector=None):
        assert path.endswith("/pods") and label_selector == ",".join(
            "%s=%s" % kv for kv in sorted(PAGE.items())
        )
        return [{"metadata": {"name": p}} for p in self.page_pods]

    def send(self, method, path, body, what):
        assert method == "PATCH"
        name = path.rsplit("/", 1)[1]
        self.patches.append((name, copy.deepcopy(body)))
        if name in self.refuse:
            return 403, {"message": "admission webhook denied the request"}
        merge(self.services[name], body)
        return 200, copy.deepcopy(self.services[name])


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(module, cluster):
    clock = Clock()
    with pytest.raises(Exit):
        service_route.run(module, cluster, sleep=clock.sleep, clock=clock)
    return module.result


def test_maintenance_then_restore_round_trip():
    cluster = Cluster(service("mplp-core"), service("mplp-plan"))
    result = run(FakeModule(services=["mplp-core", "mplp-plan", "mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and result["changed"] is True
    assert [name for name, _patch in cluster.patches] == ["mplp-core", "mplp-plan"]  # each once
    assert cluster.services["mplp-core"]["spec"]["selector"] == PAGE
    assert [(s["object"], s["changed"], s["ready_endpoints"]) for s in result["services"]] == [
        ("Service/mplp-core", True, 1),
        ("Service/mplp-plan", True, 1),
    ]

    again = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert again["changed"] is False and len(cluster.patches) == 2

    back = run(FakeModule(services=["mplp-core", "mplp-plan"], state="restored"), cluster)
    assert back["changed"] is True
    assert cluster.services["mplp-core"]["spec"]["selector"] == {"app.kubernetes.io/component": "mplp-core"}
    assert (
        "annotations" not in cluster.services["mplp-core"]["metadata"]
        or not (cluster.services["mplp-core"]["metadata"]["annotations"])
    )


def test_a_missing_service_fails_before_anything_changes():
    cluster = Cluster(service("mplp-core"))
    result = run(FakeModule(services=["mplp-core", "no-such"], selector=PAGE), cluster)
    assert result["failed"] is True
    assert result["msg"] == "Service no-such does not exist in namespace %s; nothing was changed" % NS
    assert cluster.patches == []


def test_a_service_that_cannot_be_re_pointed_fails_before_anything_changes():
    bare = service("mplp-plan")
    bare["spec"]["selector"] = None
    cluster = Cluster(service("mplp-core"), bare)
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert result["failed"] is True and cluster.patches == []
    assert result["msg"].startswith("Service/mplp-plan has no selector")
    assert result["msg"].endswith("; nothing was changed")


def test_check_mode_writes_nothing_waits_for_nothing_and_shows_the_diff():
    cluster = Cluster(service("mplp-core"), page_pods=())
    result = run(FakeModule(check_mode=True, diff=True, services=["mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and result["changed"] is True and cluster.patches == []
    assert result["diff"] == {
        "before": {
            "Service/mplp-core": {
                "selector": {"app.kubernetes.io/component": "mplp-core"},
                "targetPorts": {"8080/TCP": "http"},
            }
        },
        "after": {"Service/mplp-core": {"selector": PAGE, "targetPorts": {"8080/TCP": "http"}}},
    }


def test_waits_until_the_endpoints_leave_the_application():
    cluster = Cluster(service("mplp-core"), lag=2)
    result = run(FakeModule(services=["mplp-core"], selector=PAGE), cluster)
    assert result["failed"] is False and cluster.lag == 0  # looked until the old pod was gone
    assert "other_endpoints" not in result["services"][0]


def test_no_ready_maintenance_pod_fails_naming_the_service_and_the_selector():
    cluster = Cluster(service("mplp-core"), page_pods=())
    result = run(FakeModule(services=["mplp-core"], selector=PAGE, wait_timeout=5), cluster)
    assert result["failed"] is True
    assert result["msg"].startswith(
        "traffic is not on the maintenance page after 5s (Service/mplp-core: 0 ready endpoint(s)); "
        "the switch is made and recorded"
    )
    assert (
        "app.kubernetes.io/component=maintenance-page,app.kubernetes.io/name=mplp-maintenance"
        in result["msg"]
    )


def test_a_refused_patch_names_what_was_already_done():
    cluster = Cluster(service("mplp-core"), service("mplp-plan"), refuse=["mplp-plan"])
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], selector=PAGE), cluster)
    assert result["failed"] is True
    assert result["msg"] == (
        "Failed to re-point Service/mplp-plan: HTTP 403 admission webhook denied the request; "
        "already done: Service/mplp-core"
    )


def test_restore_warns_about_a_service_on_the_page_without_a_record():
    cluster = Cluster(service("mplp-core", selector=PAGE))
    module = FakeModule(services=["mplp-core"], state="restored", selector=PAGE)
    result = run(module, cluster)
    assert result["changed"] is False and cluster.patches == []
    assert module.warnings == [
        "Service/mplp-core selects the maintenance pods but has no record of its own selector: left alone"
    ]


def test_maintenance_needs_a_selector():
    cluster = Cluster(service("mplp-core"))
    result = run(FakeModule(services=["mplp-core"]), cluster)
    assert result["failed"] is True and "needs the maintenance pods' selector" in result["msg"]
    assert cluster.patches == []


def test_a_damaged_record_fails_before_anything_changes():
    damaged = service("mplp-plan", selector=PAGE, annotations={tr.RECORDED_SELECTOR: "{oops"})
    cluster = Cluster(
        service("mplp-core", selector=PAGE, annotations={tr.RECORDED_SELECTOR: '{"a": "b"}'}), damaged
    )
    result = run(FakeModule(services=["mplp-core", "mplp-plan"], state="restored"), cluster)
    assert result["failed"] is True and cluster.patches == []
    assert result["msg"].startswith("Service/mplp-plan: annotation multiagent.ops/recorded-selector='{oops'")
