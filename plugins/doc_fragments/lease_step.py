# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The ``lease`` option of the long steps (the backup and restore modules):
    module_utils/k8s/module.py lease_argspec() and lease_keeper()."""

    DOCUMENTATION = r"""
options:
  lease:
    description:
      - The Lease lock (M(multiagent.ops.lease)) the run holds on what this step works on. The
        module keeps it for the whole step, so that the lock can have a short duration and a run
        that is cancelled or killed frees it soon.
      - "Before anything starts the Lease is renewed (or, with O(lease.renew=false), read); when it
        is no longer the run's the task fails: nothing was changed."
      - While the step runs, a thread renews it every third of its duration. When it finds the
        Lease held by someone else (ours went stale and was taken over) the step is cancelled as a
        SIGTERM cancels it (files removed, tools stopped) and the task fails naming the new holder.
      - Not used in check mode.
    type: dict
    suboptions:
      name:
        description: Name of the Lease.
        type: str
        required: true
      namespace:
        description: Namespace of the Lease.
        type: str
        required: true
      holder:
        description: The run's holder identity (as it took the Lease).
        type: str
        required: true
      duration:
        description:
          - Seconds each renewal lasts; default the Lease's own C(leaseDurationSeconds).
        type: int
      renew:
        description:
          - "V(false) for a step run C(async), whose run renews the Lease while it polls. The module
            then only watches the Lease, and stops also when it expires: the run stopped renewing it
            because it ended, and the step must not outlive it."
        type: bool
        default: true
      kubeconfig:
        description:
          - The kubeconfig to reach the Lease's cluster (a path, or its content as a dictionary), as
            kubernetes.core's C(kubeconfig) option; default the module's own Kubernetes options where it has
            them (they also apply), else kubernetes.core's environment variables and defaults.
        type: raw
      context:
        description: The kubeconfig context to use; default as for O(lease.kubeconfig).
        type: str
"""
