# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Label selectors as the API server evaluates them (pure).

One function for every selector the security analysis meets: a NetworkPolicy's
``podSelector`` and ``namespaceSelector``, a ClusterRole's ``aggregationRule``. A selector is
``matchLabels`` AND every ``matchExpressions`` entry (``In``, ``NotIn``, ``Exists``,
``DoesNotExist``); the empty selector ``{}`` selects everything, a missing one (None)
nothing. An operator the API does not know selects nothing rather than everything.
"""

from __future__ import annotations


def matches(selector, labels):
    """Whether ``labels`` (a dict, None for none) are selected by ``selector``."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            ok = False
        if not ok:
            return False
    return True


def is_empty(selector):
    """True for ``{}`` (no labels, no expressions): the selector of everything."""
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")
