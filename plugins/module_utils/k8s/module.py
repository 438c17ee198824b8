# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue every Kubernetes module of this collection shares: kubernetes.core's module
class and authentication options, the collection's own shared options (doc fragments
``multiagent.ops.k8s`` and ``multiagent.ops.wait``), a Client on kubernetes.core's
configured client, and failures turned into messages that name the cause.

A module's ``main()``::

    module = k8s_module.new_module(argspec(), supports_check_mode=True)
    k8s_module.main(module, runner.run)
"""

from __future__ import annotations

import copy
import os

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import config as k8s_config
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import lease as leases
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import wire
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, Client, classify

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # pragma: no cover - kubernetes.core >= 2.4 ships these
    AnsibleK8SModule = None

    class CoreException(Exception):
        pass


# One default per meaning, documented in the doc fragments of the same names.
API_TIMEOUT = 30
WAIT_TIMEOUT = 300
K8S_OPTIONS = dict(api_timeout=dict(type="float", default=API_TIMEOUT))
WAIT_OPTIONS = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=WAIT_TIMEOUT),
)


# The ``lease`` option of the long steps (backups and restores; doc fragment
# ``multiagent.ops.lease_step``). Its own kubeconfig and context, because the Redis modules'
# connection options (host, username, password, validate_certs) have the names of
# kubernetes.core's; a module that has kubernetes.core's options uses them otherwise.
LEASE_OPTIONS = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    holder=dict(type="str", required=True),
    duration=dict(type="int"),
    renew=dict(type="bool", default=True),
    kubeconfig=AUTH_ARG_SPEC["kubeconfig"],
    context=AUTH_ARG_SPEC["context"],
)


def lease_argspec():
    """The ``lease`` option: the Lease the run holds on the step's target."""
    return dict(lease=dict(type="dict", options=copy.deepcopy(LEASE_OPTIONS)))


def lease_connection(params):
    """The options of the client of the ``lease`` option: the module's Kubernetes options
    where it has them (else unset: kubernetes.core's environment variables and defaults),
    with the lease's own kubeconfig and context first."""
    lease = params["lease"]
    # argspec() gives api_timeout with kubernetes.core's options: without it, a "host" or a
    # "password" is another server's (Redis's)
    own = "api_timeout" in params
    conn = {name: params.get(name) if own else None for name in AUTH_ARG_SPEC}
    conn["api_timeout"] = params.get("api_timeout") or API_TIMEOUT
    for name in ("kubeconfig", "context"):
        if lease.get(name) is not None:
            conn[name] = lease[name]
    return conn


def lease_keeper(module):
    """For cancel.cancellable(runner, around=...): with the ``lease`` option (and not in
    check mode, which writes nothing), ``around(guard)`` checks the Lease is still the run's
    before the step starts (an OpsError that changed nothing when not) and gives the
    lease.Renewer that keeps it, or watches it, for the whole step and cancels the step
    through ``guard.cancel`` when it is lost. None without the option."""
    lease = module.params.get("lease")
    if not lease or module.check_mode:
        return None

    def around(guard):
        params = lease_connection(module.params)
        try:
            client = make_client(module, params=params)
        except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
            raise OpsError(connection_error(module, exc, params), changed=False) from exc
        renewer = leases.Renewer(
            client,
            lease["namespace"],
            lease["name"],
            lease["holder"],
            lease["duration"],
            on_lost=guard.cancel,
            renew=lease["renew"],
        )
        try:
            renewer.check()
        except ApiError as exc:
            raise OpsError("Cannot hold the lock: %s" % exc, changed=False) from exc
        return renewer

    return around


def get_api_client(module, params=None):
    """kubernetes.core's client for the module's options. Imported here, not at the top:
    it loads the kubernetes library (about a second), which modules that may not talk to
    Kubernetes at all (a direct database backup) should not pay for."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client as kubernetes_core_client,
    )

    if params is not None:
        return kubernetes_core_client(None, **params)
    return kubernetes_core_client(module)


def argspec(wait=False, **options):
    """kubernetes.core's authentication options, ``api_timeout``, the wait options when
    ``wait``, and the module's own."""
    spec = dict(AUTH_ARG_SPEC)
    spec.update(K8S_OPTIONS)
    if wait:
        spec.update(WAIT_OPTIONS)
    spec.update(options)
    return spec


def new_module(spec, **kwargs):
    """kubernetes.core's module class, without its requirement checks: they import the
    kubernetes library to gather versions (about 0.5 s). make_client() checks the
    requirements of the client it makes."""
    kwargs.setdefault("check_k8s", False)
    kwargs.setdefault("check_pyyaml", False)
    return AnsibleK8SModule(argument_spec=spec, **kwargs)


# Failures to load the configuration (as opposed to failures to reach the server).
CONFIG_ERRORS = (CoreException, k8s_config.ConfigError)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def make_client(module, library=False, params=None):
    """A Client for the module's options (kubeconfig, context, token, certificates, proxy;
    kubernetes.core's rules), or for ``params`` (lease_connection()). ``library``: on
    kubernetes.core's client, for a module that also execs into pods. Raises a CONFIG_ERRORS
    error for a configuration that cannot be used; kubernetes.core's client may contact the
    server when created."""
    options = module.params if params is None else params
    timeout = options["api_timeout"]
    if not library:
        try:
            auth = k8s_config.auth_options(options, os.environ)
            conn = k8s_config.resolve(auth, os.environ, _read)
            import urllib3  # noqa: F401 - a requirement of the client, like the library's
        except (k8s_config.NeedsLibrary, ImportError):
            pass
        else:
            return Client(wire.Session(conn), timeout=timeout)
    if hasattr(module, "requires"):  # kubernetes.core's module class says what is missing
        module.requires("kubernetes")
    client = get_api_client(module) if params is None else get_api_client(module, params)
    return Client(client.client.client, timeout=timeout)


def connection_error(module, exc, params=None):
    """The message for a failure to set up the client (bad configuration, no server)."""
    if isinstance(exc, CONFIG_ERRORS):
        return "Cannot use the Kubernetes configuration: %s" % exc
    return str(classify(exc, (module.params if params is None else params).get("host"), "connect"))


def main(module, runner, *args, **kwargs):
    """Run ``runner(request, client, *args, **kwargs)`` (see common/module.py); every
    failure names its cause."""
    try:
        client = make_client(module)
    except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
        module.fail_json(msg=connection_error(module, exc))
    try:
        finish(module, runner, client, *args, **kwargs)
    except ApiError as exc:
        module.fail_json(msg=str(exc))
