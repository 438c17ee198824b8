"""One module contract, checked for every module and every module_utils file.

What ansible-test sanity's validate-modules does not already check: the layering (only
modules/ and a package's module.py see Ansible), one registry for Kubernetes paths, thin
modules, shared options documented once in doc fragments with one default per meaning, one
word for one thing, one backup result shape, and the Python the modules need.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PLUGINS = ROOT / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
MODULES = sorted(p for p in (PLUGINS / "modules").glob("*.py") if p.name != "__init__.py")
UTILS = sorted(p for p in MODULE_UTILS.rglob("*.py") if p.name != "__init__.py")
PACKAGE = "ansible_collections.multiagent.ops.plugins"

# The one default of each shared option, as its doc fragment documents it.
FRAGMENT_OPTIONS = {
    "multiagent.ops.k8s": {"api_timeout": 30},
    "multiagent.ops.wait": {"wait": True, "wait_timeout": 300},
}
# Ways of saying "nothing was changed" that the one phrase replaced.
OTHER_WORDINGS = (
    "nothing was touched",
    "nothing was written",
    "nothing was applied",
    "nothing is changed",
    "nothing has been touched",
    "nothing has been changed",
)
BACKUP_MODULES = ("postgresql_backup", "redis_backup", "config_backup")
BACKUP_ENTRY = ("path", "manifest_path", "url", "size", "sha256", "manifest")


def rel(path):
    return str(path.relative_to(ROOT))


def docs(path):
    """DOCUMENTATION and RETURN of a module, parsed."""
    tree = ast.parse(path.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("DOCUMENTATION", "RETURN", "EXAMPLES"):
                found[node.targets[0].id] = yaml.safe_load(node.value.value)
    return found


def load(path):
    return importlib.import_module("%s.modules.%s" % (PACKAGE, path.stem))


def code_after_docs(path):
    """The module's code, without its documentation strings."""
    tree = ast.parse(path.read_text())
    tree.body = [
        node
        for node in tree.body
        if not (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "RETURN", "EXAMPLES")
        )
    ]
    return tree


# -- layering -------------------------------------------------------------------------------

# Ansible's module classes and kubernetes.core's module glue.
MODULE_CLASSES = {"AnsibleModule", "AnsibleK8SModule", "AUTH_ARG_SPEC"}


@pytest.mark.parametrize("path", UTILS, ids=rel)
def test_only_a_packages_module_py_sees_ansible(path):
    """No import of Ansible's module classes, no fail_json/exit_json/params, no parameter
    called ``module`` outside modules/ and a package's module.py."""
    if path.name == "module.py":
        return
    tree = ast.parse(path.read_text())
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            problems += ["imports %s" % a.name for a in node.names if a.name in MODULE_CLASSES]
        if isinstance(node, ast.Name) and node.id in MODULE_CLASSES:
            problems.append("uses %s" % node.id)
        if isinstance(node, ast.Attribute) and node.attr in ("fail_json", "exit_json"):
            problems.append("calls %s" % node.attr)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "params"
            and getattr(node.value, "id", "") == "module"
        ):
            problems.append("reads module.params")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [a.arg for a in node.args.args + node.args.kwonlyargs]
            if "module" in names:
                problems.append("%s() receives a module object" % node.name)
    assert not problems, "%s: %s" % (rel(path), "; ".join(sorted(set(problems))))


@pytest.mark.parametrize("path", UTILS, ids=rel)
def test_every_file_is_in_a_domain_package(path):
    assert path.parent != MODULE_UTILS, "%s belongs in a domain package" % rel(path)


@pytest.mark.parametrize("path", UTILS + MODULES, ids=rel)
def test_kubernetes_paths_are_built_in_the_registry(path):
    if MODULE_UTILS / "k8s" in path.parents:
        return
    tree = code_after_docs(path) if path in MODULES else ast.parse(path.read_text())
    paths = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.match(r"/apis?/|/api$|/version$", node.value)
    ]
    assert not paths, "%s builds Kubernetes paths itself: %s" % (rel(path), paths)


# -- thin modules ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_modules_are_thin(path):
    """A module file is its documentation, argspec() and main(): the work is a runner's."""
    tree = code_after_docs(path)
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert set(defined) <= {"argspec", "main"}, "%s defines %s" % (rel(path), defined)
    assert "main" in defined and "argspec" in defined


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_shared_options_come_from_their_doc_fragment_with_one_default(path):
    documentation = docs(path)["DOCUMENTATION"]
    fragments = documentation.get("extends_documentation_fragment") or []
    own = documentation.get("options") or {}
    spec = load(path).argspec()
    for fragment, options in FRAGMENT_OPTIONS.items():
        for name, default in options.items():
            if name not in spec or (name == "wait_timeout" and "wait" not in spec):
                continue  # a lock's wait_timeout (lease) is not a rollout wait
            assert fragment in fragments, "%s: %s is documented by %s" % (path.stem, name, fragment)
            # A module may say what the option means for it (Ansible merges its description
            # over the fragment's), never give it another type or default.
            redefined = set(own.get(name) or {}) & {"type", "default", "choices", "aliases"}
            assert not redefined, "%s redefines %s of %s: %s" % (path.stem, name, fragment, redefined)
            assert spec[name].get("default") == default, "%s: %s defaults to %r, not %r" % (
                path.stem,
                name,
                spec[name].get("default"),
                default,
            )


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_the_python_the_modules_need_is_declared(path):
    requirements = docs(path)["DOCUMENTATION"].get("requirements") or []
    assert any(re.match(r"python\s*>=\s*3\.11", r) for r in requirements), (
        "%s must declare python >= 3.11 (it uses datetime.UTC)" % path.stem
    )


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_state_values_say_restored_for_putting_a_record_back(path):
    spec = load(path).argspec()
    state = spec.get("state") or {}
    choices = state.get("choices") or []
    if "resumed" in choices:
        assert "restored" in choices, "%s: 'resumed' is only the deprecated alias of 'restored'" % path.stem
        description = " ".join(
            str(d) for d in (docs(path)["DOCUMENTATION"]["options"]["state"].get("description") or [])
        )
        assert "deprecated" in description.lower()
        assert re.search(r"`?resumed`?.*deprecated", (ROOT / "CHANGELOG.md").read_text(), re.S)


def test_one_phrase_for_nothing_was_changed():
    found = []
    for path in (
        sorted(PLUGINS.rglob("*.py"))
        + sorted((ROOT / "roles").rglob("*.yml"))
        + sorted((ROOT / "playbooks").rglob("*.yml"))
    ):
        text = path.read_text().lower()
        found += ["%s: %r" % (rel(path), w) for w in OTHER_WORDINGS if w in text]
    assert not found, "say 'nothing was changed' (common/result.nothing_changed): %s" % found


# -- results --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKUP_MODULES)
def test_every_backup_module_returns_one_backup_shape(name):
    returned = docs(PLUGINS / "modules" / ("%s.py" % name))["RETURN"]
    assert "backups" in returned, "%s returns its archives under backups" % name
    contains = returned["backups"].get("contains") or {}
    missing = [key for key in BACKUP_ENTRY if key not in contains]
    assert not missing, "%s: backups entries lack %s" % (name, missing)
    assert contains["manifest"]["type"] == "dict"
    duplicated = [key for key in BACKUP_ENTRY if key in returned]
    assert not duplicated, "%s also returns %s at the top level" % (name, duplicated)


def test_the_kubernetes_modules_take_the_runbooks_connection_and_api_timeout():
    """module_defaults reach every module with the Kubernetes options: group k8s (with
    kubernetes.core's) for the connection, group k8s_api (this collection's only) for
    api_timeout, which kubernetes.core's modules would refuse."""
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    kubernetes = sorted(
        path.stem
        for path in MODULES
        if "multiagent.ops.k8s" in (docs(path)["DOCUMENTATION"].get("extends_documentation_fragment") or [])
    )
    assert kubernetes, "no module extends the multiagent.ops.k8s fragment"
    assert sorted(m for m in groups["k8s"] if isinstance(m, str)) == kubernetes
    assert sorted(groups["k8s_api"]) == kubernetes
    frame = yaml.safe_load((ROOT / "playbooks" / "_runbook.yml").read_text())
    defaults = next(play for play in frame if "module_defaults" in play)["module_defaults"]
    assert "api_timeout" in defaults["group/multiagent.ops.k8s_api"]
    assert "api_timeout" not in defaults["group/multiagent.ops.k8s"]


def test_the_smoke_run_on_the_lowest_ansible_core_calls_every_module():
    """tests/smoke/every_module.yml (make smoke-min) packages and runs each module once on the
    lowest ansible-core: a module left out of it is never run there."""
    smoke = (ROOT / "tests" / "smoke" / "every_module.yml").read_text()
    missing = [path.stem for path in MODULES if "multiagent.ops.%s:" % path.stem not in smoke]
    assert not missing, "not in tests/smoke/every_module.yml: %s" % ", ".join(missing)
