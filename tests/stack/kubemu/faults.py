"""Faults that cannot be expressed through objects: set through the control API (/_kubemu/)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

# Pod (or pod template) annotations read by the kubelet emulation.
FAULT_ANNOTATION = "kubemu.multiagent.ops/fault"
RESTARTS_ANNOTATION = "kubemu.multiagent.ops/restarts"
AGE_ANNOTATION = "kubemu.multiagent.ops/age-seconds"
FAULTS = ("crashloop", "imagepull", "notready", "pending", "restarts")
BROKEN_IMAGE_MODES = ("crashloop", "imagepull")
# disconnect: the TCP connection drops (no close frame); close: a websocket close, no status.
EXEC_FAULT_MODES = ("disconnect-after-bytes", "close-after-bytes")


@dataclass(frozen=True)
class DenyRule:
    verb: str = "*"
    group: str = "*"
    resource: str = "*"  # a plural, or plural/subresource such as pods/log
    namespace: str | None = None  # None: every namespace and the cluster scope

    def matches(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.group in ("*", group)
            and self.resource in ("*", resource)
            and self.namespace in (None, namespace)
        )


@dataclass
class ExecFault:
    """Cut a pod's exec streams after ``bytes`` bytes of stdout/stderr, without an exit status."""

    mode: str
    bytes: int
    count: int | None = None  # how many execs it affects; None: every one until removed


OUTAGE_MODES = ("disconnect", "unavailable")  # drop the connection, or 503 ServiceUnavailable


@dataclass
class Faults:
    metrics_default: bool = True
    broken_images: dict[str, str] = field(default_factory=dict)  # image → mode
    deny_rules: list[DenyRule] = field(default_factory=list)
    backends: dict[tuple[str, str], str] = field(default_factory=dict)  # (ns, service) → URL
    metrics_enabled: bool = True
    usage: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (ns, pod) → usage
    exec_faults: dict[tuple[str, str], ExecFault] = field(default_factory=dict)  # (ns, pod) → fault
    outage_until: float = 0.0  # time.monotonic() until which API requests go unanswered
    outage_mode: str = "disconnect"

    def __post_init__(self) -> None:
        self.metrics_enabled = self.metrics_default

    def denied(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return any(rule.matches(verb, group, resource, namespace) for rule in self.deny_rules)

    def take_exec_fault(self, namespace: str, pod: str) -> ExecFault | None:
        """The fault for one exec of this pod (counting it down)."""
        fault = self.exec_faults.get((namespace, pod))
        if fault is not None and fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                del self.exec_faults[(namespace, pod)]
        return fault

    def outage(self) -> str | None:
        """The outage mode while an outage lasts, else None."""
        return self.outage_mode if time.monotonic() < self.outage_until else None

    def reset(self) -> None:
        self.outage_until = 0.0
        self.broken_images.clear()
        self.deny_rules.clear()
        self.backends.clear()
        self.usage.clear()
        self.exec_faults.clear()
        self.metrics_enabled = self.metrics_default

    def summary(self) -> dict[str, Any]:
        return {
            "brokenImages": dict(self.broken_images),
            "deny": [asdict(rule) for rule in self.deny_rules],
            "backends": {f"{ns}/{svc}": url for (ns, svc), url in self.backends.items()},
            "exec": {f"{ns}/{pod}": asdict(fault) for (ns, pod), fault in self.exec_faults.items()},
            "outage": {"mode": self.outage_mode, "remaining": max(0.0, self.outage_until - time.monotonic())}
            if self.outage()
            else None,
            "metrics": {
                "enabled": self.metrics_enabled,
                "usage": {f"{ns}/{pod}": usage for (ns, pod), usage in self.usage.items()},
            },
        }
