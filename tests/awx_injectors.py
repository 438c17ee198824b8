"""Render a custom credential type's injectors as AWX does, for tests that run a job the way AWX
runs it (an ansible-runner private data dir) without an AWX server.

    env, extra_vars, files = render(credential_type, inputs, private_data_dir)

What AWX does (awx/main/models/credential: CredentialType.inject_credential, and the checks of
awx/main/fields.py when a type is saved), and so what this does:

- The type is checked first, as AWX checks it when it is saved: input fields have an id and a
  label, type string or boolean, unique ids; ``file`` keys are ``template`` or
  ``template.<name>`` (not both forms); ``env`` names are shell names, not ``ANSIBLE_*`` nor one
  AWX reserves; every template renders with every field set and strict undefined variables.
- Templates are Jinja in an immutable sandbox. Their variables are the credential's inputs
  (an empty string input is left out, so it renders empty; a missing boolean is False) and
  ``tower`` (``awx`` too, as newer AWX documents it): ``tower.filename`` is the path of the
  single file injector, ``tower.filename.<name>`` those of ``template.<name>``.
- Each file injector is written to ``<private_data_dir>/env/`` (mode 0600) and is referred to
  by its path inside the execution environment: AWX mounts the private data dir at
  ``/runner``. Pass ``container_root=None`` for a run without a container (process isolation
  off, or ansible-runner run directly), where the host path is the path.
- ``env`` values are rendered strings. ``extra_vars`` are rendered recursively (dicts and
  lists keep their shape, every leaf becomes a string) and AWX hands them to ansible-playbook
  as ``-e @<file>`` of YAML whose strings are all ``!unsafe``: :func:`extra_vars_file` writes
  that file.

Required inputs are not enforced by AWX at injection time (it refuses the credential when it is
saved); :func:`render` refuses them too, so a test cannot build a credential AWX would not.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile

import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# awx/main/constants.py ENV_BLOCKLIST: variables a credential may not set (besides ANSIBLE_*)
ENV_BLOCKLIST = frozenset(
    (
        "VIRTUAL_ENV",
        "PATH",
        "PYTHONPATH",
        "JOB_ID",
        "INVENTORY_ID",
        "INVENTORY_SOURCE_ID",
        "INVENTORY_UPDATE_ID",
        "AD_HOC_COMMAND_ID",
        "REST_API_URL",
        "REST_API_TOKEN",
        "MAX_EVENT_RES",
        "CALLBACK_QUEUE",
        "CALLBACK_CONNECTION",
        "CACHE",
        "JOB_CALLBACK_DEBUG",
        "INVENTORY_HOSTVARS",
        "AWX_HOST",
        "PROJECT_REVISION",
        "SUPERVISOR_CONFIG_PATH",
    )
)
FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FIELD_KEYS = {
    "id",
    "label",
    "type",
    "help_text",
    "choices",
    "format",
    "secret",
    "multiline",
    "ask_at_runtime",
    "default",
}
CONTAINER_ROOT = "/runner"


class InvalidCredentialType(ValueError):
    """What AWX would answer with a 400 when the type or the credential is saved."""


class _Namespace:
    """``tower`` / ``tower.filename`` as the templates see them."""

    def __str__(self):
        raise UndefinedError("the reserved namespace `tower` cannot be rendered itself")


class _NoFile:
    def __str__(self):
        raise UndefinedError("define an unnamed file injector to reference `tower.filename`")


def _sandbox(strict=False):
    return (
        ImmutableSandboxedEnvironment(undefined=StrictUndefined)
        if strict
        else ImmutableSandboxedEnvironment()
    )


def check(credential_type):
    """Raise InvalidCredentialType for a type AWX would not save."""
    inputs = credential_type.get("inputs") or {}
    injectors = credential_type.get("injectors") or {}
    unknown = set(inputs) - {"fields", "required"}
    if unknown:
        raise InvalidCredentialType("inputs: unknown keys %s" % sorted(unknown))
    ids = []
    for field in inputs.get("fields") or []:
        if not {"id", "label"} <= set(field):
            raise InvalidCredentialType("input field %r needs an id and a label" % (field,))
        if set(field) - FIELD_KEYS:
            raise InvalidCredentialType(
                "input field %s: unknown keys %s" % (field["id"], sorted(set(field) - FIELD_KEYS))
            )
        if field["id"] in ("tower", "awx") or field["id"] in ids:
            raise InvalidCredentialType("input field id %r is reserved or repeated" % field["id"])
        kind = field.get("type", "string")
        if kind not in ("string", "boolean"):
            raise InvalidCredentialType(
                "input field %s: type %r is not string or boolean" % (field["id"], kind)
            )
        if kind != "string" and set(field) & {"choices", "multiline", "format", "secret"}:
            raise InvalidCredentialType(
                "input field %s: choices/multiline/format/secret need type string" % field["id"]
            )
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[kind]):
            raise InvalidCredentialType(
                "input field %s: default %r is not a %s" % (field["id"], field["default"], kind)
            )
        ids.append(field["id"])
    missing = [name for name in inputs.get("required") or [] if name not in ids]
    if missing:
        raise InvalidCredentialType("required inputs %s are not fields" % missing)
    if set(injectors) - {"file", "env", "extra_vars"}:
        raise InvalidCredentialType(
            "injectors: unknown kinds %s" % sorted(set(injectors) - {"file", "env", "extra_vars"})
        )
    files = list((injectors.get("file") or {}).keys())
    for key in files:
        if not FILE_KEY.match(key):
            raise InvalidCredentialType("file injector %r: use template or template.<name>" % key)
    if "template" in files and len(files) > 1:
        raise InvalidCredentialType("use the multi-file syntax (template.<name>) for several files")
    for key, value in (injectors.get("env") or {}).items():
        if not NAME.match(key) or key.startswith("ANSIBLE_") or key in ENV_BLOCKLIST:
            raise InvalidCredentialType("environment variable %s is not allowed in a credential" % key)
        if not isinstance(value, str) or not value.isascii():
            raise InvalidCredentialType("environment variable %s: the template must be ASCII text" % key)
    for key in injectors.get("extra_vars") or {}:
        if not NAME.match(key):
            raise InvalidCredentialType("extra variable %r is not a variable name" % key)

    # every template renders with every field set, strictly (AWX: "uses an undefined field")
    tower = _Namespace()
    if "template" in files:
        tower.filename = "EXAMPLE_FILENAME"
    else:
        tower.filename = _NoFile()
        for key in files:
            setattr(tower.filename, key.split(".", 1)[1], "EXAMPLE_FILENAME")
    example = dict.fromkeys(ids, "EXAMPLE")
    example.update(tower=tower, awx=tower)
    for kind, templates in injectors.items():
        for key, template in _leaves(templates, kind):
            try:
                _sandbox(strict=True).from_string(template).render(example)
            except UndefinedError as exc:
                raise InvalidCredentialType("%s %s uses an undefined field (%s)" % (kind, key, exc))
            except (SecurityError, TemplateSyntaxError) as exc:
                raise InvalidCredentialType("%s %s: %s" % (kind, key, exc))


def _leaves(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, "%s.%s" % (where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, "%s[%d]" % (where, i))
    elif isinstance(node, str):
        yield where, node
    else:
        raise InvalidCredentialType("%s: an injector template must be text, got %r" % (where, node))


def render(credential_type, inputs, private_data_dir, container_root=CONTAINER_ROOT):
    """``(env, extra_vars, files)`` of a credential of ``credential_type`` with ``inputs``;
    ``files`` maps each file injector's key to the file written on this machine."""
    check(credential_type)
    fields = (credential_type.get("inputs") or {}).get("fields") or []
    known = {field["id"]: field for field in fields}
    unknown = set(inputs) - set(known)
    if unknown:
        raise InvalidCredentialType("inputs %s are not fields of the type" % sorted(unknown))
    absent = [
        name for name in (credential_type["inputs"].get("required") or []) if inputs.get(name) in ("", None)
    ]
    if absent:
        raise InvalidCredentialType("required inputs %s have no value" % absent)
    for name, value in inputs.items():
        choices = known[name].get("choices")
        if choices and value not in choices:
            raise InvalidCredentialType("input %s: %r is not one of %s" % (name, value, choices))

    tower = _Namespace()
    namespace = {"tower": tower, "awx": tower}
    for name, value in inputs.items():
        if isinstance(value, bool) or (value is not None and len(value)):
            namespace[name] = value
    for field in fields:
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
        if field.get("format") == "ssh_private_key" and not namespace.get(field["id"], "\n").endswith("\n"):
            namespace[field["id"]] += "\n"

    sandbox = _sandbox()
    injectors = credential_type.get("injectors") or {}
    env_dir = os.path.join(private_data_dir, "env")
    os.makedirs(env_dir, exist_ok=True)
    files = {}
    for key, template in (injectors.get("file") or {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as out:
            out.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        files[key] = path
        seen = _in_container(path, private_data_dir, container_root)
        if key == "template":
            tower.filename = seen
        else:
            if not isinstance(getattr(tower, "filename", None), _Namespace):
                tower.filename = _Namespace()
            setattr(tower.filename, key.split(".", 1)[1], seen)

    env = {key: sandbox.from_string(t).render(**namespace) for key, t in (injectors.get("env") or {}).items()}

    def build(node):
        if isinstance(node, dict):
            return {build(k): build(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build(v) for v in node]
        return sandbox.from_string(node).render(**namespace)

    extra_vars = build(injectors.get("extra_vars") or {})
    return env, extra_vars, files


def _in_container(path, private_data_dir, container_root):
    if container_root is None:
        return path
    return os.path.join(container_root, os.path.relpath(path, private_data_dir))


class _UnsafeDumper(yaml.SafeDumper):
    pass


def _unsafe_str(dumper, data):
    return dumper.represent_scalar("!unsafe", data)


_UnsafeDumper.add_representer(str, _unsafe_str)


def extra_vars_file(extra_vars, private_data_dir):
    """Write ``extra_vars`` as AWX does (YAML, every string ``!unsafe`` so that Ansible never
    templates a credential's value, mode 0400, under ``env/``) and return its path: AWX passes
    it as ``-e @<path>`` (in the container, ``/runner/env/<name>``)."""
    env_dir = os.path.join(private_data_dir, "env")
    os.makedirs(env_dir, exist_ok=True)
    handle, path = tempfile.mkstemp(dir=env_dir)
    with os.fdopen(handle, "w") as out:
        out.write(yaml.dump(extra_vars, Dumper=_UnsafeDumper, default_flow_style=False))
    os.chmod(path, stat.S_IRUSR)
    return path
