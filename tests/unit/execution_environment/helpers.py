"""What the execution environment must hold, as data, and readers of what the repository says
(bindep rules per platform, the Python distributions plugins/ imports)."""

from __future__ import annotations

import ast
import functools
import sys
from importlib import metadata
from pathlib import Path

import yaml
from bindep import depends
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]

# /etc/os-release as the `distro` package reports it: (id, version, codename, name).
PLATFORMS = {
    "debian-12": ("debian", "12", "bookworm", "Debian GNU/Linux"),
    # The execution environment's base image (execution-environment.yml) and its siblings.
    "centos-stream-9": ("centos", "9", "", "CentOS Stream"),
    "rhel-9": ("rhel", "9.4", "Plow", "Red Hat Enterprise Linux"),
    "rocky-9": ("rocky", "9.4", "Blue Onyx", "Rocky Linux"),
}
EE_PLATFORM = "centos-stream-9"

# The commands the modules run, and the package each comes from on each family.
TOOLS = (
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "psql",
    "redis-cli",
    "redis-check-rdb",
    "redis-server",
    "zstd",
)
PACKAGE_OF = {
    "dpkg": {
        "pg_dump": "postgresql-client-15",
        "pg_dumpall": "postgresql-client-15",
        "pg_restore": "postgresql-client-15",
        "psql": "postgresql-client-15",
        "redis-cli": "redis-tools",
        "redis-check-rdb": "redis-tools",
        "redis-server": "redis-server",
        "zstd": "zstd",
    },
    "el9": {
        "pg_dump": "postgresql",
        "pg_dumpall": "postgresql",
        "pg_restore": "postgresql",
        "psql": "postgresql",
        "redis-cli": "redis",
        "redis-check-rdb": "redis",
        "redis-server": "redis",
        "zstd": "zstd",
    },
}
FAMILY = {"debian-12": "dpkg", "centos-stream-9": "el9", "rhel-9": "el9", "rocky-9": "el9"}


@functools.cache
def parsed(text):
    """bindep's reading of a rules text (its grammar takes about half a second to build)."""
    return depends.Depends(text)


def platform_profiles(monkeypatch, platform):
    """bindep's own platform profiles for a platform, from its os-release answers."""
    distro_id, version, codename, name = PLATFORMS[platform]
    monkeypatch.setattr(depends.distro, "id", lambda: distro_id)
    monkeypatch.setattr(depends.distro, "version", lambda *a, **kw: version)
    monkeypatch.setattr(depends.distro, "codename", lambda: codename)
    monkeypatch.setattr(depends.distro, "name", lambda *a, **kw: name)
    monkeypatch.setattr(depends.platform, "system", lambda: "Linux")
    return parsed("").platform_profiles()


def selected(text, profiles, *user_profiles):
    """The packages bindep rules select for these platform profiles and user profiles."""
    rules = parsed(text).active_rules(list(user_profiles or ["default"]) + list(profiles))
    return {rule[0] for rule in rules}


def load_yaml(path):
    return yaml.safe_load(Path(path).read_text())


# -- what plugins/ imports ---------------------------------------------------------------------


def _is_import_error_handler(handler):
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _imported_modules(tree):
    """(module, fallback) pairs: a fallback is imported in an ``except ImportError`` handler,
    as the alternative to what the ``try`` imports first."""
    fallback_nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                if handler.type is not None and _is_import_error_handler(handler):
                    for stmt in handler.body:
                        fallback_nodes.update(id(n) for n in ast.walk(stmt))
    looped = {}  # for name in ("boto3", ...): importlib.import_module(name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and isinstance(node.iter, (ast.Tuple, ast.List))
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.iter.elts)
        ):
            looped[node.target.id] = [e.value for e in node.iter.elts]
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]  # importlib.import_module("boto3"): a lazy import
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
        ):
            # Any other dynamic import would escape this check: say so rather than miss it.
            arg = node.args[0] if node.args else None
            assert isinstance(arg, ast.Name) and arg.id in looped, (
                "import_module() at line %d: name its modules as literals" % node.lineno
            )
            names = looped[arg.id]
        for name in names:
            yield name.split(".")[0], id(node) in fallback_nodes


def third_party_imports(root=ROOT):
    """{top-level module: [files]} of the third-party modules plugins/ needs (fallbacks left out).

    ``ansible`` is ansible-core's; ``ansible_collections`` are collections, not distributions."""
    required, fallbacks = {}, set()
    for path in sorted((root / "plugins").rglob("*.py")):
        for module, fallback in _imported_modules(ast.parse(path.read_text(), str(path))):
            if module in sys.stdlib_module_names or module in ("__future__", "ansible_collections"):
                continue
            if fallback:
                fallbacks.add(module)
            else:
                required.setdefault(module, []).append(str(path.relative_to(root)))
    return required, fallbacks - set(required)


@functools.cache
def _distributions_of_modules():
    return metadata.packages_distributions()


def distribution_of(module):
    """The installed distribution providing a top-level module (canonical name)."""
    dists = _distributions_of_modules().get(module)
    assert dists, "%s is imported by plugins/ but no installed distribution provides it" % module
    return canonicalize_name(dists[0])


def requirement_lines(text):
    """The requirement lines of a pip requirements text, comments stripped."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def installed_closure(requirements):
    """Canonical names of the distributions installing these requirements brings, read from
    the installed metadata (markers and extras evaluated here)."""
    seen, todo = set(), [Requirement(r) if isinstance(r, str) else r for r in requirements]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError as exc:
            raise AssertionError("%s is required but not installed in this environment" % req) from exc
        for line in dist.requires or []:
            sub = Requirement(line)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return {name for name, _extras in seen}
