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

import os

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import config as k8s_config
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


def get_api_client(module):
    """kubernetes.core's client for the module's options. Imported here, not at the top:
    it loads the kubernetes library (about a second), which modules that may not talk to
    Kubernetes at all (a direct database backup) should not pay for."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client as kubernetes_core_client,
    )

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


def make_client(module, library=False):
    """A Client for the module's options (kubeconfig, context, token, certificates, proxy;
    kubernetes.core's rules). ``library``: on kubernetes.core's client, for a module that
    also execs into pods. Raises a CONFIG_ERRORS error for a configuration that cannot be
    used; kubernetes.core's client may contact the server when created."""
    timeout = module.params["api_timeout"]
    if not library:
        try:
            auth = k8s_config.auth_options(module.params, os.environ)
            conn = k8s_config.resolve(auth, os.environ, _read)
            import urllib3  # noqa: F401 - a requirement of the client, like the library's
        except (k8s_config.NeedsLibrary, ImportError):
            pass
        else:
            return Client(wire.Session(conn), timeout=timeout)
    module.requires("kubernetes")
    client = get_api_client(module)
    return Client(client.client.client, timeout=timeout)


def connection_error(module, exc):
    """The message for a failure to set up the client (bad configuration, no server)."""
    if isinstance(exc, CONFIG_ERRORS):
        return "Cannot use the Kubernetes configuration: %s" % exc
    return str(classify(exc, module.params.get("host"), "connect"))


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
