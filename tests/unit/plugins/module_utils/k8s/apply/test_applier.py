"""The one apply engine on a fake API, with both policies: k8s_apply's (preflight before any
write, tiers in order and each tier concurrent, a failing tier stops the apply with every
object accounted for, check mode, CRDs) and config_restore's (kinds in restore order, the
namespace first, an object made meanwhile, dry runs, a refused kind)."""

from __future__ import annotations

import base64
import copy
import json
import threading
import time

import fakes
import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as kx
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply.applier import Applier
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, Client
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.resources import MERGE, STRATEGIC

DISCOVERY = {
    "/api/v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
    ],
    "/apis/apps/v1": [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)],
    "/apis/batch/v1": [("cronjobs", "CronJob", True)],
    "/apis/autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "/apis/apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
}


def status(code, reason, message, **details):
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason}
    body["message"] = message
    if details:
        body["details"] = details
    return body


def merge(current, patch):
    """``current`` with a JSON merge patch applied, as a new object."""
    return fakes.merge(copy.deepcopy(current), patch)


class FakeReader(Client):
    """The real client's reads over objects by path; answers like the API server
    (resourceVersion kept when a write changes nothing, Secret stringData stored as data,
    404 for a missing namespace); records every request and how many writes were in flight
    at once."""

    host = "https://k8s.test"

    def __init__(self, objects=(), version="v1.33.0", delay=0.0, discovery=None):
        self.discovery = dict(DISCOVERY if discovery is None else discovery)
        self.version = version
        self.delay = delay
        self.objects = {}
        self.rv = 100
        self.writes = []
        self.reads = []
        self.deny = set()  # (verb, plural)
        self.refuse = {}  # path -> 422 Status
        self.no_strategic = set()  # paths that answer 415 to a strategic merge patch
        self.appear_on_create = {}  # path -> object that shows up just before the POST
        self.normalize = lambda obj: obj  # the server's defaulting
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        for obj in objects:
            self.put(obj)

    # -- helpers for tests
    def path_of(self, obj):
        kind = obj["kind"]
        for root, resources in self.discovery.items():
            for plural, res_kind, namespaced in resources:
                if res_kind == kind:
                    meta = obj["metadata"]
                    if namespaced:
                        return "%s/namespaces/%s/%s/%s" % (root, meta["namespace"], plural, meta["name"])
                    return "%s/%s/%s" % (root, plural, meta["name"])
        raise KeyError(kind)

    def put(self, obj):
        obj = copy.deepcopy(obj)
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        obj["metadata"].setdefault("uid", "uid-%d" % self.rv)
        self.objects[self.path_of(obj)] = obj
        return obj

    def written(self, method=None):
        return [(m, p) for m, p, _q, _c in self.writes if method in (None, m)]

    # -- the reader interface
    def request(self, path, query=None, accept="application/json", timeout=None, retry=True):
        self.reads.append(path)
        if path == "/version":
            return 200, json.dumps({"major": "1", "minor": "33", "gitVersion": self.version}).encode()
        if path in self.discovery:
            resources = [
                {"name": plural, "kind": kind, "namespaced": namespaced}
                for plural, kind, namespaced in self.discovery[path]
            ]
            return 200, json.dumps({"kind": "APIResourceList", "resources": resources}).encode()
        if path.count("/") == 3 and path.startswith("/apis/"):
            return 404, json.dumps(
                status(404, "NotFound", "the server could not find the requested resource")
            ).encode()
        obj = self.objects.get(path)
        if obj is None:
            return 404, json.dumps(status(404, "NotFound", "not found")).encode()
        return 200, json.dumps(obj).encode()

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.writes.append((method, path, dict(query or []), content_type))
        try:
            time.sleep(self.delay)
            with self.lock:
                return self._answer(method, path, body, content_type, dict(query or []))
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, method, path, body, content_type, query):
        dry = query.get("dryRun") == "All"
        parts = path.split("/")
        plural = parts[-1] if method == "POST" else parts[-2]
        verb = "create" if method == "POST" else "patch"
        if (verb, plural) in self.deny:
            return 403, status(
                403,
                "Forbidden",
                '%s is forbidden: User "u" cannot %s resource "%s" in the namespace "%s"'
                % (
                    plural,
                    verb,
                    plural,
                    parts[parts.index("namespaces") + 1] if "namespaces" in parts else "",
                ),
            )
        if method == "POST":
            key = "%s/%s" % (path, body["metadata"]["name"])
            if key in self.refuse:
                return 422, self.refuse[key]
            if key in self.appear_on_create:
                self.put(self.appear_on_create.pop(key))
            if "namespaces" in parts[:-1]:
                ns_path = "/api/v1/namespaces/%s" % parts[parts.index("namespaces") + 1]
                if ns_path not in self.objects:
                    return 404, status(
                        404, "NotFound", 'namespaces "%s" not found' % ns_path.rsplit("/", 1)[1]
                    )
            if key in self.objects:
                return 409, status(409, "AlreadyExists", "already exists")
            obj = self.normalize(self._stored(body))
            if dry:
                return 201, obj
            return 201, self.put(obj)
        if path in self.refuse:
            return 422, self.refuse[path]
        if content_type == STRATEGIC and path in self.no_strategic:
            return 415, status(415, "UnsupportedMediaType", "strategic merge patch is not supported")
        current = self.objects[path]
        merged = self.normalize(self._stored(merge(current, body)))
        if merged == current:
            return 200, current
        if dry:
            return 200, merged
        merged["metadata"].pop("resourceVersion")
        return 200, self.put(merged)

    @staticmethod
    def _stored(obj):
        obj = copy.deepcopy(obj)
        if obj.get("kind") == "Secret" and obj.get("stringData"):
            data = obj.setdefault("data", {})
            for key, value in obj.pop("stringData").items():
                data[key] = base64.b64encode(value.encode()).decode()
        return obj


class UnreachableReader(FakeReader):
    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        if "/services" in path:
            self.writes.append((method, path, dict(query or []), content_type))
            raise ApiError(
                "unreachable", "cannot reach the Kubernetes API at https://k8s.test (connection refused)"
            )
        return super().send(method, path, body, what, content_type, query)


def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def cm(name, data=None, namespace="prod"):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data or {"k": "v"},
    }


def service(name, namespace="prod"):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }


def deployment(name, namespace="prod", replicas=None, image="img:1", env_from=()):
    container = {"name": name, "image": image}
    if env_from:
        container["envFrom"] = [{"configMapRef": {"name": n}} for n in env_from]
    spec = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def hpa(name, namespace="prod", min_replicas=2):
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min_replicas,
            "maxReplicas": 9,
        },
    }


def run(reader, resources, secrets=(), hold_fields=None, **options):
    settings = dict(check_mode=options.pop("check_mode", False), diff=options.pop("diff", False))
    applier = Applier(reader, **settings, **options)
    manifests = ap.collect(resources, secrets)
    plan, _version = applier.prepare(manifests, "prod", hold_fields=hold_fields)
    return plan, applier.apply(plan)


def actions(outcome):
    return {"%s/%s" % (r["kind"], r["name"]): r["action"] for r in outcome.results}


# -- concurrency and order -------------------------------------------------------------------


def test_apply_a_tier_is_applied_concurrently_and_tiers_one_after_the_other():
    reader = FakeReader([ns("prod")], delay=0.05)
    resources = [deployment("a"), deployment("b")] + [cm("c%d" % i) for i in range(6)]
    started = time.monotonic()
    _plan, outcome = run(reader, resources, concurrency=4)
    elapsed = time.monotonic() - started
    assert set(actions(outcome).values()) == {"created"}
    assert 2 <= reader.max_in_flight <= 4
    assert elapsed < 8 * 0.05  # not one after the other
    paths = [p for _m, p in reader.written("POST")]
    last_configmap = max(i for i, p in enumerate(paths) if p.endswith("/configmaps"))
    first_deployment = min(i for i, p in enumerate(paths) if p.endswith("/deployments"))
    assert last_configmap < first_deployment


def test_apply_concurrency_one_writes_one_at_a_time():
    reader = FakeReader([ns("prod")], delay=0.01)
    run(reader, [cm("c%d" % i) for i in range(4)], concurrency=1)
    assert reader.max_in_flight == 1 and len(reader.written("POST")) == 4


# -- failures ------------------------------------------------------------------------------------


def test_apply_a_failing_tier_is_finished_and_nothing_after_it_is_attempted():
    reader = FakeReader([ns("prod")])
    reader.refuse["/api/v1/namespaces/prod/services/bad"] = status(
        422,
        "Invalid",
        'Service "bad" is invalid: spec.ports[0].port: Invalid value: 0',
        causes=[{"field": "spec.ports[0].port", "message": "Invalid value: 0"}],
    )
    resources = [cm("cfg"), service("bad"), service("good"), deployment("web"), hpa("web")]
    _plan, outcome = run(reader, resources)
    assert actions(outcome) == {
        "ConfigMap/cfg": "created",
        "Service/bad": "failed",
        "Service/good": "created",  # the tier is finished
        "Deployment/web": "not_attempted",
        "HorizontalPodAutoscaler/web": "not_attempted",
    }
    assert not [p for _m, p in reader.written() if "deployments" in p or "horizontalpodautoscalers" in p]
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith("Service prod/bad: HTTP 422")
    assert outcome.failures[0].endswith("(invalid: spec.ports[0].port)")
    failed = [r for r in outcome.results if r["action"] == "failed"][0]
    assert failed["error"] == outcome.failures[0]
    assert outcome.summary == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "not_attempted": 2,
        "skipped": 0,
    }
    assert outcome.targets == []


def test_apply_forbidden_writes_name_verb_resource_and_namespace():
    reader = FakeReader([ns("prod")])
    reader.deny.add(("create", "services"))
    _plan, outcome = run(reader, [service("a"), service("b"), deployment("web")])
    assert actions(outcome) == {
        "Service/a": "failed",
        "Service/b": "failed",
        "Deployment/web": "not_attempted",
    }
    assert [f.split(":")[0] for f in outcome.failures] == ["Service prod/a", "Service prod/b"]
    assert "permission denied to create services in namespace prod" in outcome.failures[0]


def test_apply_an_unreachable_api_fails_the_objects_and_stops():
    reader = UnreachableReader([ns("prod")])
    _plan, outcome = run(reader, [cm("cfg"), service("a"), deployment("web")])
    assert actions(outcome) == {
        "ConfigMap/cfg": "created",
        "Service/a": "failed",
        "Deployment/web": "not_attempted",
    }
    assert outcome.failures == [
        "Service prod/a: cannot reach the Kubernetes API at https://k8s.test (connection refused)"
    ]


@pytest.mark.parametrize(
    "resources, secrets, existing, version, options, expected",
    [
        (
            [deployment("web", env_from=["app-config"])],
            [],
            [],
            "v1.33.0",
            {},
            "Deployment prod/web needs ConfigMap app-config (envFrom of container web), which is neither in "
            "this batch nor in the cluster",
        ),
        (
            [
                cm("cfg"),
                {
                    "apiVersion": "example.com/v1",
                    "kind": "Widget",
                    "metadata": {"name": "w", "namespace": "prod"},
                },
            ],
            [],
            [],
            "v1.33.0",
            {},
            "kind Widget (apiVersion example.com/v1) of Widget prod/w is not served by the cluster",
        ),
        (
            [cm("cfg")],
            [],
            [],
            "v1.24.3",
            {"min_server_version": "1.25"},
            "older than min_server_version 1.25",
        ),
        (
            [cm("cfg", namespace="elsewhere")],
            [],
            [],
            "v1.33.0",
            {},
            "namespace elsewhere does not exist and the batch does not create it "
            "(needed by ConfigMap elsewhere/cfg)",
        ),
    ],
    ids=["missing-reference", "unknown-kind", "old-server", "missing-namespace"],
)
def test_apply_preflight_fails_before_any_write(resources, secrets, existing, version, options, expected):
    reader = FakeReader([ns("prod")] + existing, version=version)
    applier = Applier(reader)
    with pytest.raises(ap.PlanError) as err:
        applier.prepare(ap.collect([ns("prod")] + resources, secrets), "prod", **options)
    assert expected in str(err.value)
    assert reader.writes == []


def test_apply_references_found_in_the_cluster_or_the_secrets_option_pass_the_preflight():
    reader = FakeReader([ns("prod"), cm("app-config")])
    web = deployment("web", env_from=["app-config"])
    web["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
        {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": True}}},
    ]
    _plan, outcome = run(reader, [web], secrets=[{"name": "creds", "data": {"pw": "s3cret-value"}}])
    assert actions(outcome) == {"Secret/creds": "created", "Deployment/web": "created"}
    # the cluster's ConfigMap was read once; the optional Secret was never looked up
    assert reader.reads.count("/api/v1/namespaces/prod/configmaps/app-config") == 1
    assert "/api/v1/namespaces/prod/secrets/absent" not in reader.reads


# -- apply semantics -------------------------------------------------------------------------------


def test_apply_a_second_run_reads_but_writes_nothing():
    reader = FakeReader()
    resources = [ns("prod"), cm("cfg"), deployment("web", env_from=["cfg"]), hpa("web")]
    run(reader, resources, secrets=[{"name": "creds", "data": {"pw": "s3cret-value"}}])
    writes = len(reader.writes)
    _plan, outcome = run(reader, resources, secrets=[{"name": "creds", "data": {"pw": "s3cret-value"}}])
    assert set(actions(outcome).values()) == {"unchanged"} and not outcome.changed
    assert len(reader.writes) == writes


def test_apply_changed_is_decided_by_the_resource_version():
    reader = FakeReader([ns("prod")])
    # The server keeps finalizers sorted: the patch is sent (the lists differ) but changes nothing.
    reader.normalize = lambda obj: dict(
        obj, metadata=dict(obj["metadata"], finalizers=sorted(obj["metadata"].get("finalizers", [])))
    )
    live = cm("cfg")
    live["metadata"]["finalizers"] = ["a", "b"]
    reader.put(live)
    wanted = cm("cfg")
    wanted["metadata"]["finalizers"] = ["b", "a"]
    _plan, outcome = run(reader, [wanted])
    assert reader.written("PATCH") == [("PATCH", "/api/v1/namespaces/prod/configmaps/cfg")]
    assert actions(outcome) == {"ConfigMap/cfg": "unchanged"}
    _plan, outcome = run(reader, [cm("cfg", {"k": "new"})])
    assert actions(outcome) == {"ConfigMap/cfg": "updated"}


def test_apply_an_hpa_owned_deployment_keeps_its_replicas():
    reader = FakeReader([ns("prod")])
    _plan, outcome = run(reader, [deployment("web"), hpa("web", min_replicas=3)])
    path = "/apis/apps/v1/namespaces/prod/deployments/web"
    assert reader.objects[path]["spec"]["replicas"] == 3  # created with the HPA's minimum
    assert outcome.results[0]["replicas_owner"] == "hpa/web"
    reader.objects[path]["spec"]["replicas"] = 5  # the HPA (or someone) scaled it
    _plan, outcome = run(reader, [deployment("web", replicas=2, image="img:2"), hpa("web", min_replicas=3)])
    assert actions(outcome)["Deployment/web"] == "updated"
    assert reader.objects[path]["spec"]["replicas"] == 5
    assert reader.objects[path]["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"


def test_apply_an_object_made_meanwhile_is_updated_instead_of_failing():
    reader = FakeReader([ns("prod")])
    reader.appear_on_create["/api/v1/namespaces/prod/configmaps/cfg"] = cm("cfg", {"k": "old"})
    _plan, outcome = run(reader, [cm("cfg", {"k": "new"})])
    assert actions(outcome) == {"ConfigMap/cfg": "updated"}
    assert reader.written() == [
        ("POST", "/api/v1/namespaces/prod/configmaps"),
        ("PATCH", "/api/v1/namespaces/prod/configmaps/cfg"),
    ]
    assert reader.objects["/api/v1/namespaces/prod/configmaps/cfg"]["data"] == {"k": "new"}


def test_apply_strategic_merge_refused_falls_back_to_a_merge_patch():
    reader = FakeReader([ns("prod"), cm("cfg", {"k": "old"})])
    reader.no_strategic.add("/api/v1/namespaces/prod/configmaps/cfg")
    _plan, outcome = run(reader, [cm("cfg", {"k": "new"})])
    assert actions(outcome) == {"ConfigMap/cfg": "updated"}
    assert [c for _m, _p, _q, c in reader.writes] == [STRATEGIC, MERGE]
    assert all(q == {"fieldManager": "multiagent.ops"} for _m, _p, q, _c in reader.writes)


def test_apply_rollout_targets_are_the_workloads_created_or_changed():
    reader = FakeReader([ns("prod")])
    run(reader, [deployment("same"), deployment("moved")])
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "prod"},
        "spec": {
            "schedule": "0 1 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
        },
    }
    _plan, outcome = run(reader, [deployment("same"), deployment("moved", image="img:2"), cron])
    assert actions(outcome) == {
        "Deployment/same": "unchanged",
        "Deployment/moved": "updated",
        "CronJob/nightly": "created",
    }
    assert outcome.targets == [{"kind": "Deployment", "namespace": "prod", "name": "moved"}]


# -- check mode ------------------------------------------------------------------------------------


def test_apply_check_mode_dry_runs_every_write_and_stores_nothing():
    reader = FakeReader([ns("prod"), cm("cfg", {"k": "old"}), cm("same")])
    before = copy.deepcopy(reader.objects)
    resources = [cm("cfg", {"k": "new"}), cm("same"), cm("new"), ns("fresh"), cm("inside", namespace="fresh")]
    _plan, outcome = run(reader, resources, check_mode=True, diff=True)
    assert actions(outcome) == {
        "Namespace/fresh": "created",
        "ConfigMap/cfg": "updated",
        "ConfigMap/same": "unchanged",
        "ConfigMap/new": "created",
        "ConfigMap/inside": "created",
    }
    inside = [r for r in outcome.results if r["name"] == "inside"][0]
    assert inside["validated"] is False  # its namespace does not exist yet: nothing to ask the server
    assert reader.objects == before
    assert reader.writes and all(q.get("dryRun") == "All" for _m, _p, q, _c in reader.writes)
    assert not [p for _m, p in reader.written() if "/namespaces/fresh/" in p]
    assert [d["before_header"] for d in outcome.diffs] == [
        "Namespace fresh (live)",
        "ConfigMap prod/cfg (live)",
        "ConfigMap prod/new (live)",
        "ConfigMap fresh/inside (live)",
    ]


def test_apply_check_mode_counts_a_no_op_dry_run_as_unchanged():
    reader = FakeReader([ns("prod")])
    reader.normalize = lambda obj: dict(
        obj, metadata=dict(obj["metadata"], finalizers=sorted(obj["metadata"].get("finalizers", [])))
    )
    live = cm("cfg")
    live["metadata"]["finalizers"] = ["a", "b"]
    reader.put(live)
    wanted = cm("cfg")
    wanted["metadata"]["finalizers"] = ["b", "a"]
    _plan, outcome = run(reader, [wanted], check_mode=True)
    assert actions(outcome) == {"ConfigMap/cfg": "unchanged"}
    assert reader.written("PATCH")


# -- CRDs -----------------------------------------------------------------------------------------


def crd_and_widget():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "prod"},
        "spec": {},
    }
    return crd, widget


class CrdReader(FakeReader):
    """A CRD becomes Established after a few reads; then its kind is served."""

    def __init__(self, reads_until_established, **kwargs):
        super().__init__([ns("prod")], **kwargs)
        self.until = reads_until_established

    def request(self, path, query=None, accept="application/json", timeout=None, retry=True):
        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        if path == crd_path and path in self.objects:
            self.until -= 1
            if self.until <= 0:
                self.objects[path]["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
                self.discovery["/apis/example.com/v1"] = [("widgets", "Widget", True)]
        return super().request(path, query, accept, timeout)


def test_apply_objects_of_a_new_crd_wait_until_it_is_established():
    reader = CrdReader(reads_until_established=3)
    sleeps = []
    _plan, outcome = run(reader, list(crd_and_widget()), sleep=sleeps.append)
    assert actions(outcome) == {
        "CustomResourceDefinition/widgets.example.com": "created",
        "Widget/w": "created",
    }
    assert len(sleeps) == 2  # read three times after the POST, the third saw it Established
    assert reader.written("POST")[-1] == ("POST", "/apis/example.com/v1/namespaces/prod/widgets")


def test_a_crd_that_never_becomes_established_stops_the_apply():
    reader = CrdReader(reads_until_established=10**6)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    _plan, outcome = run(reader, list(crd_and_widget()), sleep=sleep, clock=lambda: now[0], crd_timeout=5)
    crd_result, widget_result = outcome.results
    assert crd_result["action"] == "created"
    assert crd_result["error"] == outcome.failures[0]
    assert "not Established after 5s" in crd_result["error"]
    assert widget_result["action"] == "not_attempted"


class ForbiddenCrdReader(CrdReader):
    """The CRD can be created but not read back."""

    def request(self, path, query=None, accept="application/json", timeout=None, retry=True):
        if (
            path.startswith("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/")
            and path in self.objects
        ):
            return 403, json.dumps(status(403, "Forbidden", "cannot get customresourcedefinitions")).encode()
        return super().request(path, query, accept, timeout)


def test_a_crd_that_cannot_be_read_back_fails_its_wait_and_stops_the_apply():
    reader = ForbiddenCrdReader(reads_until_established=1)
    _plan, outcome = run(reader, list(crd_and_widget()), sleep=lambda _s: None)
    crd_result, widget_result = outcome.results
    assert crd_result["action"] == "created" and widget_result["action"] == "not_attempted"
    assert outcome.failures == [crd_result["error"]]
    assert crd_result["error"].startswith(
        "CustomResourceDefinition widgets.example.com: cannot read the CustomResourceDefinition: "
        "permission denied to read CustomResourceDefinition widgets.example.com"
    )


def test_apply_check_mode_with_a_new_crd_reports_its_objects_unvalidated():
    reader = CrdReader(reads_until_established=1)
    _plan, outcome = run(reader, list(crd_and_widget()), check_mode=True)
    assert actions(outcome) == {
        "CustomResourceDefinition/widgets.example.com": "created",
        "Widget/w": "created",
    }
    assert outcome.results[1]["validated"] is False
    assert reader.objects.keys() == {"/api/v1/namespaces/prod"}


# -- refusing to apply over a runbook's record ---------------------------------------------------


def test_apply_refuses_before_any_write_over_an_object_with_a_record():
    live = service("front")
    live["metadata"]["annotations"] = {"multiagent.ops/recorded-selector": '{"app": "front"}'}
    live["spec"]["selector"] = {"app": "maintenance"}
    reader = FakeReader([ns("prod"), live])
    applier = Applier(reader)
    manifests = ap.collect([cm("c"), service("front"), service("back")], ())
    with pytest.raises(ap.PlanError) as err:
        applier.prepare(manifests, "prod", refuse_annotations=["multiagent.ops/recorded-selector"])
    message = str(err.value)
    assert "Service prod/front carries multiagent.ops/recorded-selector=" in message
    assert "back" not in message and "maintenance.yml" in message
    assert reader.writes == []


def test_apply_uses_the_objects_read_by_the_refusal_check_and_reads_each_once():
    reader = FakeReader([ns("prod"), cm("c", {"k": "old"})])
    applier = Applier(reader)
    manifests = ap.collect([cm("c", {"k": "new"}), service("front")], ())
    plan, _version = applier.prepare(
        manifests, "prod", refuse_annotations=["multiagent.ops/recorded-replicas"]
    )
    outcome = applier.apply(plan)
    assert actions(outcome) == {"ConfigMap/c": "updated", "Service/front": "created"}
    object_reads = [p for p in reader.reads if "/configmaps/" in p or "/services/" in p]
    assert sorted(object_reads) == [
        "/api/v1/namespaces/prod/configmaps/c",
        "/api/v1/namespaces/prod/services/front",
    ]


def test_apply_holds_the_fields_an_annotation_holds():
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "core", "namespace": "prod"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "core"},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
    }
    live = copy.deepcopy(hpa)
    live["metadata"]["annotations"] = {"multiagent.ops/recorded-min-replicas": "2"}
    live["spec"]["minReplicas"] = 6
    reader = FakeReader([ns("prod"), live])
    hold = {"multiagent.ops/recorded-min-replicas": ["spec.minReplicas"]}
    _plan, outcome = run(reader, [hpa], hold_fields=hold)
    assert outcome.results[0]["action"] == "unchanged" and outcome.results[0]["held"] == ["spec.minReplicas"]
    assert reader.written() == []
    hpa["spec"]["maxReplicas"] = 12
    _plan, outcome = run(reader, [hpa], hold_fields=hold)
    stored = reader.objects["/apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers/core"]
    assert outcome.results[0]["action"] == "updated"
    assert (stored["spec"]["minReplicas"], stored["spec"]["maxReplicas"]) == (6, 12)


# -- config_restore's policy ---------------------------------------------------------------------


def archived(kind, name, namespace="dst", **fields):
    """An object as the archive holds it (retargeted into ``namespace``)."""
    rt = kx.BY_KIND[kind]
    return rt, dict(
        {"apiVersion": rt.api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}},
        **fields,
    )


def archived_namespace():
    return [
        archived("Secret", "creds", type="Opaque", data={"pw": base64.b64encode(b"s3cret-value").decode()}),
        archived("ConfigMap", "cfg", data={"k": "v"}),
        archived(
            "Deployment", "web", spec={"replicas": 2, "template": {"spec": {"containers": [{"name": "web"}]}}}
        ),
        archived(
            "HorizontalPodAutoscaler",
            "web",
            spec={"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4},
        ),
    ]


def listed(reader, plan):
    """What one LIST per kind reads: the stored objects without kind and apiVersion."""
    found = []
    for item in plan.items:
        obj = reader.objects.get(item.path())
        if obj is not None and hasattr(item.api_type, "dir"):
            found.append((item.api_type, [{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}]))
    return kx.live_state(plan.items, found)


def restore(reader, objects, check_mode=False, diff=False, namespace_metadata=None, autoscaled=None):
    autoscaled = kx.scaled_by_autoscaler(objects) if autoscaled is None else autoscaled
    plan = kx.restore_plan(objects, "dst", autoscaled, namespace_metadata=namespace_metadata)
    applier = Applier(reader, check_mode=check_mode, diff=diff)
    return plan, applier.apply(plan, listed(reader, plan))


def test_restore_creates_the_namespace_first_then_kind_by_kind_and_updates_one_made_meanwhile():
    reader = FakeReader()
    # Made by someone else between the LIST and the create (a controller, another restore).
    made = archived("ConfigMap", "cfg", data={"k": "old", "added": "later"})[1]
    reader.appear_on_create["/api/v1/namespaces/dst/configmaps/cfg"] = made
    _plan, outcome = restore(
        reader, archived_namespace(), namespace_metadata={"labels": {"team": "platform"}}
    )
    assert actions(outcome) == {
        "Namespace/dst": "created",
        "Secret/creds": "created",
        "ConfigMap/cfg": "updated",
        "Deployment/web": "created",
        "HorizontalPodAutoscaler/web": "created",
    }
    assert reader.written() == [
        ("POST", "/api/v1/namespaces"),
        ("POST", "/api/v1/namespaces/dst/secrets"),
        ("POST", "/api/v1/namespaces/dst/configmaps"),
        ("PATCH", "/api/v1/namespaces/dst/configmaps/cfg"),
        ("POST", "/apis/apps/v1/namespaces/dst/deployments"),
        ("POST", "/apis/autoscaling/v2/namespaces/dst/horizontalpodautoscalers"),
    ]
    assert all(c == MERGE for m, _p, _q, c in reader.writes if m == "PATCH")
    assert reader.objects["/api/v1/namespaces/dst"]["metadata"]["labels"] == {"team": "platform"}
    assert reader.objects["/api/v1/namespaces/dst/configmaps/cfg"]["data"] == {"k": "v"}  # exactly
    assert reader.objects["/apis/apps/v1/namespaces/dst/deployments/web"]["spec"]["replicas"] == 2
    # The live objects were listed: none was read one by one, except the one made meanwhile.
    assert [p for p in reader.reads if "/namespaces/dst/" in p] == ["/api/v1/namespaces/dst/configmaps/cfg"]


def test_restore_leaves_alone_what_matches_and_the_replicas_an_archived_hpa_manages():
    objects = archived_namespace()
    reader = FakeReader([ns("dst")])
    restore(reader, objects)
    deployment_path = "/apis/apps/v1/namespaces/dst/deployments/web"
    reader.objects[deployment_path]["spec"]["replicas"] = 7  # the HPA scaled it up
    reader.objects["/api/v1/namespaces/dst/configmaps/cfg"]["data"]["added"] = "since the backup"
    del reader.writes[:]
    # The HPA itself is not restored this time: its workload's replicas stay its business.
    _plan, outcome = restore(reader, objects[:3], autoscaled=kx.scaled_by_autoscaler(objects))
    assert actions(outcome) == {
        "Secret/creds": "unchanged",
        "ConfigMap/cfg": "updated",
        "Deployment/web": "unchanged",
    }
    assert reader.written() == [("PATCH", "/api/v1/namespaces/dst/configmaps/cfg")]
    assert reader.objects[deployment_path]["spec"]["replicas"] == 7
    assert reader.objects["/api/v1/namespaces/dst/configmaps/cfg"]["data"] == {"k": "v"}


def test_restore_check_mode_dry_runs_every_write_and_diffs_the_archived_fields():
    reader = FakeReader([ns("dst"), archived("ConfigMap", "cfg", data={"k": "old"})[1]])
    reader.objects["/api/v1/namespaces/dst/configmaps/cfg"]["metadata"]["labels"] = {"added-by": "someone"}
    before = copy.deepcopy(reader.objects)
    _plan, outcome = restore(reader, archived_namespace()[1:3], check_mode=True, diff=True)
    assert actions(outcome) == {"ConfigMap/cfg": "updated", "Deployment/web": "created"}
    assert reader.objects == before
    assert reader.writes and all(q.get("dryRun") == "All" for _m, _p, q, _c in reader.writes)
    cfg_diff = outcome.diffs[0]
    assert (cfg_diff["before_header"], cfg_diff["after_header"]) == (
        "ConfigMap/cfg (live)",
        "ConfigMap/cfg (archive)",
    )
    # The live values of the fields the archive sets, not the labels someone else added.
    assert "added-by" not in cfg_diff["before"] and "k: old" in cfg_diff["before"]
    assert "k: v" in cfg_diff["after"]


def test_restore_check_mode_into_a_namespace_to_create_validates_only_the_namespace():
    reader = FakeReader()
    _plan, outcome = restore(reader, archived_namespace(), check_mode=True, namespace_metadata={})
    assert set(actions(outcome).values()) == {"created"}
    assert reader.written() == [("POST", "/api/v1/namespaces")] and reader.objects == {}
    assert [r.get("validated") for r in outcome.results] == [None, False, False, False, False]


def test_restore_a_refused_kind_stops_the_restore_before_the_next_kinds():
    reader = FakeReader([ns("dst")])
    reader.refuse["/apis/apps/v1/namespaces/dst/deployments/web"] = status(
        422, "Invalid", 'Deployment.apps "web" is invalid: spec.selector: Required value'
    )
    _plan, outcome = restore(reader, archived_namespace())
    assert actions(outcome) == {
        "Secret/creds": "created",
        "ConfigMap/cfg": "created",
        "Deployment/web": "failed",
        "HorizontalPodAutoscaler/web": "not_attempted",
    }
    assert outcome.failures == [
        'Failed to create Deployment/web in namespace dst: HTTP 422 Deployment.apps "web" is invalid: '
        "spec.selector: Required value"
    ]
    assert not [p for _m, p in reader.written() if "horizontalpodautoscalers" in p]
