"""Every role's meta/argument_specs.yml agrees with its defaults/main.yml, entry point by
entry point: the same defaults, types that fit them, real descriptions, a task file per entry
point, every variable an entry point reads among its options, and every tasks_from of the
collection naming a specified entry point. The internal role multiagent.ops._ops has no
defaults/main.yml (as prometheus.prometheus's _common): there, every optional option is read
as ``name | default(value)`` with the value its spec gives."""

from __future__ import annotations

import re

import pytest
import yaml

from .yamltree import PLAYBOOKS, ROLES, action, argument_specs, load, role_defaults, roles, task_files, tasks

TYPES = {bool: "bool", int: "int", float: "float", list: "list", dict: "dict", str: "str"}
PREFIX = {"_ops": "ops_"}
INCLUDES = ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks")
ROLE_INCLUDES = ("ansible.builtin.include_role", "ansible.builtin.import_role")


def entry_points():
    return [(role, ep) for role in roles() for ep in argument_specs(role)]


def prefix(role):
    return PREFIX.get(role, role + "_")


@pytest.mark.parametrize("role", roles())
def test_every_role_has_argument_specs_with_a_task_file_per_entry_point(role):
    specs = argument_specs(role)
    assert specs, "roles/%s has no meta/argument_specs.yml" % role
    for ep in specs:
        assert (ROLES / role / "tasks" / ("%s.yml" % ep)).exists(), "%s: entry point %s has no task file" % (
            role,
            ep,
        )


@pytest.mark.parametrize("role", roles())
def test_every_default_is_an_option_of_an_entry_point(role):
    options = {name for spec in argument_specs(role).values() for name in spec.get("options") or {}}
    missing = sorted(set(role_defaults(role)) - options)
    assert not missing, "%s: defaults without an argument spec: %s" % (role, ", ".join(missing))


def defaults_of(role, ep):
    """defaults/main.yml, or for a role without one the defaults its specs give (checked
    against the task files by test_a_role_without_defaults_reads_its_options_with_the_spec_default)."""
    if (ROLES / role / "defaults" / "main.yml").exists():
        return role_defaults(role)
    options = argument_specs(role)[ep].get("options") or {}
    return {name: option["default"] for name, option in options.items() if "default" in option}


@pytest.mark.parametrize("role,ep", entry_points())
def test_options_have_the_role_default_a_type_that_fits_it_and_a_description(role, ep):
    defaults = defaults_of(role, ep)
    problems = []
    for name, option in (argument_specs(role)[ep].get("options") or {}).items():
        description = option.get("description")
        text = " ".join(description) if isinstance(description, list) else description or ""
        if not text.strip() or text.strip() == name:
            problems.append("%s: no description" % name)
        if name not in defaults:
            if not option.get("required") or "default" in option:
                problems.append(
                    "%s: not in defaults/main.yml, so it must be required and have no default" % name
                )
            continue
        value = defaults[name]
        if option.get("default") != value:
            problems.append("%s: default %r, defaults/main.yml has %r" % (name, option.get("default"), value))
        templated = isinstance(value, str) and "{{" in value
        whole = isinstance(value, int) and not isinstance(value, bool)
        fits = (TYPES.get(type(value)), "raw") + (("float",) if whole else ())
        if not templated and option.get("type") not in fits:
            problems.append(
                "%s: type %s, the default is a %s" % (name, option.get("type"), type(value).__name__)
            )
        if option.get("type") == "list":
            elements = option.get("elements")
            if not elements:
                problems.append("%s: a list without elements" % name)
            elif isinstance(value, list) and value and elements != "raw":
                kinds = {TYPES.get(type(item)) for item in value}
                if kinds != {elements}:
                    problems.append("%s: elements %s, the default holds %s" % (name, elements, sorted(kinds)))
        if "choices" in option and not templated and value not in option["choices"]:
            problems.append("%s: default %r is not among its choices" % (name, value))
    assert not problems, "%s %s: %s" % (role, ep, "; ".join(problems))


def _default_argument(text, start):
    """The text inside ``default(...)`` starting at ``start`` (just after the parenthesis)."""
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1].strip()


def _same_default(argument, value):
    if isinstance(value, str) and value.startswith("{{") and value.endswith("}}"):
        return argument == value[2:-2].strip()
    return load_literal(argument) == value


def load_literal(text):
    return yaml.safe_load(text.replace("none", "null"))


@pytest.mark.parametrize("role,ep", [(r, e) for r, e in entry_points() if not role_defaults(r)])
def test_a_role_without_defaults_reads_its_options_with_the_spec_default(role, ep):
    options = argument_specs(role)[ep].get("options") or {}
    text = "\n".join(
        line
        for path in _role_files(role, "%s.yml" % ep)
        for line in path.read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    problems = []
    for name, option in options.items():
        # a read, not the name in a message (-e ops_force=true)
        uses = list(re.finditer(r"(?<![\w.])%s\b(?!=)(\s*\|\s*default\()?" % re.escape(name), text))
        if option.get("required"):
            continue
        if not uses:
            problems.append("%s is never read" % name)
        for use in uses:
            if not use.group(1):
                problems.append("%s is read without | default(...)" % name)
            elif not _same_default(_default_argument(text, use.end()), option.get("default")):
                problems.append(
                    "%s: default(%s), the spec says %r"
                    % (name, _default_argument(text, use.end()), option.get("default"))
                )
    assert not problems, "%s %s: %s" % (role, ep, "; ".join(problems))


def _role_files(role, name, seen=None):
    """tasks/<name>.yml and the task files of the role it imports or includes."""
    seen = seen if seen is not None else []
    path = ROLES / role / "tasks" / name
    if path in seen or not path.exists():
        return seen
    seen.append(path)
    for task, _parents in tasks(load(path)):
        target = task.get(action(task))
        if action(task) in INCLUDES and isinstance(target, str) and "{{" not in target:
            _role_files(role, target, seen)
    return seen


def _defined(role):
    """Variables a role's tasks register or set: read, but never options."""
    names = set()
    for path in (ROLES / role / "tasks").glob("*.yml"):
        for task, parents in tasks(load(path)):
            if task.get("register"):
                names.add(task["register"])
            if action(task) == "ansible.builtin.set_fact":
                names.update(task[action(task)] or {})
            for block in parents:
                names.update(block.get("vars") or {})
    return names


@pytest.mark.parametrize("role,ep", entry_points())
def test_every_variable_an_entry_point_reads_is_one_of_its_options(role, ep):
    options = set(argument_specs(role)[ep].get("options") or {})
    # a variable, not a file name (.yml), a YAML anchor (&x, *x) or a tag
    pattern = re.compile(r"(?<![\w./&*-])(%s[a-z0-9_]*)(?![\w]|\.ya?ml|\.j2)" % re.escape(prefix(role)))
    read = set()
    for path in _role_files(role, "%s.yml" % ep):
        lines = path.read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith(("#", "tags:")))
        read.update(pattern.findall(text))
    unknown = sorted(read - options - _defined(role))
    assert not unknown, "%s %s reads variables that are not its options: %s" % (role, ep, ", ".join(unknown))


def _role_calls():
    """(file, role, tasks_from) of every include_role/import_role of this collection's roles."""
    files = task_files() + sorted(PLAYBOOKS.glob("*.yml"))
    for path in files:
        data = load(path) or []
        plays = data if path.parent == PLAYBOOKS else [{"tasks": data}]
        for play in plays:
            for role in play.get("roles") or []:
                name = role if isinstance(role, str) else role.get("role")
                yield path, name, "main"
            for task, _parents in tasks(play.get("tasks") or []):
                if action(task) in ROLE_INCLUDES:
                    args = task[action(task)]
                    yield path, args["name"], args.get("tasks_from", "main")


def test_every_role_entry_point_the_collection_uses_has_an_argument_spec():
    calls = list(_role_calls())
    assert calls
    problems = []
    for path, name, entry in calls:
        if not name.startswith("multiagent.ops."):
            continue
        role = name.split(".", 2)[2]
        if entry not in argument_specs(role):
            problems.append(
                "%s: %s tasks_from %s has no argument spec" % (path.relative_to(ROLES.parent), name, entry)
            )
    assert not problems, "; ".join(problems)
