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

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
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
    """kubernetes.core's module class. It checks the kubernetes and PyYAML requirements,
    unless ``check_k8s=False``: then neither is checked (kubernetes.core's PyYAML check
    imports the kubernetes library to gather versions, about 0.7 s), and the module calls
    ``module.requires("kubernetes")`` before its first Kubernetes call."""
    if kwargs.get("check_k8s") is False:
        kwargs.setdefault("check_pyyaml", False)
    return AnsibleK8SModule(argument_spec=spec, **kwargs)


def make_client(module):
    """A Client on the client kubernetes.core configured from the module's options
    (kubeconfig, context, token, certificates, proxy). Creating it may contact the server."""
    client = get_api_client(module)
    return Client(client.client.client, timeout=module.params["api_timeout"])


def connection_error(module, exc):
    """The message for a failure to set up the client (bad configuration, no server)."""
    if isinstance(exc, CoreException):
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
