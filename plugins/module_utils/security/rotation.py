# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a Secret's rotation and of its rollback: pure functions, no I/O
(security/rotate.py does the talking).

Who is restarted. The workloads whose pod template reads the Secret (env, envFrom,
volumes, projected volumes; an image pull secret is read by the kubelet, not the pods)
are the users. A user whose ``multiagent.ops/config-checksum-skip`` annotation lists the
Secret reads it only when it first starts (PostgreSQL's ``POSTGRES_PASSWORD`` initialises
an empty data directory, and is ignored afterwards): it keeps running. Every other user is
restarted the way a deploy would restart it, so that a deploy after the rotation (its vault
holding the new values) changes nothing:

- k8s_apply stamped ``multiagent.ops/config-checksum``: the sha256 over the content of the
  Secrets and ConfigMaps of its batch that the template reads. The rotation finds which of
  the template's references reproduce the stamp with the live content (the deploy's batch
  need not have carried them all), and stamps the checksum of the same references with the
  new content: exactly what the next deploy computes.
- a user without the stamp, or whose stamp the live content does not reproduce (changed
  since by hand), or whose stamp does not cover this Secret, gets
  ``kubectl.kubernetes.io/restartedAt``, which a deploy leaves alone.

The record. Before anything is changed, the previous values (and the new ones, which may
have been generated) are written encrypted with ansible-vault (backup/vault.py) to a
record file: ``ansible-vault view`` opens it, and the rollback reads it back.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import secrets
import string

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.lifecycle.records import (
    CONFIG_CHECKSUM,
    CONFIG_CHECKSUM_SKIP,
)

KINDS = rollout.KINDS
RECORD_FORMAT = "multiagent-ops-secret-rotation"
RECORD_VERSION = 1
# Generated values: letters and digits only, so that a value survives every consumer
# (URLs, connection strings, shell-quoted env files) without escaping.
ALPHABET = string.ascii_letters + string.digits
MIN_LENGTH = 16
# How many distinct references a template may have before the search for the ones its
# checksum covers stops trying subsets (2**10 checksums at most).
MAX_SEARCH = 10


class RotationError(Exception):
    """Input or state that stops a rotation; the message names the Secret and the key, never
    a value."""


# -- values -------------------------------------------------------------------------------


def generate(length, choice=secrets.choice):
    if length < MIN_LENGTH:
        raise RotationError("generated values need a length of at least %d, not %d" % (MIN_LENGTH, length))
    return "".join(choice(ALPHABET) for _index in range(length))


def decode_data(secret):
    """``{key: text}`` of a live Secret's ``data`` (base64). A value that is not UTF-8 text
    is kept as the ``bytes`` it holds."""
    values = _decoded((secret or {}).get("data"), "the Secret")
    return {key: value for key, value in values.items() if value is not None}


def encode(value):
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def new_values(current, data=None, generate_keys=(), length=32, choice=secrets.choice):
    """``(values, changed)``: the values of the rotated keys (``data`` as given, the
    ``generate_keys`` generated) and the keys among them whose value differs from
    ``current``. A key both given and generated, or an empty value, is refused."""
    data = dict(data or {})
    both = sorted(set(data) & set(generate_keys))
    if both:
        raise RotationError("key %s is both given in data and to be generated" % ", ".join(both))
    for key, value in data.items():
        if value is None or str(value) == "":
            raise RotationError("the new value of key %s is empty (an unset vault variable?)" % key)
    if not data and not generate_keys:
        raise RotationError("nothing to rotate: give data (new values) or generate (keys)")
    values = {key: str(value) for key, value in data.items()}
    for key in generate_keys:
        values[key] = generate(length, choice)
    changed = sorted(k for k, v in values.items() if current.get(k) != v)
    return values, changed


# -- users ---------------------------------------------------------------------------------


class User:
    """A workload whose pod template reads the Secret."""

    __slots__ = ("kind", "name", "obj", "refs", "skips")

    def __init__(self, kind, name, obj, refs, skips):
        self.kind = kind
        self.name = name
        self.obj = obj
        self.refs = refs
        self.skips = skips

    @property
    def label(self):
        return "%s/%s" % (self.kind, self.name)


def users(workloads, secret):
    """The Users of Secret ``secret`` among ``workloads`` (objects with ``kind``), by kind
    and name."""
    found = []
    for obj in workloads:
        kind = obj.get("kind")
        template = ap.pod_template(obj, ("apps", kind))
        if template is None:
            continue
        refs = [r for r in ap.pod_references(template.get("spec")) if r.via != ap.PULL_SECRETS]
        if not any(r.kind == "Secret" and r.name == secret for r in refs):
            continue
        found.append(User(kind, wl.meta(obj).get("name"), obj, refs, ap.checksum_skips(obj)))
    return sorted(found, key=lambda u: (KINDS.index(u.kind) if u.kind in KINDS else 9, u.name))


def template_annotations(obj):
    template = ap.pod_template(obj, ("apps", obj.get("kind"))) or {}
    return (template.get("metadata") or {}).get("annotations") or {}


def covered(user, contents):
    """The references (``[(kind, name)]``) whose ``contents`` reproduce the user's
    config-checksum stamp, the most first; None when no set does (or there is no stamp)."""
    stamp = template_annotations(user.obj).get(CONFIG_CHECKSUM)
    if not stamp:
        return None
    present = sorted(
        {
            (r.kind, r.name)
            for r in user.refs
            if (r.kind, r.name) in contents and (r.kind, r.name) not in user.skips
        }
    )
    if len(present) > MAX_SEARCH:
        sizes = [len(present)]
    else:
        sizes = range(len(present), 0, -1)
    for size in sizes:
        for subset in itertools.combinations(present, size):
            chosen = {key: contents[key] for key in subset}
            if ap.config_checksum(user.refs, chosen) == stamp:
                return list(subset)
    return None


def restart_plan(user, secret, before, after, stamp):
    """How ``user`` is restarted when Secret ``secret`` goes from ``before`` to ``after``
    (``{(kind, name): {key: bytes}}`` of every reference read): a dict with ``how``
    (``kept``, ``checksum``, ``restartedAt``), ``patch`` (None for kept) and ``before`` /
    ``after`` (the annotation's values, for the diff and the record)."""
    result = {
        "kind": user.kind,
        "name": user.name,
        "how": "kept",
        "patch": None,
        "before": None,
        "after": None,
    }
    if ("Secret", secret) in user.skips:
        result["reason"] = "reads the Secret only when it first starts (%s)" % CONFIG_CHECKSUM_SKIP
        return result
    cover = covered(user, before)
    if cover and ("Secret", secret) in cover:
        new = ap.config_checksum(user.refs, {key: after[key] for key in cover if key in after})
        result.update(
            how="checksum",
            before=template_annotations(user.obj).get(CONFIG_CHECKSUM),
            after=new,
            patch={"spec": {"template": {"metadata": {"annotations": {CONFIG_CHECKSUM: new}}}}},
        )
        return result
    result.update(
        how="restartedAt",
        before=rollout.restarted_at(user.obj),
        after=stamp,
        patch={"spec": {"template": {"metadata": {"annotations": {rollout.RESTARTED_AT: stamp}}}}},
    )
    return result


def content_after(before, secret, values, removed=()):
    """``before`` with Secret ``secret``'s content changed to ``values`` (text or bytes) and
    ``removed`` keys gone."""
    after = dict(before)
    content = dict(after.get(("Secret", secret)) or {})
    for key, value in values.items():
        content[key] = value if isinstance(value, bytes) else str(value).encode("utf-8")
    for key in removed:
        content.pop(key, None)
    after[("Secret", secret)] = content
    return after


def secret_patch(values, removed=(), resource_version=None):
    """The merge patch that sets ``values`` and removes ``removed`` keys; with
    ``resource_version`` the server refuses it (409) when the Secret changed since it was read."""
    data = {key: encode(value) for key, value in values.items()}
    data.update({key: None for key in removed})
    body = {"data": data}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return body


# -- the record ----------------------------------------------------------------------------


def _encoded(values):
    return {key: (None if value is None else encode(value)) for key, value in values.items()}


def _decoded(values, where):
    out = {}
    for key, value in (values or {}).items():
        if value is None:
            out[key] = None
            continue
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise RotationError("%s: key %s is not base64" % (where, key)) from None
        try:
            out[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            out[key] = raw
    return out


def new_record(namespace, secret, created, previous, rotated, database=None, workloads=(), cluster=None):
    """The record of a rotation: ``previous`` (``{key: value or None}``, None for a key the
    Secret did not have) and ``rotated`` (the new values)."""
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "namespace": namespace,
        "secret": secret,
        "created": created,
        "cluster": cluster,
        "previous": _encoded(previous),
        "rotated": _encoded(rotated),
        "database": database,
        "workloads": [{k: w.get(k) for k in ("kind", "name", "how", "before", "after")} for w in workloads],
    }


def encode_record(record):
    return json.dumps(record, sort_keys=True, indent=1).encode("utf-8")


def decode_record(data, where, namespace=None, secret=None):
    """The record in ``data`` (decrypted JSON), its values decoded; RotationError says what
    is wrong with it (another format, another Secret)."""
    try:
        record = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise RotationError("%s is not a rotation record: %s" % (where, exc)) from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise RotationError("%s is not a rotation record (format %r)" % (where, (record or {}).get("format")))
    if record.get("version") != RECORD_VERSION:
        raise RotationError(
            "%s has record version %r; this collection reads %d"
            % (where, record.get("version"), RECORD_VERSION)
        )
    for field, want in (("namespace", namespace), ("secret", secret)):
        if want is not None and record.get(field) != want:
            raise RotationError(
                "%s records Secret %s/%s, not %s/%s"
                % (where, record.get("namespace"), record.get("secret"), namespace, secret)
            )
    record = dict(record)
    record["previous"] = _decoded(record.get("previous"), where)
    record["rotated"] = _decoded(record.get("rotated"), where)
    return record


def record_name(namespace, secret, moment):
    """``<namespace>.<secret>.<UTC time>.rotation.vault``: sorted by time within a Secret."""
    return "%s.%s.%s.rotation.vault" % (namespace, secret, moment.strftime("%Y%m%dT%H%M%S%fZ"))


def newest_record(names, namespace, secret):
    """The newest record name of the Secret among ``names``, or None."""
    prefix = "%s.%s." % (namespace, secret)
    mine = sorted(n for n in names if n.startswith(prefix) and n.endswith(".rotation.vault"))
    return mine[-1] if mine else None


def rollback_values(record, current):
    """``(values, removed)`` that put the recorded previous values back: keys the Secret did
    not have before are removed; keys already back are left out."""
    values, removed = {}, []
    for key, value in record["previous"].items():
        if value is None:
            if key in current:
                removed.append(key)
        elif current.get(key) != value:
            values[key] = value
    return values, sorted(removed)
