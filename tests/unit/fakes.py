"""What the unit tests of modules share: an AnsibleModule stand-in for a module's run(), the
JSON merge patch an API server applies, and a finished backup (archive and manifest) on disk."""

from __future__ import annotations

import copy
import hashlib
import os

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact


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


def write_backup(
    path, data=b"archive", kind="postgresql", target="mplp", started="2026-11-22T02:00:00Z", **changes
):
    """A complete backup as the backup modules leave it: ``path`` (the archive) holding ``data``
    and its manifest beside it. ``changes`` update the manifest; a None value removes the field.
    Returns the archive's path."""
    path = str(path)
    artifact.write_bytes(path, data)
    manifest = artifact.new_manifest(kind, target, os.path.basename(path), "custom", "zstd")
    manifest.update(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        started=started,
        finished=started,
        status="complete",
    )
    manifest.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        manifest.pop(key)
    artifact.write_manifest(path, manifest)
    return path
