"""multiagent.ops.quiesce: scale to zero with a record in the cluster, restore from a later run."""

import pytest
from conftest import platform_vars
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
QUIESCE = "tests/integration/playbooks/quiesce.yml"
APP = [{"name": "mplp-core"}, {"name": "mplp-plan"}]


def call(ansible, platform, args=(), **more):
    extra = platform_vars(platform, quiesce_workloads=APP, quiesce_cronjobs=["*"])
    extra.update({"quiesce_%s" % k: v for k, v in more.items()})
    run = ansible(QUIESCE, limit="us-east-1", extra_vars=extra, args=args)
    return run, run.results("Quiesce call", "us-east-1")


def test_quiesce_and_restore_from_a_separate_run(ansible, small_platform, kube):
    ns = small_platform["namespace"]
    apps = client.AppsV1Api(kube["us-east-1"])
    batch = client.BatchV1Api(kube["us-east-1"])
    batch.create_namespaced_cron_job(
        ns,
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 2 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "j", "image": "busybox"}],
                            }
                        }
                    }
                },
            },
        },
    )
    apps.patch_namespaced_deployment("mplp-plan", ns, {"spec": {"replicas": 3}})

    run, checked = call(ansible, small_platform, args=["--check"])
    assert run.rc == 0 and checked["changed"] is True
    assert apps.read_namespaced_deployment("mplp-core", ns).spec.replicas == 2  # check mode wrote nothing

    run, first = call(ansible, small_platform)
    assert run.rc == 0, run.failure_messages()
    assert [(w["object"], w["recorded"], w["replicas_after"]) for w in first["workloads"]] == [
        ("Deployment/mplp-core", 2, 0),
        ("Deployment/mplp-plan", 3, 0),
    ]
    core = apps.read_namespaced_deployment("mplp-core", ns)
    assert core.spec.replicas == 0 and core.status.replicas in (0, None)  # waited for the pods to go
    assert core.metadata.annotations["multiagent.ops/recorded-replicas"] == "2"
    assert batch.read_namespaced_cron_job("nightly", ns).spec.suspend is True
    assert (
        apps.read_namespaced_stateful_set("mplp-postgresql", ns).spec.replicas == 1
    )  # not listed: untouched

    run, again = call(ansible, small_platform)
    assert run.rc == 0 and again["changed"] is False
    assert [w["recorded"] for w in again["workloads"]] == [2, 3]  # the first record survives

    run, restored = call(ansible, small_platform, state="restored")
    assert run.rc == 0, run.failure_messages()
    assert restored["changed"] is True
    core = apps.read_namespaced_deployment("mplp-core", ns)
    plan = apps.read_namespaced_deployment("mplp-plan", ns)
    assert (core.spec.replicas, plan.spec.replicas) == (2, 3)
    assert (core.status.ready_replicas, plan.status.ready_replicas) == (2, 3)  # waited until ready
    assert "multiagent.ops/recorded-replicas" not in (core.metadata.annotations or {})
    assert batch.read_namespaced_cron_job("nightly", ns).spec.suspend is False

    # the deprecated name of state=restored still works, and says it is deprecated
    run, idle = call(ansible, small_platform, state="resumed")
    assert run.rc == 0 and idle["changed"] is False
    assert [d["msg"] for d in idle["deprecations"]] == [
        "state=resumed is deprecated: use state=restored, which does the same"
    ]


def test_missing_workload_changes_nothing(ansible, shared_platform, kube):
    ns = shared_platform["namespace"]
    extra = platform_vars(shared_platform, quiesce_workloads=[{"name": "mplp-core"}, {"name": "no-such"}])
    run = ansible(QUIESCE, limit="us-east-1", extra_vars=extra)
    assert run.rc != 0
    assert "Deployment no-such does not exist in namespace %s; nothing was changed" % ns in " ".join(
        run.failure_messages()
    )
    assert client.AppsV1Api(kube["us-east-1"]).read_namespaced_deployment("mplp-core", ns).spec.replicas == 2
