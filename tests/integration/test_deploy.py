"""The deploy role and the lifecycle runbooks (deploy, upgrade, rollback, restart, emergency
recovery) through ansible-playbook against the local stack."""

from __future__ import annotations

import copy
import datetime
import json
import os
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import module_running
from faults import FAULT_ANNOTATION
from kubernetes import client

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

IMAGE = os.environ.get("MAOPS_TEST_IMAGE")
# A small platform shaped like MPLP's: an autoscaled component behind the ingress, a plain
# one, and PostgreSQL as a StatefulSet reading the demo's credentials Secret.
PLATFORM = [
    {
        "name": "core",
        "workload": "mplp-core",
        "image": IMAGE or "mplp/core",
        "replicas": 2,
        "autoscaling": {"min": 2, "max": 4, "cpu": 70},
        "service": {"name": "mplp-core", "port": 8080},
        "health_paths": ["/api/v1/core/health"],
        "ingress_paths": ["/api/v1/core"],
    },
    {
        "name": "plan",
        "workload": "mplp-plan",
        "image": IMAGE or "mplp/plan",
        "replicas": 2,
        "service": {"name": "mplp-plan", "port": 8080},
        "health_paths": ["/api/v1/plan/health"],
    },
    {
        "name": "postgresql",
        "role": "database",
        "kind": "StatefulSet",
        "workload": "mplp-postgresql",
        "image": IMAGE or "postgres:15",
        "replicas": 1,
        "service": {"name": "mplp-postgresql", "port": 5432},
        "secrets": ["mplp-postgresql-credentials"],
        "run_as_user": 999,
        "read_only_root_filesystem": False,
    },
]
DEPLOY = "playbooks/deploy.yml"
APPLY_TASK = "Apply | every object of the platform in one batch, then wait for the rollouts"


@pytest.fixture
def namespace(kube, faults):
    name = "it-deploy-%s" % uuid.uuid4().hex[:8]
    yield name
    faults.reset_all()
    try:
        client.CoreV1Api(kube["us-east-1"]).delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    # the platform lock of a first deploy lives in default
    try:
        client.CoordinationV1Api(kube["us-east-1"]).delete_namespaced_lease(
            "maops-lock-platform-%s" % name, "default"
        )
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def run(ansible, playbook, namespace, components=None, args=(), **extra):
    extra_vars = {"platform_namespace": namespace, "platform_components": components or PLATFORM}
    extra_vars.update(extra)
    return ansible(playbook, limit="us-east-1", extra_vars=extra_vars, args=args)


LOCK_TASKS = ("Gate | take the lock on ", "Release | give back the locks this run holds")


def changed_tasks(result, host="us-east-1"):
    """How many tasks changed something besides the platform lock (deploy.yml takes and gives
    back its Lease on every run: that is the run's bookkeeping, not a change of the platform)."""
    return sum(
        1
        for play in result.data["plays"]
        for task in play["tasks"]
        if (task["hosts"].get(host) or {}).get("changed")
        and not task["task"]["name"].split(" : ", 1)[-1].startswith(LOCK_TASKS)
    )


def platform_lock(kube, namespace, in_namespace="default"):
    """The holder of the platform's Lease, and whether it exists."""
    try:
        lease = client.CoordinationV1Api(kube["us-east-1"]).read_namespaced_lease(
            "maops-lock-platform-%s" % namespace, in_namespace
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return False, None
        raise
    return True, lease.spec.holder_identity


def apps(kube):
    return client.AppsV1Api(kube["us-east-1"])


def core_api(kube):
    return client.CoreV1Api(kube["us-east-1"])


def silences(alertmanager, namespace):
    """The silences of Alertmanager (API v2) whose matchers name ``namespace``."""
    with urllib.request.urlopen(alertmanager + "/api/v2/silences", timeout=10) as answer:
        found = json.load(answer)
    return [
        s
        for s in found
        if {"name": "namespace", "value": namespace}
        in [{"name": m["name"], "value": m["value"]} for m in s["matchers"]]
    ]


def silence(alertmanager, matchers, comment):
    """Create a silence of an hour; its id."""
    now = datetime.datetime.now(datetime.UTC)
    body = {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
        "startsAt": now.isoformat(),
        "endsAt": (now + datetime.timedelta(hours=1)).isoformat(),
        "createdBy": "a test",
        "comment": comment,
    }
    request = urllib.request.Request(
        alertmanager + "/api/v2/silences", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["silenceID"]


def namespace_exists(kube, name):
    try:
        core_api(kube).read_namespace(name)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def template_env(kube, namespace, name):
    dep = apps(kube).read_namespaced_deployment(name, namespace)
    return {e.name: e.value for e in dep.spec.template.spec.containers[0].env or []}


def test_deploy_renders_everything_and_a_second_run_changes_nothing(ansible, kube, namespace, stack_facts):
    first = run(ansible, DEPLOY, namespace)
    assert first.rc == 0, first.failure_messages() or first.stdout[-3000:]
    applied = first.results(APPLY_TASK, "us-east-1")
    assert applied["changed"] is True and applied["summary"]["created"] >= 14
    # deploy_ingress_kind auto: the Ingress where route.openshift.io is not served
    skipped = [r for r in applied["results"] if r["action"] == "skipped"]
    assert {r["kind"] for r in skipped} == {"Route"} and len(skipped) == 3

    ns = core_api(kube).read_namespace(namespace)
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert core.spec.replicas == 2 and core.status.ready_replicas == 2  # created at the HPA's minimum
    pod_spec = core.spec.template.spec
    assert pod_spec.security_context.run_as_non_root is True
    assert pod_spec.containers[0].security_context.allow_privilege_escalation is False
    assert pod_spec.containers[0].readiness_probe.http_get.path == "/api/v1/core/health"
    assert len(core.spec.template.metadata.annotations["multiagent.ops/config-checksum"]) == 64
    hpa = client.AutoscalingV2Api(kube["us-east-1"]).read_namespaced_horizontal_pod_autoscaler(
        "mplp-core", namespace
    )
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 4)
    assert hpa.spec.behavior.scale_down.stabilization_window_seconds == 300
    budgets = client.PolicyV1Api(kube["us-east-1"]).list_namespaced_pod_disruption_budget(namespace).items
    assert sorted(b.metadata.name for b in budgets) == ["mplp-core", "mplp-plan"]  # not the single database
    assert apps(kube).read_namespaced_stateful_set("mplp-postgresql", namespace).status.ready_replicas == 1
    assert (
        core_api(kube).read_namespaced_service("mplp-postgresql-headless", namespace).spec.cluster_ip
        == "None"
    )
    secret = core_api(kube).read_namespaced_secret("mplp-postgresql-credentials", namespace)
    assert set(secret.data) == {"POSTGRES_PASSWORD", "password"}  # the password only: the user is no secret
    env = {
        e.name: e.value
        for e in apps(kube)
        .read_namespaced_stateful_set("mplp-postgresql", namespace)
        .spec.template.spec.containers[0]
        .env
    }
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("mplp", "mplp_production")
    ingress = client.NetworkingV1Api(kube["us-east-1"]).read_namespaced_ingress("mplp", namespace)
    paths = [p.path for p in ingress.spec.rules[0].http.paths]
    assert paths == ["/api/v1/core", "/health", "/ready"]

    # The HPA scales core to 4 (the emulator's HPA does not: do it as the HPA would);
    # a re-deploy must neither reset that nor change anything else.
    apps(kube).patch_namespaced_deployment_scale("mplp-core", namespace, {"spec": {"replicas": 4}})
    second = run(ansible, DEPLOY, namespace)
    assert second.rc == 0, second.failure_messages()
    assert changed_tasks(second) == 0
    assert second.results(APPLY_TASK, "us-east-1")["summary"].get("updated", 0) == 0
    assert apps(kube).read_namespaced_deployment("mplp-core", namespace).spec.replicas == 4


def test_deploy_takes_the_platform_lock_and_waits_for_its_holder(ansible, kube, namespace):
    """A first deploy locks the platform in default (its namespace does not exist yet); later
    ones in the namespace, where the other changing runbooks lock it: a deploy beside an
    upgrade or maintenance mode waits for it, then fails naming the holder, changing nothing."""
    first = run(ansible, DEPLOY, namespace)
    assert first.rc == 0, first.failure_messages()
    assert platform_lock(kube, namespace, "default") == (True, None)  # taken, then given back
    assert platform_lock(kube, namespace, namespace) == (False, None)

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.CoordinationV1Api(kube["us-east-1"]).create_namespaced_lease(
        namespace,
        {
            "metadata": {
                "name": "maops-lock-platform-%s" % namespace,
                "annotations": {"multiagent.ops/purpose": "upgrade of core (1.0.1)"},
            },
            "spec": {
                "holderIdentity": "awx-job-4242",
                "leaseDurationSeconds": 600,
                "acquireTime": now,
                "renewTime": now,
            },
        },
    )
    before = apps(kube).read_namespaced_deployment("mplp-core", namespace).metadata.resource_version
    refused = run(
        ansible,
        DEPLOY,
        namespace,
        ops_lock_wait=2,
        ops_lock_wait_step=1,
        deploy_config={"LOG_LEVEL": "debug"},
    )
    assert refused.rc != 0
    message = " ".join(refused.failure_messages())
    assert "is held by awx-job-4242 (upgrade of core (1.0.1))" in message, message
    # Before waiting, the run says who holds the lock and until when; then it waits in steps.
    told = refused.results(
        "Gate | who holds the lock, and until when, on platform-%s" % namespace, "us-east-1"
    )["msg"]
    assert told.startswith(
        "maops-lock-platform-%s is held by awx-job-4242 (upgrade of core (1.0.1)) until " % namespace
    )
    assert told.endswith("waiting up to 2 s for it, checking every 1 s"), told
    waited = refused.results("Gate | wait for the lock on platform-%s" % namespace, "us-east-1")
    assert "attempts" in waited and "gave up after waiting 1s" in waited["msg"], waited  # steps of 1 s
    assert apps(kube).read_namespaced_deployment("mplp-core", namespace).metadata.resource_version == before
    assert "LOG_LEVEL" not in (core_api(kube).read_namespaced_config_map("mplp-config", namespace).data or {})
    assert platform_lock(kube, namespace, namespace) == (
        True,
        "awx-job-4242",
    )  # not released by the refused run
    client.CoordinationV1Api(kube["us-east-1"]).delete_namespaced_lease(
        "maops-lock-platform-%s" % namespace, namespace
    )

    again = run(ansible, DEPLOY, namespace)
    assert again.rc == 0, again.failure_messages()
    assert platform_lock(kube, namespace, namespace) == (True, None)  # now in the namespace, given back
    assert changed_tasks(again) == 0


def test_check_diff_shows_changes_but_never_a_secret_value(ansible, kube, namespace, stack_facts):
    assert run(ansible, DEPLOY, namespace).rc == 0
    before = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    new_password = "n3w-Pa55-%s" % uuid.uuid4().hex[:10]
    old_password = Path(stack_facts["postgresql"]["password_file"]).read_text().strip()
    checked = run(
        ansible,
        DEPLOY,
        namespace,
        args=["--check", "--diff", "-vvv"],
        deploy_config={"LOG_LEVEL": "debug"},
        deploy_secrets=[{"name": "mplp-postgresql-credentials", "data": {"password": new_password}}],
    )
    assert checked.rc == 0, checked.failure_messages()
    applied = checked.results(APPLY_TASK, "us-east-1")
    assert applied["changed"] is True
    assert {(r["kind"], r["name"]) for r in applied["results"] if r["action"] == "updated"} >= {
        ("ConfigMap", "mplp-config"),
        ("Secret", "mplp-postgresql-credentials"),
    }
    for text in (checked.stdout, checked.stderr):
        assert new_password not in text
        assert old_password not in text
    # nothing was written
    after = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert after.metadata.resource_version == before.metadata.resource_version
    cm = core_api(kube).read_namespaced_config_map("mplp-config", namespace)
    assert "LOG_LEVEL" not in cm.data


def test_a_config_change_rolls_the_pods_that_use_it_and_nothing_else(ansible, kube, namespace):
    assert run(ansible, DEPLOY, namespace).rc == 0
    core_before = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    pg_before = apps(kube).read_namespaced_stateful_set("mplp-postgresql", namespace)
    changed = run(ansible, DEPLOY, namespace, deploy_config={"MPLP_ENVIRONMENT": "staging"})
    assert changed.rc == 0, changed.failure_messages()
    core_after = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    pg_after = apps(kube).read_namespaced_stateful_set("mplp-postgresql", namespace)
    checksum = "multiagent.ops/config-checksum"
    assert (
        core_after.spec.template.metadata.annotations[checksum]
        != (core_before.spec.template.metadata.annotations[checksum])
    )
    assert core_after.metadata.generation == core_before.metadata.generation + 1
    assert core_after.status.updated_replicas == core_after.status.ready_replicas == 2  # waited
    assert pg_after.metadata.generation == pg_before.metadata.generation  # no shared config: untouched


@pytest.mark.parametrize(
    "change,extra,message",
    [
        ({"replicas": 9}, {}, "component 'core': replicas 9 is outside its autoscaling range 2-4"),
        ({}, {"deploy_components": ["billing"]}, "unknown component 'billing'; the platform has: core, plan"),
        (
            {},
            {"deploy_secrets": [{"name": "mplp-postgresql-credentials", "data": {"password": ""}}]},
            "secret 'mplp-postgresql-credentials': key 'password' is empty",
        ),
        ({"secrets": ["no-such-secret"]}, {}, "no-such-secret"),
        # the preflight audit of the rendered manifests, at a stricter level than its default
        ({"run_as_user": 0}, {"deploy_audit_fail_on": "high"}, "MAO-004 Deployment"),
    ],
)
def test_bad_input_fails_before_anything_is_written(ansible, kube, namespace, change, extra, message):
    platform = copy.deepcopy(PLATFORM)
    platform[0].update(change)
    result = run(ansible, DEPLOY, namespace, components=platform, **extra)
    assert result.rc != 0
    assert any(message in m for m in result.failure_messages()), result.failure_messages()
    assert not namespace_exists(kube, namespace)


def test_a_waived_audit_finding_lets_the_deploy_through_saying_why(ansible, kube, namespace):
    """The finding the audit refuses (above) passes with a waiver that gives its reason; an
    expired waiver does not, and is a finding of its own."""
    platform = copy.deepcopy(PLATFORM)
    platform[0]["run_as_user"] = 0
    waiver = {
        "rule": "MAO-004",
        "kind": "Deployment",
        "name": "mplp-core",
        "reason": "the image binds port 80",
    }
    task = "Preflight | the rendered manifests pass the security audit"
    expired = run(
        ansible,
        DEPLOY,
        namespace,
        components=platform,
        args=["--check"],
        deploy_audit_fail_on="high",
        deploy_audit_waivers=[dict(waiver, expires="2020-01-01")],
    )
    assert expired.rc != 0 and any("MAO-004" in m for m in expired.failure_messages())
    passed = run(
        ansible,
        DEPLOY,
        namespace,
        components=platform,
        deploy_audit_fail_on="high",
        deploy_audit_waivers=[dict(waiver, expires="2099-12-31")],
    )
    assert passed.rc == 0, passed.failure_messages()
    audited = next(
        result
        for play in passed.data["plays"]
        for t in play["tasks"]
        if t["task"]["name"].split(" : ", 1)[-1].startswith(task)
        for result in [t["hosts"]["us-east-1"]]
    )
    # the preflight says which finding a waiver let through, until when and why
    assert (
        "waived: MAO-004 Deployment/%s/mplp-core until 2099-12-31 (the image binds port 80)" % namespace
        in (audited["msg"])
    ), audited["msg"]


SECURITY = {"network_policies": True, "api_server": {"cidrs": ["10.96.0.1/32"]}}
HARDEN_APPLY = (
    "Harden | apply the Namespace's Pod Security labels, the ServiceAccounts, Roles, "
    "RoleBindings and NetworkPolicies"
)
HARDEN_AUDIT = "Audit | the namespace's objects, RBAC and NetworkPolicy coverage"
COVERAGE = ("MAO-150", "MAO-151", "MAO-152", "MAO-153")


def task_result(run_, name, host="us-east-1"):
    return next(
        task["hosts"][host]
        for play in run_.data["plays"]
        for task in play["tasks"]
        if task["task"]["name"].split(" : ", 1)[-1] == name and host in task["hosts"]
    )


def test_harden_closes_the_coverage_and_deploy_and_harden_never_undo_each_other(ansible, kube, namespace):
    """A platform deployed without network policies: harden.yml applies them (and the role's
    audit finds the coverage closed); then deploy, harden, deploy with the same description
    change nothing and restart no pod (the two apply the same objects)."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    before = run(ansible, "playbooks/security_audit.yml", namespace, security_audit_fail_on="none")
    audit_task = (
        "Audit the platform's namespaces on the cluster (objects, RBAC, NetworkPolicy coverage, images)"
    )
    open_before = {f["rule"] for f in task_result(before, audit_task)["findings"]} & set(COVERAGE)
    assert {"MAO-150", "MAO-151", "MAO-152"} <= open_before

    hardened = run(ansible, "playbooks/harden.yml", namespace, platform_security=SECURITY)
    assert hardened.rc == 0, hardened.failure_messages()
    applied = task_result(hardened, HARDEN_APPLY)
    assert applied["changed"] is True
    kinds = {(r["kind"], r["action"]) for r in applied["results"]}
    assert ("NetworkPolicy", "created") in kinds
    audit = task_result(hardened, HARDEN_AUDIT)
    assert not [f for f in audit["findings"] if f["rule"] in COVERAGE], audit["findings"][:5]
    policies = client.NetworkingV1Api(kube["us-east-1"]).list_namespaced_network_policy(namespace).items
    assert "mplp-default-deny" in {p.metadata.name for p in policies}

    pods = {p.metadata.name for p in core_api(kube).list_namespaced_pod(namespace).items}
    deployed = run(ansible, DEPLOY, namespace, platform_security=SECURITY)
    assert deployed.rc == 0, deployed.failure_messages()
    assert changed_tasks(deployed) == 0
    again = run(ansible, "playbooks/harden.yml", namespace, platform_security=SECURITY)
    assert again.rc == 0, again.failure_messages()
    assert task_result(again, HARDEN_APPLY)["changed"] is False
    assert changed_tasks(again) == 0
    assert {p.metadata.name for p in core_api(kube).list_namespaced_pod(namespace).items} == pods


def test_rollback_and_restart(ansible, kube, namespace):
    assert run(ansible, DEPLOY, namespace).rc == 0
    release2 = run(ansible, DEPLOY, namespace, deploy_component_overrides={"core": {"env": {"RELEASE": "2"}}})
    assert release2.rc == 0, release2.failure_messages()
    assert template_env(kube, namespace, "mplp-core") == {"RELEASE": "2"}

    rolled = run(ansible, "playbooks/rollback.yml", namespace, rollback_components=["core"])
    assert rolled.rc == 0, rolled.failure_messages()
    assert template_env(kube, namespace, "mplp-core") == {}
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert core.status.updated_replicas == core.status.ready_replicas == 2

    pods_before = {p.metadata.name for p in core_api(kube).list_namespaced_pod(namespace).items}
    restarted = run(ansible, "playbooks/restart.yml", namespace, restart_components=["plan"])
    assert restarted.rc == 0, restarted.failure_messages()
    pods_after = core_api(kube).list_namespaced_pod(namespace).items
    plan_pods = {p.metadata.name for p in pods_after if p.metadata.name.startswith("mplp-plan-")}
    core_pods = {p.metadata.name for p in pods_after if p.metadata.name.startswith("mplp-core-")}
    assert len(plan_pods) == 2 and not plan_pods & pods_before  # every plan pod replaced
    assert core_pods <= pods_before  # core untouched
    # the platform lock was given back
    leases = client.CoordinationV1Api(kube["us-east-1"]).list_namespaced_lease(namespace).items
    assert all(not lease.spec.holder_identity for lease in leases)


@pytest.mark.emulator_only
def test_a_long_rollout_is_waited_for_in_steps_that_show_what_is_waited_for(ansible, kube, namespace, faults):
    """A restart whose new pods take a while to become ready: the first step ends with the
    rollout still going, the rest of the wait goes in steps (a task retry each) that name the
    workloads, and the run succeeds once the pods are ready."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    faults.template_fault("us-east-1", namespace, "mplp-plan", "notready")  # the next pods are not ready

    def heal():  # past the restart's first step (2 s), the pods' readiness comes back
        deadline = time.monotonic() + 120
        while not module_running("k8s_rollout") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(5)
        patch = {"spec": {"template": {"metadata": {"annotations": {FAULT_ANNOTATION: None}}}}}
        apps(kube).patch_namespaced_deployment("mplp-plan", namespace, patch)

    healer = threading.Thread(target=heal)
    healer.start()
    try:
        restarted = run(
            ansible, "playbooks/restart.yml", namespace, restart_components=["plan"], ops_rollout_step=2
        )
    finally:
        healer.join()
    assert restarted.rc == 0, restarted.failure_messages()
    steps = restarted.results("Rollouts | still rolling out, waited for in steps: mplp-plan", "us-east-1")
    step = steps["results"][0]
    assert step["attempts"] >= 2 and step["workloads"][0]["status"]["done"], steps
    plan = apps(kube).read_namespaced_deployment("mplp-plan", namespace)
    assert plan.status.updated_replicas == plan.status.ready_replicas == 2


@pytest.mark.emulator_only
def test_upgrade_rolls_forward_and_rolls_back_a_release_that_never_becomes_ready(
    ansible, kube, namespace, faults, stack_facts
):
    assert run(ansible, DEPLOY, namespace).rc == 0
    # An Alertmanager that cannot be reached: the run warns that nothing is silenced and goes on.
    good = run(
        ansible,
        "playbooks/upgrade.yml",
        namespace,
        upgrade_version="1.0.1",
        upgrade_components=["core"],
        ops_alertmanager_url="http://127.0.0.1:1",
    )
    assert good.rc == 0, good.failure_messages()
    warning = good.results("Silence | could not be made", "us-east-1")["msg"]
    assert "could not be silenced during upgrade of core (1.0.1)" in warning and "127.0.0.1:1" in warning
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert core.spec.template.spec.containers[0].image == "mplp/core:1.0.1"
    assert (
        apps(kube)
        .read_namespaced_deployment("mplp-plan", namespace)
        .spec.template.spec.containers[0]
        .image.endswith(":1.0.0-alpha")
    )

    bad_tag = "1.0.2-broken-%s" % uuid.uuid4().hex[:6]
    faults.broken_image("us-east-1", "mplp/core:%s" % bad_tag)
    # The upgrade silences the platform's alerts while it works, under its lock, and expires the
    # silence when it fails; it also expires what an earlier run under the same lock left.
    am = stack_facts["monitoring"]["alertmanager"]
    matchers = {"platform": "mplp", "namespace": namespace}
    key = "%s/maops-lock-platform-%s" % (namespace, namespace)
    left = silence(am, matchers, "[maops:%s] upgrade by a run that died" % key)
    by_hand = silence(am, matchers, "someone's own silence")
    bad = run(
        ansible,
        "playbooks/upgrade.yml",
        namespace,
        upgrade_images={"core": bad_tag},
        upgrade_wait_timeout=8,
        ops_alertmanager_url=am,
        ops_silence_matchers=matchers,
    )
    assert bad.rc != 0
    made = [s for s in silences(am, namespace) if s["comment"].startswith("[maops:%s] upgrade of core" % key)]
    assert len(made) == 1 and made[0]["status"]["state"] == "expired", made
    assert {(m["name"], m["value"]) for m in made[0]["matchers"]} == set(matchers.items())
    starts, ends = (datetime.datetime.fromisoformat(made[0][k][:19]) for k in ("startsAt", "endsAt"))
    assert ends - starts <= datetime.timedelta(seconds=1800 + 5)  # the lock's duration at most
    states = {s["id"]: s["status"]["state"] for s in silences(am, namespace)}
    assert states[left] == "expired" and states[by_hand] == "active"
    message = " ".join(bad.failure_messages())
    assert "failed and was rolled back" in message and "mplp-core" in message
    assert "ImagePull" in message or "did not finish" in message
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert core.spec.template.spec.containers[0].image == "mplp/core:1.0.1"
    assert core.status.updated_replicas == core.status.ready_replicas == 2
    assert not core.status.unavailable_replicas


@pytest.mark.emulator_only
def test_emergency_recovery_restarts_only_what_fails(ansible, kube, namespace, faults, tmp_path):
    assert run(ansible, DEPLOY, namespace).rc == 0
    pods = core_api(kube).list_namespaced_pod(namespace).items
    sick = next(p.metadata.name for p in pods if p.metadata.name.startswith("mplp-core-"))
    plan_pods = {p.metadata.name for p in pods if p.metadata.name.startswith("mplp-plan-")}
    faults.pod_fault("us-east-1", namespace, sick, "crashloop", restarts=6)

    result = run(ansible, "playbooks/emergency_recovery.yml", namespace, ops_report_dir=str(tmp_path))
    assert result.rc == 0, result.failure_messages() or result.stdout[-3000:]
    report = json.loads((tmp_path / "emergency-us-east-1.json").read_text())
    assert [r["component"] for r in report["restarted"]] == ["core"]
    assert report["after"]["status"] == "healthy"
    assert "pod_crashloop" in {f["rule"] for f in report["before"]["findings"]}
    now = {p.metadata.name for p in core_api(kube).list_namespaced_pod(namespace).items}
    assert sick not in now
    assert plan_pods <= now  # plan was healthy: not restarted
    assert (tmp_path / "emergency-us-east-1.md").read_text().startswith("# Emergency recovery")


@pytest.mark.emulator_only
def test_emergency_recovery_restarts_the_database_first_and_waits_for_it(
    ansible, kube, namespace, faults, tmp_path
):
    """The database's pods are down (crash-looping) and so is a pod of the app: the database
    is restarted first and waited for, then the app (issue 13; the seeds' step 2)."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    pods = core_api(kube).list_namespaced_pod(namespace).items
    database = next(p for p in pods if p.metadata.name.startswith("mplp-postgresql-"))
    app = next(p for p in pods if p.metadata.name.startswith("mplp-core-"))
    faults.pod_fault("us-east-1", namespace, database.metadata.name, "crashloop", restarts=6)
    faults.pod_fault("us-east-1", namespace, app.metadata.name, "crashloop", restarts=6)

    # --check diagnoses and plans: the database first, then the app; nothing is touched.
    dry = run(ansible, "playbooks/emergency_recovery.yml", namespace, args=["--check"])
    assert dry.rc == 0, dry.failure_messages() or dry.stdout[-3000:]
    assert "restart: postgresql, core (the data tier first, one at a time)" in dry.stdout
    uids = {p.metadata.uid for p in core_api(kube).list_namespaced_pod(namespace).items}
    assert {database.metadata.uid, app.metadata.uid} <= uids

    result = run(ansible, "playbooks/emergency_recovery.yml", namespace, ops_report_dir=str(tmp_path))
    assert result.rc == 0, result.failure_messages() or result.stdout[-3000:]
    report = json.loads((tmp_path / "emergency-us-east-1.json").read_text())
    before = {(f["component"], f["rule"]) for f in report["before"]["findings"]}
    assert ("postgresql", "pod_crashloop") in before
    assert [(r["component"], r.get("role")) for r in report["restarted"]] == [
        ("postgresql", "database"),
        ("core", None),
    ]
    # One at a time: the database's restart was waited for (its new pod ready) before the app's.
    results = report["restart_results"]
    assert [r["name"] for r in results] == ["mplp-postgresql", "mplp-core"]
    assert results[0]["status"]["done"] is True and results[0]["status"]["ready"] == 1
    # The crash-looping pod of the StatefulSet was deleted and recreated (a rolling restart
    # would wait for it to be ready first); the app was restarted only once it was ready.
    new_database = core_api(kube).read_namespaced_pod(database.metadata.name, namespace)
    ready_since = next(c.last_transition_time for c in new_database.status.conditions if c.type == "Ready")
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    app_restarted = core.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]
    assert ready_since <= datetime.datetime.fromisoformat(app_restarted)
    now = {p.metadata.uid for p in core_api(kube).list_namespaced_pod(namespace).items}
    assert database.metadata.uid not in now and app.metadata.uid not in now
    assert report["not_restarted"] == [] and report["after"]["status"] == "healthy"


def break_every_new_pod(kube, namespace, patch, workload):
    """Make every new pod of ``workload`` crash-loop (a fault annotation on its template,
    through ``patch``, the AppsV1Api method of its kind) and wait for the first one."""
    broken = {"spec": {"template": {"metadata": {"annotations": {FAULT_ANNOTATION: "crashloop"}}}}}
    patch(workload, namespace, broken)
    deadline = time.monotonic() + 60
    while not any(
        p.metadata.name.startswith(workload + "-") and FAULT_ANNOTATION in (p.metadata.annotations or {})
        for p in core_api(kube).list_namespaced_pod(namespace).items
    ):
        assert time.monotonic() < deadline, "no crash-looping pod of %s" % workload
        time.sleep(0.5)


def recover_briefly(ansible, namespace, tmp_path):
    """emergency_recovery.yml waiting 5 s for each restart: its run and its JSON report."""
    result = run(
        ansible,
        "playbooks/emergency_recovery.yml",
        namespace,
        ops_report_dir=str(tmp_path),
        recovery_wait_timeout=5,
    )
    return result, json.loads((tmp_path / "emergency-us-east-1.json").read_text())


@pytest.mark.emulator_only
def test_emergency_recovery_leaves_the_app_alone_when_the_database_does_not_come_back(
    ansible, kube, namespace, faults, tmp_path
):
    """Every new pod of the database crash-loops too: the recovery waits for it, stops there,
    does not restart the app (it cannot work without its database) and says so."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    # The rolling update replaces the (ready) pod with one that crash-loops.
    break_every_new_pod(kube, namespace, apps(kube).patch_namespaced_stateful_set, "mplp-postgresql")
    pods = core_api(kube).list_namespaced_pod(namespace).items
    app = next(p for p in pods if p.metadata.name.startswith("mplp-core-"))
    faults.pod_fault("us-east-1", namespace, app.metadata.name, "crashloop", restarts=6)

    result, report = recover_briefly(ansible, namespace, tmp_path)
    assert result.rc != 0
    assert ("postgresql", "pod_crashloop") in {
        (f["component"], f["rule"]) for f in report["before"]["findings"]
    }
    # The database was restarted (its pod recreated) and waited for; the app was not.
    assert [r["component"] for r in report["restarted"]] == ["postgresql"]
    [error] = report["restart_errors"]
    assert "the application was not restarted" in error and "database" in error
    message = " ".join(result.failure_messages())
    assert "the application was not restarted" in message
    now = {p.metadata.uid for p in core_api(kube).list_namespaced_pod(namespace).items}
    assert app.metadata.uid in now  # the app's crash-looping pod was left alone
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert "kubectl.kubernetes.io/restartedAt" not in (core.spec.template.metadata.annotations or {})


@pytest.mark.emulator_only
def test_emergency_recovery_reports_a_restart_that_does_not_cure(ansible, kube, namespace, tmp_path):
    """Every new pod of the app crash-loops: the restart is tried and waited for, its failure
    is in the report's restart_errors (not hidden), and the run fails still unhealthy."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    break_every_new_pod(kube, namespace, apps(kube).patch_namespaced_deployment, "mplp-plan")

    result, report = recover_briefly(ansible, namespace, tmp_path)
    assert result.rc != 0
    assert [r["component"] for r in report["restarted"]] == ["plan"]
    [error] = report["restart_errors"]
    assert "mplp-plan" in error
    assert report["after"]["status"] != "healthy"
    assert "still " in " ".join(result.failure_messages())


@pytest.mark.global_state
@pytest.mark.emulator_only
def test_upgrade_whose_verification_fails_is_rolled_back(ansible, kube, namespace, faults):
    """The new pods become ready, but the component's health endpoint fails afterwards:
    the post-upgrade verification fails and the previous release is put back."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    faults.endpoint("us-east-1", "/api/v1/core/health", "error", status=500)
    bad = run(
        ansible, "playbooks/upgrade.yml", namespace, upgrade_version="1.0.1", upgrade_components=["core"]
    )
    assert bad.rc != 0
    message = " ".join(bad.failure_messages())
    assert "failed and was rolled back" in message
    assert "Verify | the platform is healthy" in message and "core" in message
    assert "mplp-core to revision 1" in message
    core = apps(kube).read_namespaced_deployment("mplp-core", namespace)
    assert core.spec.template.spec.containers[0].image == "mplp/core:1.0.0-alpha"
    assert core.status.updated_replicas == core.status.ready_replicas == 2


def test_a_deploy_during_maintenance_is_refused_until_it_is_disabled(ansible, kube, namespace):
    assert run(ansible, DEPLOY, namespace).rc == 0
    enabled = run(
        ansible, "playbooks/maintenance.yml", namespace, maintenance_action="enable", ops_force=True
    )
    assert enabled.rc == 0, enabled.failure_messages()
    selector = core_api(kube).read_namespaced_service("mplp-core", namespace).spec.selector

    refused = run(ansible, DEPLOY, namespace)
    assert refused.rc != 0
    message = " ".join(refused.failure_messages())
    assert "Cannot apply the batch: " in message and "; nothing was changed" in message
    assert "Service %s/mplp-core carries multiagent.ops/recorded-selector" % namespace in message
    assert "Deployment %s/mplp-core carries multiagent.ops/recorded-replicas" % namespace in message
    assert core_api(kube).read_namespaced_service("mplp-core", namespace).spec.selector == selector
    assert apps(kube).read_namespaced_deployment("mplp-plan", namespace).spec.replicas == 0

    disabled = run(ansible, "playbooks/maintenance.yml", namespace, maintenance_action="disable")
    assert disabled.rc == 0, disabled.failure_messages()
    again = run(ansible, DEPLOY, namespace)
    assert again.rc == 0, again.failure_messages()
    assert changed_tasks(again) == 0


@pytest.mark.global_state
@pytest.mark.emulator_only
def test_an_upgrade_that_loses_the_api_says_the_cluster_may_be_half_upgraded(
    ansible, kube, namespace, faults
):
    """The API server goes away while the upgrade waits for its rollout and stays away
    through the rollback: the run must not claim a rollback it could not do."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    bad_tag = "1.0.3-broken-%s" % uuid.uuid4().hex[:6]
    faults.broken_image("us-east-1", "mplp/core:%s" % bad_tag)
    outcome = {}

    def upgrade():
        outcome["run"] = run(
            ansible,
            "playbooks/upgrade.yml",
            namespace,
            upgrade_images={"core": bad_tag},
            upgrade_wait_timeout=6,
            k8s_api_timeout=8,
        )

    worker = threading.Thread(target=upgrade)
    worker.start()
    deadline = time.monotonic() + 120
    while not module_running("k8s_apply"):
        assert time.monotonic() < deadline, "the upgrade never reached its apply"
        time.sleep(0.2)
    time.sleep(2.5)  # written; now waiting for the rollout
    # Longer than a call's api_timeout (the inventory's k8s_api_timeout, 8 s, retries included)
    # after the wait gives up: the rollback's reads are retried that long before they fail.
    faults.api_outage("us-east-1", seconds=20)
    worker.join(timeout=300)
    result = outcome["run"]
    assert result.rc != 0
    message = " ".join(result.failure_messages())
    assert "and rolling it back failed too" in message
    assert "may run the new release" in message and "rollback.yml" in message
    assert "failed and was rolled back" not in message


@pytest.mark.emulator_only
def test_a_failed_upgrade_stops_before_the_next_region(ansible, kube, namespace, faults):
    """Changing runbooks go one cluster at a time: the first region's failure (rolled back)
    stops the run before the second region is touched."""
    extra = {"platform_namespace": namespace, "platform_components": PLATFORM}
    try:
        deployed = ansible(DEPLOY, extra_vars=extra)
        assert deployed.rc == 0, deployed.failure_messages()
        bad_tag = "2.0.0-broken-%s" % uuid.uuid4().hex[:6]
        faults.broken_image("us-east-1", "mplp/core:%s" % bad_tag)
        upgraded = ansible(
            "playbooks/upgrade.yml",
            extra_vars=dict(extra, upgrade_images={"core": bad_tag}, upgrade_wait_timeout=6),
        )
        assert upgraded.rc != 0
        assert "eu-west-1" not in upgraded.data["stats"] or upgraded.data["stats"]["eu-west-1"]["ok"] == 0
        for cluster in ("us-east-1", "eu-west-1"):
            core = client.AppsV1Api(kube[cluster]).read_namespaced_deployment("mplp-core", namespace)
            assert core.spec.template.spec.containers[0].image == "mplp/core:1.0.0-alpha", cluster
    finally:
        try:
            client.CoreV1Api(kube["eu-west-1"]).delete_namespace(namespace)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def test_a_deploy_keeps_the_range_scale_yml_gave_the_autoscaler(ansible, kube, namespace):
    """An operator raised core's floor for a traffic peak; an upgrade meanwhile must not
    shrink it back. Restoring the HPA hands the inventory's range back to the deploy."""
    assert run(ansible, DEPLOY, namespace).rc == 0
    scaled = run(ansible, "playbooks/scale.yml", namespace, scale_component="core", scale_replicas=4)
    assert scaled.rc == 0, scaled.failure_messages()
    hpas = client.AutoscalingV2Api(kube["us-east-1"])
    assert hpas.read_namespaced_horizontal_pod_autoscaler("mplp-core", namespace).spec.min_replicas == 4

    again = run(ansible, DEPLOY, namespace)
    assert again.rc == 0, again.failure_messages()
    assert changed_tasks(again) == 0
    hpa_result = next(
        r for r in again.results(APPLY_TASK, "us-east-1")["results"] if r["kind"] == "HorizontalPodAutoscaler"
    )
    assert hpa_result["held"] == ["spec.minReplicas", "spec.maxReplicas"]
    assert hpas.read_namespaced_horizontal_pod_autoscaler("mplp-core", namespace).spec.min_replicas == 4

    restored = run(ansible, "playbooks/scale.yml", namespace, scale_component="core", scale_restore_hpa=True)
    assert restored.rc == 0, restored.failure_messages()
    assert hpas.read_namespaced_horizontal_pod_autoscaler("mplp-core", namespace).spec.min_replicas == 2
    assert changed_tasks(run(ansible, DEPLOY, namespace)) == 0
