"""Fault injection for integration tests: one interface, two backends.

``EmulatorFaults`` breaks things in the local stack's Kubernetes emulator (through the
Kubernetes API where a real cluster would accept the same request, through kubemu's
control API where nothing in Kubernetes can express the fault). ``RealClusterFaults`` does
what can honestly be done on a real cluster; faults it cannot make raise
``NotSupported``, and the tests that need them are marked ``emulator_only``.

Both record how to undo each fault; ``reset_all()`` undoes everything (the fixture calls
it after each test that uses a platform).
"""

from __future__ import annotations

from pathlib import Path

import stack as local_stack
from kubernetes import client

FAULT_ANNOTATION = "kubemu.multiagent.ops/fault"


class NotSupported(RuntimeError):
    pass


class FaultBackend:
    def __init__(self, facts, kube):
        self.facts = facts
        self.kube = kube
        self._undo = []

    # -- the same on both backends: the stand-in, Redis ----------------------------------
    def endpoint(self, cluster, path, mode, **options):
        """Switch the stand-in's answer for ``path`` on ``cluster``: error, slow, closed."""
        base = self.facts["clusters"][cluster]["standin"]
        local_stack.http_json(base + "/_standin/mode", "POST", dict(options, path=path, mode=mode))
        self._undo.append(lambda: local_stack.http_json(base + "/_standin/reset", "POST", {}))

    def stop_redis(self):
        local_stack.redis_down()
        self._undo.append(local_stack.redis_up)

    # -- Kubernetes ----------------------------------------------------------------------
    def apps(self, cluster):
        return client.AppsV1Api(self.kube[cluster])

    def core(self, cluster):
        return client.CoreV1Api(self.kube[cluster])

    def crashloop(self, cluster, namespace, deployment):
        """A new template whose pods crash: the rollout stalls, old pods stay ready."""
        raise NotImplementedError

    def reset_all(self):
        while self._undo:
            self._undo.pop()()


class EmulatorFaults(FaultBackend):
    def _control(self, cluster, action, body=None, method="POST"):
        info = self.facts["clusters"][cluster]
        token = Path(info["state_dir"], "token").read_text().strip()
        return local_stack.http_json(info["api"] + "/_kubemu/" + action, method, body, token=token)

    def crashloop(self, cluster, namespace, deployment):
        self.template_fault(cluster, namespace, deployment, "crashloop")

    @staticmethod
    def _annotations(fault, options):
        ann = {FAULT_ANNOTATION: fault}
        ann.update({"kubemu.multiagent.ops/%s" % k.replace("_", "-"): str(v) for k, v in options.items()})
        return ann

    def template_fault(self, cluster, namespace, deployment, fault, **options):
        """New pods of the Deployment get the fault (a rollout starts, as a template change
        does): crashloop, imagepull, notready, pending, restarts; ``age_seconds``,
        ``restarts`` as options."""
        patch = {"spec": {"template": {"metadata": {"annotations": self._annotations(fault, options)}}}}
        self.apps(cluster).patch_namespaced_deployment(deployment, namespace, patch)

    def pod_fault(self, cluster, namespace, pod, fault, **options):
        """Make one running pod unhealthy: crashloop, notready, restarts. (A pod's creation
        time and scheduling cannot change once it runs: use template_fault for those.)"""
        patch = {"metadata": {"annotations": self._annotations(fault, options)}}
        self.core(cluster).patch_namespaced_pod(pod, namespace, patch)

    def broken_image(self, cluster, image, mode="imagepull"):
        """Containers running ``image`` never become ready (imagepull or crashloop); returns
        the image to use."""
        self._control(cluster, "broken-images", {"image": image, "mode": mode})
        self._undo.append(lambda: self._control(cluster, "broken-images", {"image": image}, method="DELETE"))
        return image

    def heal_image(self, cluster, image):
        """Forget a broken image (through the control API, which answers during an outage)."""
        self._control(cluster, "broken-images", {"image": image}, method="DELETE")

    def api_outage(self, cluster, seconds, mode="disconnect"):
        """The cluster's API server drops every connection (or answers 503) for ``seconds``;
        the cluster itself (controllers, pods) goes on."""
        self._control(cluster, "outage", {"seconds": seconds, "mode": mode})
        self._undo.append(lambda: self._control(cluster, "outage", method="DELETE"))

    def deny(self, cluster, verb, group, resource, namespace=None):
        self._control(
            cluster, "deny", {"verb": verb, "group": group, "resource": resource, "namespace": namespace}
        )
        self._undo.append(lambda: self._control(cluster, "deny", method="DELETE"))

    def metrics(self, cluster, enabled):
        self._control(cluster, "metrics", {"enabled": enabled})
        self._undo.append(lambda: self._control(cluster, "reset-faults"))

    def add_log_lines(self, cluster, namespace, pod, lines, container=None):
        body = {"namespace": namespace, "pod": pod, "lines": lines}
        if container:
            body["container"] = container
        self._control(cluster, "logs", body)


class RealClusterFaults(FaultBackend):
    def crashloop(self, cluster, namespace, deployment):
        # A container that exits at once: a real kubelet puts it in CrashLoopBackOff.
        dep = self.apps(cluster).read_namespaced_deployment(deployment, namespace)
        name = dep.spec.template.spec.containers[0].name
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": name, "command": ["sh", "-c", "exit 1"]}]}}
            }
        }
        self.apps(cluster).patch_namespaced_deployment(deployment, namespace, patch)

    def pod_fault(self, *args, **kwargs):
        raise NotSupported("arbitrary pod states need the emulator")

    def broken_image(self, cluster, image, mode="imagepull"):
        """An image a real kubelet cannot pull (a reserved, unresolvable registry), with the
        same tag."""
        if mode != "imagepull":
            raise NotSupported("a crash-looping image needs the emulator")
        return "registry.invalid/multiagent-ops/broken:%s" % image.rsplit(":", 1)[-1]

    def template_fault(self, *args, **kwargs):
        raise NotSupported("arbitrary pod states need the emulator")

    def deny(self, *args, **kwargs):
        raise NotSupported("permission faults need the emulator (or a dedicated RBAC setup)")

    def api_outage(self, *args, **kwargs):
        raise NotSupported("taking the API server away needs the emulator")

    def heal_image(self, *args, **kwargs):
        raise NotSupported("an image that starts working needs the emulator")

    def metrics(self, *args, **kwargs):
        raise NotSupported("switching the metrics API needs the emulator")

    def add_log_lines(self, *args, **kwargs):
        raise NotSupported("writing pod logs needs the emulator")
