"""The lease action's check that the run waiting for an async job is still there."""

import types

from ansible_collections.multiagent.ops.plugins.action import lease


def test_a_worker_whose_parent_is_its_starter_renews():
    assert lease.controller_alive(types.SimpleNamespace(pid=4242), ppid=4242) is True


def test_a_worker_orphaned_by_a_killed_ansible_playbook_does_not():
    # reparented to init (or a subreaper) once ansible-playbook was killed
    assert lease.controller_alive(types.SimpleNamespace(pid=4242), ppid=1) is False


def test_outside_a_worker_there_is_nothing_to_tell():
    assert lease.controller_alive() is True  # pytest's process was not started by multiprocessing
