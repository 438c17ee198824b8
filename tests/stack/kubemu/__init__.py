"""kubemu: an emulated Kubernetes API server for tests, built on kmock's KubernetesEmulator."""

from .api import Kubemu, Options, Subresource
from .faults import AGE_ANNOTATION, FAULT_ANNOTATION, RESTARTS_ANNOTATION
from .runner import RunningEmulator, serve, start_emulator

__all__ = [
    "AGE_ANNOTATION",
    "FAULT_ANNOTATION",
    "RESTARTS_ANNOTATION",
    "Kubemu",
    "Options",
    "RunningEmulator",
    "Subresource",
    "serve",
    "start_emulator",
]
