"""multiagent.ops.lease against the cluster: contention, stale takeover, release."""

import time

import pytest
from conftest import create_namespace, delete_namespace

pytestmark = [pytest.mark.integration, pytest.mark.parallel]
LEASE = "tests/integration/playbooks/lease.yml"


@pytest.fixture(scope="module")
def lease_ns(kube):
    namespace = create_namespace(kube, "it-lease")
    yield namespace
    delete_namespace(kube, namespace)


def call(ansible, ns, name, holder, **more):
    extra = {"lease_namespace": ns, "lease_name": name, "lease_holder": holder}
    extra.update({"lease_%s" % k: v for k, v in more.items()})
    run = ansible(LEASE, limit="us-east-1", extra_vars=extra)
    return run, run.results("Lease call", "us-east-1")


def test_second_holder_waits_then_fails_naming_the_first(ansible, lease_ns):
    run, first = call(ansible, lease_ns, "db", "alice", purpose="restore_database.yml")
    assert run.rc == 0 and first["operation"] == "create" and first["changed"] is True
    run, second = call(ansible, lease_ns, "db", "bob", wait=2)
    assert run.rc != 0
    assert second["msg"].startswith("lease %s/db is held by alice (restore_database.yml) since" % lease_ns)
    assert "gave up after waiting 2s" in second["msg"]
    run, renewed = call(ansible, lease_ns, "db", "alice")
    assert renewed["operation"] == "renew"
    run, other = call(ansible, lease_ns, "db", "bob", state="released")
    assert other["operation"] == "held_by_other" and other["changed"] is False
    run, released = call(ansible, lease_ns, "db", "alice", state="released")
    assert released["operation"] == "release" and released["lease"]["holder"] is None
    run, bob = call(ansible, lease_ns, "db", "bob")
    assert run.rc == 0 and bob["operation"] == "take_over" and "previous_holder" not in bob


def test_stale_lease_is_taken_over(ansible, lease_ns):
    run, first = call(ansible, lease_ns, "stale", "crashed-run", duration=1)
    assert run.rc == 0
    time.sleep(1.5)
    run, taken = call(ansible, lease_ns, "stale", "rescuer")
    assert run.rc == 0, taken
    assert taken["operation"] == "take_over" and taken["previous_holder"] == "crashed-run"
    assert taken["lease"]["transitions"] == 1
