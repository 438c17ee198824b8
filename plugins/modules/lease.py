#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: lease
short_description: Hold a lock in the cluster as a coordination.k8s.io/v1 Lease
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
description:
  - Acquires, renews or releases a Lease that stands for a lock on one target (a
    database, a namespace), so that two operators, an AWX job and a CronJob never restore,
    back up or upgrade the same target at once.
  - "O(state=acquired): creates the Lease, renews it when O(holder) already holds it, takes
    it over when it is free or stale (not renewed within its duration; C(leaseTransitions)
    counts the hand-overs), and otherwise waits up to O(wait_timeout) seconds, then fails
    naming the holder, what it is doing and when its Lease expires."
  - "O(state=released): clears the holder when O(holder) holds the Lease; a Lease held by
    someone else is left alone (and reported)."
  - "With O(job) (O(state=acquired)): keeps the holder's Lease while an async task (started
    with C(poll: 0)) runs: renews it at once and then every third of O(duration), while
    waiting up to O(job_wait) seconds for the job's status file to say it finished (then
    collect its result with M(ansible.builtin.async_status)). Call it in an C(until) loop;
    a step that only watches its Lease (C(lease.renew=false)) then stops once the run that
    renews it is cancelled or killed. Fails, naming the new holder, when the Lease is not
    O(holder)'s any more, and fails without renewing when the ansible-playbook run that
    waits is gone (killed: its worker would otherwise retry on, keeping the job alive)."
  - Writes carry the Lease's resourceVersion, so contenders racing for a free Lease cannot
    both win.
  - Times are taken from the controller's clock.
options:
  namespace:
    description: Namespace of the Lease.
    type: str
    required: true
  fallback_namespace:
    description:
      - Namespace that holds the Lease while O(namespace) does not exist yet, for a run
        that creates it (a first deploy).
      - Once O(namespace) exists the Lease is taken there, but not while another holder
        still has the Lease of the same name in O(fallback_namespace) (a run that started
        before the namespace was created); O(state=released) gives back the holder's Lease
        in both.
    type: str
  name:
    description: Name of the Lease, one per target (for example C(maops-lock-db-mplp-production)).
    type: str
    required: true
  holder:
    description: Identity of the holder; the same value must be used to renew and release.
    type: str
    required: true
  state:
    description: C(acquired) or C(released).
    type: str
    default: acquired
    choices: [acquired, released]
  duration:
    description: Seconds the Lease lasts without renewal; a holder that dies frees it after this.
    type: int
    default: 600
  purpose:
    description: What the holder does, shown to whoever has to wait.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for a Lease someone else holds before failing.
      - This is a lock wait, not a rollout wait; the default C(0) looks once and fails at
        once when another holder has the Lease.
    type: int
    default: 0
  poll_interval:
    description: Seconds between looks while waiting (for the Lease, or for O(job)).
    type: float
    default: 2
  job:
    description:
      - The C(ansible_job_id) of an async task on the host that runs this module, whose
        end to wait for while renewing the Lease (see the description).
    type: str
  job_wait:
    description: With O(job), seconds to wait for it in this call; C(job_finished) says whether it ended.
    type: int
    default: 15
  async_dir:
    description:
      - With O(job), the directory of Ansible's async job status files, as
        M(ansible.builtin.async_status) finds it (the C(async_dir) shell option).
      - By default the async_dir shell option, as M(ansible.builtin.async_status) finds it
        (C(ANSIBLE_ASYNC_DIR), C(ansible_async_dir), else C(~/.ansible_async)).
    type: path
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - multiagent.ops.k8s
attributes:
  check_mode:
    support: full
    description: Reads the Lease and reports what would be done, without writing.
  diff_mode:
    support: full
    description: Shows the holder before and after.
requirements:
  - python >= 3.11 (on the host that runs the module)
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Lock the database for the restore (wait up to 10 minutes for another run)
  multiagent.ops.lease:
    namespace: mplp-production
    name: maops-lock-db-mplp-production
    holder: "{{ _run_id }}"
    purpose: restore_database.yml by {{ lookup('env', 'USER') }}
    duration: 900
    wait_timeout: 600

- name: Dump the database async; the dump stops once its Lease is no longer renewed
  multiagent.ops.postgresql_backup:
    databases: [platform]
    dest: /backups
    lease:
      name: maops-lock-db-mplp-production
      namespace: mplp-production
      holder: "{{ _run_id }}"
      renew: false
  async: 21600
  poll: 0
  register: dump

- name: Wait for the dump, renewing its Lease (one line per retry while it runs)
  multiagent.ops.lease:
    namespace: mplp-production
    name: maops-lock-db-mplp-production
    holder: "{{ _run_id }}"
    duration: 120
    job: "{{ dump.ansible_job_id }}"
    job_wait: 15
  register: poll
  until: poll.job_finished or poll is failed
  retries: 1440
  delay: 0

- name: Collect the dump's result
  ansible.builtin.async_status:
    jid: "{{ dump.ansible_job_id }}"
  register: dump

- name: Release it
  multiagent.ops.lease:
    namespace: mplp-production
    name: maops-lock-db-mplp-production
    holder: "{{ _run_id }}"
    state: released
"""

RETURN = r"""
operation:
  description: C(create), C(renew) (also with O(job)), C(take_over), C(release), or for nothing done C(absent), C(not_held), C(held_by_other).
  returned: always
  type: str
  sample: take_over
namespace:
  description: The namespace of the Lease the call acted on (O(namespace) or O(fallback_namespace)).
  returned: always
  type: str
  sample: mplp-production
lease:
  description: The Lease after the call.
  returned: always
  type: dict
  contains:
    holder:
      description: Holder identity, null when free.
      type: str
    acquired_at:
      description: When the holder acquired it.
      type: str
    renewed_at:
      description: Last renewal.
      type: str
    expires_at:
      description: When it goes stale without renewal.
      type: str
    duration_seconds:
      description: Lease duration.
      type: int
    transitions:
      description: Hand-overs between holders.
      type: int
    purpose:
      description: What the holder does.
      type: str
    expired:
      description: Whether it is free or stale.
      type: bool
previous_holder:
  description: The holder whose stale Lease was taken over, or who holds it when releasing someone else's.
  returned: when there was one
  type: str
job:
  description: The async job waited for (O(job)).
  returned: with O(job)
  type: str
job_finished:
  description: Whether the async job O(job) has finished (collect its result with M(ansible.builtin.async_status)).
  returned: with O(job)
  type: bool
renewals:
  description: How many times the Lease was renewed while waiting for O(job).
  returned: with O(job)
  type: int
waited_seconds:
  description: Seconds spent waiting for the Lease (or, with O(job), for the job).
  returned: always
  type: float
"""

from ansible.module_utils.basic import env_fallback

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import lease
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as k8s_module


def argspec():
    return k8s_module.argspec(
        namespace=dict(type="str", required=True),
        fallback_namespace=dict(type="str"),
        name=dict(type="str", required=True),
        holder=dict(type="str", required=True),
        state=dict(type="str", default=lease.ACQUIRED, choices=list(lease.STATES)),
        duration=dict(type="int", default=600),
        purpose=dict(type="str"),
        wait_timeout=dict(type="int", default=0),
        poll_interval=dict(type="float", default=2),
        job=dict(type="str"),
        job_wait=dict(type="int", default=15),
        # no default here: it would win over the fallback (async_job.DEFAULT_DIR applies)
        async_dir=dict(type="path", fallback=(env_fallback, ["ANSIBLE_ASYNC_DIR"])),
    )


def main():
    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, lease.run)


if __name__ == "__main__":
    main()
