"""playbooks/maintenance.yml: enable and disable from separate runs, with the records in the cluster."""

import contextlib
import datetime
import json

import pytest
from conftest import platform_vars
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
MAINTENANCE = "playbooks/maintenance.yml"
ROUTE = "tests/integration/playbooks/service_route.yml"
PAGE = {"app.kubernetes.io/name": "mplp-maintenance", "app.kubernetes.io/component": "maintenance-page"}
APP_SERVICES = ("mplp-core", "mplp-plan")
RECORDED_SELECTOR = "multiagent.ops/recorded-selector"
RECORDED_PORTS = "multiagent.ops/recorded-target-ports"
RECORDED_REPLICAS = "multiagent.ops/recorded-replicas"


def windows(open_now):
    """A daily window that is open now (ending in two hours), or one that is not."""
    now = datetime.datetime.now(datetime.UTC)
    if open_now:
        start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=2)
    else:
        start, end = now + datetime.timedelta(hours=3), now + datetime.timedelta(hours=4)
    return {"daily": "%s-%s" % (start.strftime("%H:00"), end.strftime("%H:00"))}


def maintenance(ansible, platform, action, args=(), **more):
    extra = platform_vars(
        platform,
        maintenance_action=action,
        maintenance_wait_timeout=60,
        ops_lock_wait=1,
        platform_maintenance_windows=windows(open_now=False),
        platform_timezone="UTC",
        ops_force=True,
    )
    extra.update(more)
    return ansible(MAINTENANCE, limit="us-east-1", extra_vars=extra, args=args)


def changed_tasks(run, host="us-east-1"):
    """The names of the tasks that changed something, a role's without the role's name."""
    return sorted(
        task["task"]["name"].split(" : ", 1)[-1]
        for play in (run.data or {}).get("plays", [])
        for task in play.get("tasks", [])
        if (task["hosts"].get(host) or {}).get("changed")
    )


def lock_tasks(ns):
    """The lock's take and release change nothing of the platform: they report changed=false
    (the Lease is the run's bookkeeping, given back when it ends)."""
    return []


class Cluster:
    def __init__(self, kube, ns):
        self.ns = ns
        self.apps = client.AppsV1Api(kube["us-east-1"])
        self.core = client.CoreV1Api(kube["us-east-1"])
        self.batch = client.BatchV1Api(kube["us-east-1"])
        self.leases = client.CoordinationV1Api(kube["us-east-1"])

    def deployment(self, name):
        return self.apps.read_namespaced_deployment(name, self.ns)

    def service(self, name):
        return self.core.read_namespaced_service(name, self.ns)

    def annotations(self, obj):
        return obj.metadata.annotations or {}

    def endpoint_pods(self, name):
        endpoints = self.core.read_namespaced_endpoints(name, self.ns)
        subsets = endpoints.subsets or []
        pods = sorted(a.target_ref.name for s in subsets for a in (s.addresses or []))
        ports = sorted({p.port for s in subsets for p in (s.ports or [])})
        return pods, ports

    def exists(self, read, name):
        try:
            read(name, self.ns)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def lock_holder(self):
        try:
            lease = self.leases.read_namespaced_lease("maops-lock-platform-%s" % self.ns, self.ns)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return lease.spec.holder_identity

    def snapshot(self):
        """What maintenance mode changes, to compare before and after a run that must not."""
        return {
            "replicas": {n: self.deployment(n).spec.replicas for n in APP_SERVICES},
            "selectors": {n: self.service(n).spec.selector for n in APP_SERVICES},
            "records": {n: sorted(self.annotations(self.service(n))) for n in APP_SERVICES},
            "page": self.exists(self.apps.read_namespaced_deployment, "mplp-maintenance"),
        }


def cronjob(name):
    job = {"restartPolicy": "Never", "containers": [{"name": "j", "image": "busybox"}]}
    return {
        "metadata": {"name": name},
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": job}}}},
    }


def test_enable_then_disable_from_a_separate_run(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    cluster = Cluster(kube, ns)
    app_selector = {n: cluster.service(n).spec.selector for n in APP_SERVICES}
    # a Service that targets a number: the page listens on its named port "http" instead
    cluster.core.patch_namespaced_service(
        "mplp-plan", ns, {"spec": {"ports": [{"name": "http", "port": 8080, "targetPort": 8000}]}}
    )
    cluster.batch.create_namespaced_cron_job(ns, cronjob("nightly"))
    before = cluster.snapshot()

    run = maintenance(ansible, small_platform, "enable", args=["--check"])
    assert run.rc == 0, run.failure_messages()
    assert cluster.snapshot() == before  # check mode wrote nothing

    run = maintenance(
        ansible, small_platform, "enable", ops_force=False, platform_maintenance_windows=windows(True)
    )
    assert run.rc == 0, run.failure_messages()
    for name in APP_SERVICES:
        dep = cluster.deployment(name)
        assert dep.spec.replicas == 0 and not dep.status.replicas  # waited for the pods to go
        assert cluster.annotations(dep)[RECORDED_REPLICAS] == "2"
        svc = cluster.service(name)
        assert svc.spec.selector == PAGE
        assert json.loads(cluster.annotations(svc)[RECORDED_SELECTOR]) == app_selector[name]
        pods, ports = cluster.endpoint_pods(name)
        assert pods and all(p.startswith("mplp-maintenance-") for p in pods), pods
        assert ports == [8080]  # the page's port "http"
    plan = cluster.service("mplp-plan")
    assert [p.target_port for p in plan.spec.ports] == ["http"]
    assert json.loads(cluster.annotations(plan)[RECORDED_PORTS]) == {"8080/TCP": 8000}
    assert cluster.batch.read_namespaced_cron_job("nightly", ns).spec.suspend is True
    # the database keeps running and reachable
    assert cluster.apps.read_namespaced_stateful_set("mplp-postgresql", ns).spec.replicas == 1
    postgresql = cluster.service("mplp-postgresql")
    assert postgresql.spec.selector["app.kubernetes.io/component"] == "postgresql"
    assert RECORDED_SELECTOR not in cluster.annotations(postgresql)
    assert cluster.endpoint_pods("mplp-postgresql")[0] == ["mplp-postgresql-0"]
    assert cluster.lock_holder() is None  # the lock is only held while a run acts

    # the page: 503 + Retry-After for every path, until the window's end; Pod Security "restricted"
    page = cluster.core.read_namespaced_config_map("mplp-maintenance", ns).data
    end = windows(True)["daily"].split("-")[1]
    assert " until " in page["index.html"] and "%s (UTC)" % end in page["index.html"]
    assert json.loads(page["maintenance.json"])["retry_after"].endswith(":00:00 GMT")
    assert "return 503;" in page["default.conf"] and "add_header Retry-After" in page["default.conf"]
    spec = cluster.deployment("mplp-maintenance").spec.template.spec
    [container] = spec.containers
    assert spec.security_context.run_as_non_root is True
    assert spec.security_context.seccomp_profile.type == "RuntimeDefault"
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.capabilities.drop == ["ALL"]
    assert [(p.name, p.container_port) for p in container.ports] == [("http", 8080)]

    run = maintenance(
        ansible, small_platform, "enable", ops_force=False, platform_maintenance_windows=windows(True)
    )
    assert run.rc == 0, run.failure_messages()
    assert changed_tasks(run) == lock_tasks(ns)  # nothing changed (the lock is bookkeeping)
    assert (
        json.loads(cluster.annotations(cluster.service("mplp-core"))[RECORDED_SELECTOR])
        == app_selector["mplp-core"]
    )
    assert cluster.annotations(cluster.deployment("mplp-core"))[RECORDED_REPLICAS] == "2"

    on_page = cluster.snapshot()
    run = maintenance(ansible, small_platform, "disable", args=["--check"])
    assert run.rc == 0, run.failure_messages()
    assert cluster.snapshot() == on_page  # check mode wrote nothing

    # a later, separate run; no window is needed to leave maintenance
    run = maintenance(ansible, small_platform, "disable", ops_force=False)
    assert run.rc == 0, run.failure_messages()
    for name in APP_SERVICES:
        dep = cluster.deployment(name)
        assert (dep.spec.replicas, dep.status.ready_replicas) == (2, 2)  # waited until ready
        assert RECORDED_REPLICAS not in cluster.annotations(dep)
        svc = cluster.service(name)
        assert svc.spec.selector == app_selector[name]
        assert not {RECORDED_SELECTOR, RECORDED_PORTS} & set(cluster.annotations(svc))
        pods, _ports = cluster.endpoint_pods(name)
        assert pods and all(p.startswith(name + "-") for p in pods), pods
    assert [p.target_port for p in cluster.service("mplp-plan").spec.ports] == [8000]
    assert cluster.batch.read_namespaced_cron_job("nightly", ns).spec.suspend is False
    assert not cluster.exists(cluster.apps.read_namespaced_deployment, "mplp-maintenance")
    assert not cluster.exists(cluster.core.read_namespaced_config_map, "mplp-maintenance")
    assert cluster.lock_holder() is None

    run = maintenance(ansible, small_platform, "disable")
    assert run.rc == 0, run.failure_messages()
    assert changed_tasks(run) == lock_tasks(ns)
    assert cluster.snapshot() == before


def test_outside_the_window_without_force_changes_nothing(ansible, shared_platform, kube):
    cluster = Cluster(kube, shared_platform["namespace"])
    before = cluster.snapshot()
    closed = windows(open_now=False)
    run = maintenance(
        ansible, shared_platform, "enable", ops_force=False, platform_maintenance_windows=closed
    )
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "outside the maintenance windows" in message and closed["daily"] in message
    assert "nothing was changed" in message
    assert cluster.snapshot() == before
    assert cluster.lock_holder() is None


def test_a_lock_held_by_someone_else_stops_both_actions(ansible, shared_platform, kube):
    ns = shared_platform["namespace"]
    cluster = Cluster(kube, ns)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    name = "maops-lock-platform-%s" % ns
    with contextlib.suppress(client.ApiException):
        cluster.leases.delete_namespaced_lease(name, ns)
    cluster.leases.create_namespaced_lease(
        ns,
        {
            "metadata": {"name": name, "annotations": {"multiagent.ops/purpose": "deploy.yml"}},
            "spec": {
                "holderIdentity": "awx-job-4242",
                "leaseDurationSeconds": 600,
                "acquireTime": now,
                "renewTime": now,
            },
        },
    )
    try:
        before = cluster.snapshot()
        for action in ("enable", "disable"):
            run = maintenance(ansible, shared_platform, action)
            assert run.rc != 0
            message = " ".join(run.failure_messages())
            assert "is held by awx-job-4242 (deploy.yml)" in message
            assert "nothing was changed" in message
            assert cluster.snapshot() == before
            assert cluster.lock_holder() == "awx-job-4242"  # not released by the run that did not hold it
    finally:  # the platform is shared: the next test must find it unlocked
        cluster.leases.delete_namespaced_lease(name, ns)


@pytest.mark.global_state
@pytest.mark.emulator_only
def test_an_interrupted_enable_says_what_it_left_and_a_rerun_finishes(ansible, small_platform, kube, faults):
    ns = small_platform["namespace"]
    cluster = Cluster(kube, ns)
    faults.deny("us-east-1", "patch", "apps", "deployments", namespace=ns)
    run = maintenance(ansible, small_platform, "enable")
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert 'stopped at "Enable | record replicas, suspend CronJobs, scale the application to zero"' in message
    assert (
        "traffic is on the maintenance page" in message
        and "Re-run with -e maintenance_action=enable" in message
    )
    assert cluster.service("mplp-core").spec.selector == PAGE
    assert cluster.deployment("mplp-core").spec.replicas == 2  # the application is still running
    assert cluster.lock_holder() is None  # released on the way out
    faults.reset_all()

    run = maintenance(ansible, small_platform, "enable")
    assert run.rc == 0, run.failure_messages()
    assert cluster.deployment("mplp-core").spec.replicas == 0
    assert changed_tasks(run) == sorted(
        lock_tasks(ns) + ["Enable | record replicas, suspend CronJobs, scale the application to zero"]
    )
    run = maintenance(ansible, small_platform, "disable")
    assert run.rc == 0, run.failure_messages()
    assert cluster.deployment("mplp-core").spec.replicas == 2
    assert cluster.service("mplp-core").spec.selector["app.kubernetes.io/component"] == "core"


def test_service_route_reads_every_service_before_changing_any(ansible, shared_platform, kube):
    cluster = Cluster(kube, shared_platform["namespace"])
    before = cluster.snapshot()
    extra = platform_vars(shared_platform, route_services=["mplp-core", "no-such"], route_selector=PAGE)
    run = ansible(ROUTE, limit="us-east-1", extra_vars=extra)
    assert run.rc != 0
    assert run.results("Service route call", "us-east-1")["msg"] == (
        "Service no-such does not exist in namespace %s; nothing was changed" % shared_platform["namespace"]
    )
    assert cluster.snapshot() == before
