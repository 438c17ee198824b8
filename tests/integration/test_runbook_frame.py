"""The runbook frame (playbooks/_runbook.yml) refuses to run on no cluster at all.

A host pattern that matches nothing (a typo in ops_hosts, a --limit that leaves none of
them, an inventory that was not parsed) used to end green after checking nothing. These
runs stop before any cluster is contacted, so they need no platform."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ANSIBLE_PLAYBOOK, INVENTORY, ROOT, local_stack

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

HEALTH = "playbooks/health_check.yml"
SCALE = "playbooks/scale.yml"


def matched_nothing(run):
    messages = " ".join(run.failure_messages())
    assert run.rc != 0, run.stdout[-2000:]
    return messages


@pytest.mark.parametrize("playbook", [HEALTH, SCALE])
def test_a_typo_in_ops_hosts_fails_naming_the_pattern_and_the_clusters(ansible, playbook):
    run = ansible(playbook, extra_vars={"ops_hosts": "us-east1"})
    messages = matched_nothing(run)
    assert "ops_hosts 'us-east1' matches no host of the inventory" in messages, messages
    assert "The inventory has: us-east-1, eu-west-1." in messages, messages
    assert "Look at the platform" not in run.stdout  # stopped before the procedure


def test_a_limit_that_leaves_none_of_the_clusters_fails(ansible):
    run = ansible(HEALTH, limit="us-east-1", extra_vars={"ops_hosts": "eu-west-1"})
    messages = matched_nothing(run)
    assert "ops_hosts 'eu-west-1' matches no host of the inventory within --limit us-east-1" in messages


def test_a_list_of_clusters_is_a_pattern_too(ansible):
    run = ansible(HEALTH, limit="us-east-1", extra_vars={"ops_hosts": ["us-east-1", "eu-west-1"]})
    assert "matches no host" not in " ".join(run.failure_messages())
    assert run.results(
        "Look at the platform (workloads, pods, events, endpoints, database, cache)", "us-east-1"
    )


def test_an_inventory_that_parsed_nothing_fails(ansible, tmp_path):
    """What AWX got while ansible.cfg disabled its script inventory: no hosts at all."""
    empty = tmp_path / "empty.yml"
    empty.write_text("all: {}\n")
    run = ansible(HEALTH, inventory=empty)
    messages = matched_nothing(run)
    assert "The inventory has: no hosts at all (was it parsed?" in messages, messages


def test_a_script_inventory_as_awx_writes_it_is_read(ansible, tmp_path):
    """AWX imports an inventory with ansible-inventory --list and hands each job a script
    that prints it; the project's ansible.cfg must let the script plugin read it."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    listed = subprocess.run(
        [str(Path(ANSIBLE_PLAYBOOK).parent / "ansible-inventory"), "-i", INVENTORY, "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    script = tmp_path / "hosts"
    script.write_text(
        "#!%s\nimport sys\nsys.stdout.write(%r if '--list' in sys.argv else '{}')\n"
        % (sys.executable, listed)
    )
    script.chmod(0o700)
    # A script has no inventory_dir next to group_vars: the demo inventory finds the local
    # stack through MAOPS_STACK_DIR then, as an AWX job gets it from its environment.
    stack_dir = {"MAOPS_STACK_DIR": str(local_stack.STATE)}
    run = ansible(HEALTH, limit="us-east-1", inventory=script, env=stack_dir)
    assert "matches no host" not in " ".join(run.failure_messages())
    report = run.report("us-east-1")
    assert report["api_error"] is None and len(report["components"]) > 0, report
