"""The one waiter: rounds of reads, predicates, the first failure, the deadline, retries."""

from fakes import FakeApi

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources, wait
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Cluster(FakeApi):
    """Workloads whose pods go away one per second of the fake clock."""

    def __init__(self, clock, pods, errors=()):
        super().__init__()
        self.clock, self.pods, self.errors = clock, dict(pods), list(errors)
        for name in pods:
            self.put_object(resources.DEPLOYMENT.object_path("ns", name), {"metadata": {"name": name}})

    def request(self, path, query=None, **kwargs):
        if self.errors:
            error = self.errors.pop(0)
            if error:
                raise error
        for name, count in self.pods.items():
            obj = self.objects.get(resources.DEPLOYMENT.object_path("ns", name))
            if obj is not None:
                obj["status"] = {"replicas": max(count - int(self.clock.now), 0)}
        return super().request(path, query, **kwargs)


def targets(*names, check=wait.pods_gone):
    return [wait.Target(resources.DEPLOYMENT, "ns", name, check) for name in names]


def waiter(api, clock, timeout=10):
    return wait.Waiter(api, timeout, clock=clock, sleep=clock.sleep)


def test_waits_until_the_predicate_holds_for_every_target_with_one_list_per_round():
    clock = Clock()
    api = Cluster(clock, {"web": 2, "api": 1})
    results = waiter(api, clock).wait(targets("web", "api"))
    assert [(r["name"], r["done"], r["seconds"]) for r in results] == [("web", True, 2.0), ("api", True, 1.0)]
    # one LIST while both are pending, then one GET for the one left
    assert [path for _m, path in api.calls] == [
        resources.DEPLOYMENT.collection_path("ns"),
        resources.DEPLOYMENT.collection_path("ns"),
        resources.DEPLOYMENT.object_path("ns", "web"),
    ]


def test_the_deadline_fails_what_is_still_pending_with_its_last_status():
    clock = Clock()
    results = waiter(Cluster(clock, {"web": 9}), clock, timeout=3).wait(targets("web"))
    assert results[0]["failed"] and results[0]["seconds"] == 3.0
    assert results[0]["message"] == "not done within 3 s: 6 pod(s) left"
    assert results[0]["timed_out"] is True  # waiting longer may still see it done


def test_a_missing_object_fails_at_once_and_the_others_are_reported_as_last_seen():
    clock = Clock()
    results = waiter(Cluster(clock, {"web": 5}), clock).wait(targets("web", "ghost"))
    assert results[1]["message"] == "Deployment ghost does not exist in namespace ns" and results[1]["failed"]
    assert "timed_out" not in results[1]  # failed by itself: no use waiting on
    assert not results[0]["failed"] and results[0]["message"] == "5 pod(s) left"


def test_an_absent_object_may_count_as_done():
    clock = Clock()
    gone = wait.Target(
        resources.DEPLOYMENT, "ns", "ghost", wait.pods_gone, absent={"done": True, "failed": False}
    )
    assert waiter(Cluster(clock, {}), clock).wait([gone])[0]["done"] is True


def test_transient_errors_are_retried_and_others_fail_the_targets_read():
    clock = Clock()
    flaky = Cluster(clock, {"web": 1}, errors=[ApiError("unreachable", "no route"), None])
    assert waiter(flaky, clock).wait(targets("web"))[0]["done"] is True
    clock = Clock()
    denied = Cluster(clock, {"web": 1}, errors=[ApiError("forbidden", "permission denied to read", 403)])
    result = waiter(denied, clock).wait(targets("web"))[0]
    assert result["failed"] and result["message"] == "cannot read the status: permission denied to read"


def test_an_api_that_never_comes_back_is_named_at_the_deadline():
    clock = Clock()
    down = Cluster(clock, {"web": 1}, errors=[ApiError("unreachable", "no route")] * 100)
    result = waiter(down, clock, timeout=2).wait(targets("web"))[0]
    assert result["message"] == "the Kubernetes API stopped answering (no route); not confirmed within 2 s"


def test_ready_and_established_predicates():
    workload = {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, "readyReplicas": 3, "updatedReplicas": 3},
    }
    assert wait.ready(3)(workload)["done"] is True
    assert wait.ready(4)(workload)["message"] == "3 of 4 replicas ready"
    workload["status"]["observedGeneration"] = 1
    assert wait.ready(3)(workload)["done"] is False
    crd = {"kind": "CustomResourceDefinition", "metadata": {"name": "w"}, "status": {"conditions": []}}
    assert wait.established(crd)["done"] is False
    crd["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    assert wait.established(crd)["done"] is True


def test_zero_timeout_reads_once():
    clock = Clock()
    api = Cluster(clock, {"web": 1})
    result = waiter(api, clock, timeout=0).wait(targets("web"))[0]
    assert result["failed"] and len(api.calls) == 1


def test_a_reads_budget_ends_with_the_wait():
    clock = Clock()
    budgets = []

    class Recording(Cluster):
        def request(self, path, query=None, accept=None, timeout=None, retry=True):
            budgets.append(timeout)
            clock.now += 4  # each read takes four seconds
            return super().request(path, query, accept=accept, timeout=timeout, retry=retry)

    waiter(Recording(clock, {"web": 100}), clock, timeout=20).wait(targets("web"))
    assert budgets[0] == 20 and budgets == sorted(budgets, reverse=True)
    assert min(budgets) == wait.MIN_READ  # a read near the deadline still gets a chance to answer
