"""Reading the collection's YAML as data, for the tests of its playbooks and roles: every
task of a file with the blocks and includes it sits in, and the entry points of roles."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
PLAYBOOKS = ROOT / "playbooks"
BLOCK_KEYS = ("block", "rescue", "always")


class Loader(yaml.SafeLoader):
    """Ansible's YAML, with the !vault and !unsafe tags read as plain values."""


Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@functools.cache
def _load(path):
    return yaml.load(Path(path).read_text(), Loader=Loader)


def load(path):
    """The file's data (a copy: callers may change it)."""
    return copy.deepcopy(_load(str(path)))


def tasks(items, parents=()):
    """Every task (not block) of a task list, depth first, with the blocks above it."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if any(key in item for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from tasks(item.get(key), parents + (item,))
        else:
            yield item, parents


def task_files():
    """The task files of the runbooks and roles (not the molecule scenarios)."""
    files = sorted(PLAYBOOKS.glob("procedures/*.yml"))
    files += sorted(p for p in ROLES.glob("*/tasks/*.yml"))
    return files


def action(task):
    """The task's module or action, as written (FQCN), or None."""
    skip = {
        "name", "when", "vars", "register", "loop", "loop_control", "tags", "no_log", "check_mode",
        "delegate_to", "run_once", "failed_when", "changed_when", "module_defaults", "environment",
        "ignore_errors", "become", "until", "retries", "delay", "notify", "listen", "args",
    }  # fmt: skip
    names = [key for key in task if key not in skip]
    return names[0] if names else None


def effective_args(task, parents):
    """The task's arguments as the module gets them: the module_defaults of the blocks above
    it (outermost first) for its action, then its own arguments."""
    name = action(task)
    args = {}
    for block in parents:
        args.update((block.get("module_defaults") or {}).get(name) or {})
    args.update(task.get("module_defaults", {}).get(name) or {})
    own = task.get(name)
    if isinstance(own, dict):
        args.update(own)  # YAML merge keys (<<: *anchor) are merged by the loader
    return args


def role_defaults(role):
    path = ROLES / role / "defaults" / "main.yml"
    return (load(path) or {}) if path.exists() else {}


def argument_specs(role):
    path = ROLES / role / "meta" / "argument_specs.yml"
    return (load(path) or {}).get("argument_specs") or {} if path.exists() else {}


def roles():
    return sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir())
