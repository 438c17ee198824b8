# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue every Kubernetes module of this collection shares: kubernetes.core's module
class and authentication options, a KubeReader on its configured client, and failures
turned into messages that name the cause."""

from __future__ import annotations

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import KubeError, KubeReader, classify

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
except ImportError:  # pragma: no cover - kubernetes.core >= 2.4 ships these
    AnsibleK8SModule = None

    class CoreException(Exception):
        pass


def get_api_client(module):
    """kubernetes.core's client for the module's options. Imported here, not at the top:
    it loads the kubernetes library (about a second), which modules that may not talk to
    Kubernetes at all (a direct database backup) should not pay for."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client as kubernetes_core_client,
    )

    return kubernetes_core_client(module)


def argspec(**options):
    """kubernetes.core's authentication options plus the module's own."""
    spec = dict(AUTH_ARG_SPEC)
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


def make_reader(module):
    """A KubeReader on the client kubernetes.core configured from the module's options
    (kubeconfig, context, token, certificates, proxy). Creating it may contact the server."""
    client = get_api_client(module)
    return KubeReader(client.client.client, timeout=module.params["api_timeout"])


def main(module, run):
    """Run ``run(module, reader)``; every failure names its cause."""
    try:
        run(module, make_reader(module))
    except CoreException as exc:
        module.fail_json(msg="Cannot use the Kubernetes configuration: %s" % exc)
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 - the client contacts the server when created
        module.fail_json(msg=str(classify(exc, module.params.get("host"), "connect")))
