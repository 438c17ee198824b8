"""What the unit tests of modules share: an AnsibleModule stand-in for a module's run(), and the
JSON merge patch an API server applies."""

from __future__ import annotations

import copy


class Exit(Exception):
    """exit_json or fail_json was called; the result is on the module."""


class FakeModule:
    """``params`` with the module's argspec defaults, check and diff mode, ``warn``, and
    ``exit_json``/``fail_json`` that keep the result and raise Exit."""

    def __init__(self, module, check_mode=False, diff=False, **params):
        defaults = {
            name: spec.get("default") for name, spec in module.argspec().items() if isinstance(spec, dict)
        }
        self.params = dict(defaults, **params)
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set()
        self.result = None
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **kwargs):
        self.result = dict(kwargs, failed=False)
        raise Exit()

    def fail_json(self, **kwargs):
        self.result = dict(kwargs, failed=True)
        raise Exit()


def merge(obj, patch):
    """Apply a JSON merge patch (RFC 7386) to ``obj`` in place (null removes a key), as the
    API server does; returns ``obj``."""
    for key, value in patch.items():
        if value is None:
            obj.pop(key, None)
        elif isinstance(value, dict) and isinstance(obj.get(key), dict):
            merge(obj[key], value)
        else:
            obj[key] = copy.deepcopy(value)
    return obj
