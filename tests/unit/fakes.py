"""What the unit tests share: an AnsibleModule stand-in for a module's run(), the JSON merge
patch an API server applies, an in-memory API server behind the real client (FakeApi), and a
finished backup (archive and manifest) on disk."""

from __future__ import annotations

import copy
import hashlib
import json
import os

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import Client

PLURALS = {resource.plural for resource in resources.KNOWN}


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


class FakeApi(Client):
    """The real Client over an in-memory API server: objects stored by their REST path.

    GET reads one object, a GET of a collection path lists the objects directly under it
    (``labelSelector`` of ``key=value`` pairs honoured), POST creates (409 when it exists),
    PATCH merges (RFC 7386), PUT replaces, DELETE removes. ``refuse`` maps ``(method, path)``
    to a status to answer instead; ``calls`` records ``(method, path)`` of every request.
    A query's ``dryRun`` makes a write answer without storing."""

    host = "https://fake:6443"

    def __init__(self, objects=None, refuse=None):
        self.objects = {path: copy.deepcopy(obj) for path, obj in (objects or {}).items()}
        self.refuse = dict(refuse or {})
        self.calls = []

    def put_object(self, path, obj):
        self.objects[path] = copy.deepcopy(obj)

    def _refused(self, method, path):
        status = self.refuse.get((method, path))
        if status is None:
            return None
        return status, json.dumps({"kind": "Status", "message": "refused by the test"}).encode()

    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        self.calls.append(("GET", path))
        refused = self._refused("GET", path)
        if refused:
            return refused
        if path in self.objects:
            return 200, json.dumps(self.objects[path]).encode()
        prefix = path.rstrip("/") + "/"
        children = [
            obj
            for key, obj in sorted(self.objects.items())
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]
        if path.rsplit("/", 1)[-1] not in PLURALS:  # an object that is not there
            return 404, json.dumps({"kind": "Status", "message": "%s not found" % path}).encode()
        selector = dict(query or []).get("labelSelector")
        if selector:
            wanted = dict(part.split("=", 1) for part in selector.split(","))
            children = [
                obj
                for obj in children
                if all(
                    ((obj.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items()
                )
            ]
        return 200, json.dumps({"items": children, "metadata": {}}).encode()

    def send(self, method, path, body, what, content_type=None, query=None, idempotent=False):
        self.calls.append((method, path))
        refused = self._refused(method, path)
        if refused:
            return refused[0], json.loads(refused[1])
        dry_run = "dryRun" in dict(query or [])
        if method == "POST":
            key = "%s/%s" % (path, body["metadata"]["name"])
            if key in self.objects:
                return 409, {"kind": "Status", "message": "already exists"}
            if not dry_run:
                self.objects[key] = copy.deepcopy(body)
            return 201, copy.deepcopy(body)
        if path not in self.objects:
            return 404, {"kind": "Status", "message": "%s not found" % path}
        if method == "DELETE":
            return 200, (self.objects.pop(path) if not dry_run else self.objects[path])
        changed = copy.deepcopy(body) if method == "PUT" else merge(copy.deepcopy(self.objects[path]), body)
        if not dry_run:
            self.objects[path] = changed
        return 200, copy.deepcopy(changed)
