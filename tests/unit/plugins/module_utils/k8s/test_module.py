"""k8s/module.py make_client: the collection's own client unless the configuration needs the
kubernetes library, which it then asks for."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.doc_fragments.lease_step import (
    ModuleDocFragment as LeaseStepFragment,
)
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import lease as leases
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources, wire
from ansible_collections.multiagent.ops.plugins.module_utils.pg import module as pg_module
from ansible_collections.multiagent.ops.plugins.module_utils.redis import module as redis_module
from ansible_collections.multiagent.ops.plugins.modules import (
    lease,
    postgresql_backup,
    postgresql_restore,
    redis_backup,
    redis_restore,
)
from tests.unit import fakes
from tests.unit.fakes import FakeModule

KUBECONFIG = {
    "current-context": "c",
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    "clusters": [{"name": "k", "cluster": {"server": "http://127.0.0.1:9"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
}


class Module(FakeModule):
    def __init__(self, **params):
        super().__init__(lease, **params)
        self.required = []

    def requires(self, name):
        self.required.append(name)


def test_a_token_kubeconfig_gets_the_collections_client_without_the_library():
    module = Module(kubeconfig=KUBECONFIG, api_timeout=7)
    client = k8s_module.make_client(module)
    assert isinstance(client.api, wire.Session) and module.required == []
    assert (client.host, client.timeout) == ("http://127.0.0.1:9", 7)
    assert client._headers("application/json")["Authorization"] == "Bearer t"


def test_an_exec_plugin_or_a_pod_exec_use_kubernetes_cores_client(monkeypatch):
    api_client = SimpleNamespace(configuration=SimpleNamespace(host="https://core:6443"))
    made = []

    def core_client(module):
        made.append(module)
        return SimpleNamespace(client=SimpleNamespace(client=api_client))

    monkeypatch.setattr(k8s_module, "get_api_client", core_client)
    exec_user = dict(KUBECONFIG, users=[{"name": "u", "user": {"exec": {"command": "aws"}}}])
    for module, library in ((Module(kubeconfig=exec_user), False), (Module(kubeconfig=KUBECONFIG), True)):
        client = k8s_module.make_client(module, library=library)
        assert client.api is api_client and client.host == "https://core:6443"
        assert module.required == ["kubernetes"] and made[-1] is module


def test_a_configuration_that_cannot_be_used_is_a_config_error_with_its_reason():
    with pytest.raises(k8s_module.CONFIG_ERRORS) as err:
        k8s_module.make_client(Module(kubeconfig={"contexts": []}))
    assert k8s_module.connection_error(None, err.value) == (
        "Cannot use the Kubernetes configuration: "
        "the kubeconfig names no current-context and no context was given"
    )


def test_making_the_client_does_not_import_the_kubernetes_library(tmp_path):
    """The point of the collection's client: a module call does not pay for the import."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    script = textwrap.dedent(
        """
        import json, sys
        from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module
        from ansible_collections.multiagent.ops.plugins.modules import lease
        from tests.unit.fakes import FakeModule
        module = FakeModule(lease, kubeconfig=json.loads(sys.argv[1]))
        k8s_module.make_client(module)
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(KUBECONFIG)],
        cwd=os.path.dirname(root),
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []


# --- the lease option of the long steps ------------------------------------------------------
STEPS = [postgresql_backup, postgresql_restore, redis_backup, redis_restore]
LEASE_PATH = resources.LEASE.object_path("ns", "lock")


def lease_of(holder, renewed_ago=0.0, duration=3):
    stamp = leases.micro_time(leases.utc_now() - datetime.timedelta(seconds=renewed_ago))
    return {
        "metadata": {"name": "lock", "namespace": "ns", "resourceVersion": "1"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }


def step_module(step, check_mode=False, lease=None, **params):
    given = dict(name="lock", namespace="ns", holder="me", duration=3, renew=True)
    given.update(lease or {})
    params = dict({"host": "redis.example", "dest": "/b", "archive": "/a"}, **params)
    return FakeModule(step, check_mode=check_mode, lease=given, **params)


def suboptions(options):
    keys = ("type", "default", "required")
    return {name: {k: o[k] for k in keys if o.get(k) not in (None, False)} for name, o in options.items()}


@pytest.mark.parametrize("step", STEPS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_long_step_takes_the_lease_option_documented_once(step):
    doc = yaml.safe_load(step.DOCUMENTATION)
    assert "multiagent.ops.lease_step" in doc["extends_documentation_fragment"]
    assert "lease" not in doc["options"]
    assert step.argspec()["lease"] == k8s_module.lease_argspec()["lease"]


def test_the_fragment_documents_the_lease_option_as_the_argspec_says():
    documented = yaml.safe_load(LeaseStepFragment.DOCUMENTATION)["options"]["lease"]
    spec = k8s_module.lease_argspec()["lease"]
    assert documented["type"] == spec["type"] == "dict"
    assert suboptions(documented["suboptions"]) == suboptions(
        {name: dict(o, type=o.get("type", "str")) for name, o in spec["options"].items()}
    )


def test_no_lease_or_check_mode_keeps_no_lease():
    assert k8s_module.lease_keeper(FakeModule(redis_backup, host="r", dest="/b")) is None
    assert k8s_module.lease_keeper(step_module(redis_backup, check_mode=True)) is None


def test_the_lease_is_reached_with_its_own_kubeconfig_first_then_the_modules():
    module = step_module(postgresql_backup, kubeconfig="/module", context="m", api_timeout=9)
    assert k8s_module.lease_connection(module.params)["kubeconfig"] == "/module"
    module.params["lease"].update(kubeconfig="/lease", context="l")
    conn = k8s_module.lease_connection(module.params)
    assert (conn["kubeconfig"], conn["context"], conn["api_timeout"]) == ("/lease", "l", 9)
    # the Redis modules' host and password are Redis's, never the cluster's
    redis = step_module(redis_backup, password="secret")
    conn = k8s_module.lease_connection(redis.params)
    assert conn["host"] is None and conn["password"] is None and conn["api_timeout"] == 30


def fake_cluster(monkeypatch, lease):
    api = fakes.FakeApi({LEASE_PATH: lease} if lease else {})
    made = []

    def make_client(module, library=False, params=None):
        made.append(params)
        return api

    monkeypatch.setattr(k8s_module, "make_client", make_client)
    return api, made


def run_step(module, runner, main):
    with pytest.raises(fakes.Exit):
        main(module, runner)
    return module.result


@pytest.mark.parametrize("main", [pg_module.main, redis_module.main], ids=["postgresql", "redis"])
def test_the_step_renews_the_lease_while_it_runs(monkeypatch, main):
    api, made = fake_cluster(monkeypatch, lease_of("me", renewed_ago=1))
    before = api.objects[LEASE_PATH]["spec"]["renewTime"]
    seen = []

    def runner(request, *args):
        seen.append(api.objects[LEASE_PATH]["spec"]["renewTime"])  # renewed before it starts
        time.sleep(1.5)  # the thread renews it every second (a third of 3 s)
        seen.append(api.objects[LEASE_PATH]["spec"]["renewTime"])
        return {"changed": True}

    result = run_step(step_module(redis_backup), runner, main)
    assert result == {"changed": True, "failed": False}
    assert before < seen[0] < seen[1] and made and made[0]["api_timeout"] == 30


@pytest.mark.parametrize("main", [pg_module.main, redis_module.main], ids=["postgresql", "redis"])
def test_a_lease_taken_over_mid_step_cancels_it_naming_the_new_holder(monkeypatch, main):
    api, _ = fake_cluster(monkeypatch, lease_of("me"))
    cleaned = []

    def runner(request, *args):
        api.put_object(LEASE_PATH, lease_of("bob"))  # ours went stale, bob took it
        try:
            time.sleep(10)
        finally:
            cleaned.append(True)  # the way out runs, as for a SIGTERM
        return {"changed": True}

    started = time.monotonic()
    result = run_step(step_module(redis_backup), runner, main)
    assert time.monotonic() - started < 5 and cleaned == [True]
    assert result["failed"] and result["msg"] == (
        "cancelled (lease ns/lock was taken over by bob (the lease of me went stale))"
    )
    assert api.objects[LEASE_PATH]["spec"]["holderIdentity"] == "bob"


def test_a_lease_lost_before_the_step_starts_fails_it_before_anything_is_done(monkeypatch):
    fake_cluster(monkeypatch, lease_of("bob"))
    ran = []
    result = run_step(step_module(redis_backup), lambda request: ran.append(1), redis_module.main)
    assert ran == [] and result["failed"] and result["changed"] is False
    assert result["msg"] == (
        "lease ns/lock was taken over by bob (the lease of me went stale); nothing was changed"
    )


def test_an_async_step_only_watches_and_stops_once_its_run_stops_renewing(monkeypatch):
    api, _ = fake_cluster(monkeypatch, lease_of("me", duration=2))
    writes = []
    monkeypatch.setattr(api, "send", lambda *a, **k: writes.append(a) or (200, {}))

    def runner(request, *args):
        time.sleep(10)  # nobody renews: the Lease expires after 2 s

    started = time.monotonic()
    module = step_module(redis_backup, lease={"renew": False, "duration": None})
    result = run_step(module, runner, redis_module.main)
    assert 1.5 < time.monotonic() - started < 5 and writes == []
    assert result["msg"].startswith("cancelled (lease ns/lock of me was not renewed since ")
    assert result["msg"].endswith(": the run that renews it ended)")


def test_a_connection_that_cannot_be_made_fails_the_step_before_it_starts(monkeypatch):
    def make_client(module, library=False, params=None):
        raise k8s_module.k8s_config.ConfigError("no such context: x")

    monkeypatch.setattr(k8s_module, "make_client", make_client)
    result = run_step(step_module(redis_backup), lambda request: {"changed": True}, redis_module.main)
    assert result["failed"] and result["changed"] is False
    assert result["msg"] == "Cannot use the Kubernetes configuration: no such context: x"
