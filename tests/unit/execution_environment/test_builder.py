"""`ansible-builder create` on execution-environment.yml, and what the build would install.

There is no container runtime here, so nothing is built: `create` only writes the build
context (Containerfile, _build/). The stages that need no network are then replayed from that
context: the galaxy stage's `ansible-galaxy collection install` of the built tarball (its
Galaxy dependency, kubernetes.core, taken from .collections instead), and the builder stage's
introspect step, with the context's own copy of the script and the Containerfile's own options.
What it writes is what the image's pip and dnf install."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import helpers

BIN = Path(sys.executable).parent
COLLECTION = "multiagent.ops"


def _run(argv, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120, **kw)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (argv, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The context `ansible-builder create` writes, and the introspect step's results."""
    work = tmp_path_factory.mktemp("ee")
    # The definition beside a tarball built from this checkout, as the README's steps leave them.
    _run([str(BIN / "ansible-galaxy"), "collection", "build", str(helpers.ROOT), "--output-path", str(work)])
    shutil.copy(helpers.ROOT / "execution-environment.yml", work)
    context = work / "context"
    _run(
        [sys.executable, "-m", "ansible_builder", "create", "-f", "execution-environment.yml"]
        + ["-c", str(context), "--output-filename", "Containerfile"],
        cwd=work,
    )
    containerfile = (context / "Containerfile").read_text()

    # Galaxy stage: `ansible-galaxy collection install -r requirements.yml` in _build.
    collections = work / "usr-share-ansible"
    # Nothing of the caller's collections: ansible-galaxy skips a collection it finds installed
    # on any configured path (make and the tests put this checkout on one).
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_COLLECTIONS_PATH")}
    env.update(ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1", ANSIBLE_CONFIG="")
    _run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--force",
            "--no-deps",
            "-r",
            "requirements.yml",
        ]
        + ["--collections-path", str(collections)],
        cwd=context / "_build",
        env=env,
    )
    core = collections / "ansible_collections" / "kubernetes" / "core"
    shutil.copytree(helpers.ROOT / ".collections" / "ansible_collections" / "kubernetes" / "core", core)

    # Builder stage: the introspect line of the Containerfile, its paths mapped to this context.
    [line] = [line for line in containerfile.splitlines() if "introspect.py introspect" in line]
    argv = shlex.split(line.removeprefix("RUN "))
    paths = {
        "/output/scripts/": "%s/" % (context / "_build" / "scripts"),
        "/tmp/src/": "%s/" % (work / "src"),
        "=/build/": "=%s/" % (context / "_build"),
    }
    argv = [sys.executable if a == "$PYCMD" else a for a in argv]
    for container_path, here in paths.items():
        argv = [a.replace(container_path, here) for a in argv]
    _run(argv + [str(collections)])
    return {
        "context": context,
        "containerfile": containerfile,
        "collection": collections / "ansible_collections" / "multiagent" / "ops",
        "pip": (work / "src" / "requirements.txt").read_text().splitlines(),
        "bindep": (work / "src" / "bindep.txt").read_text(),
    }


def _from(lines, collection):
    """The lines introspect attributes to a collection ("... # from collection x.y")."""
    suffix = "  # from collection %s" % collection
    return [line.removesuffix(suffix) for line in lines if line.endswith(suffix)]


def test_the_context_builds_on_the_base_image_with_the_tarball(build):
    definition = helpers.load_yaml(helpers.ROOT / "execution-environment.yml")
    containerfile = build["containerfile"]
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in containerfile
    assert list((build["context"] / "_build" / "collections").glob("multiagent-ops-*.tar.gz"))
    # The streams are enabled in the base stage, which the final stage (install-from-bindep) starts from.
    assert containerfile.index("module enable") < containerfile.index("FROM base AS final")
    assert containerfile.index("module enable") < containerfile.index("install-from-bindep")


def test_the_built_collection_carries_its_requirement_files(build):
    for name in ("requirements.txt", "bindep.txt"):
        assert (build["collection"] / name).read_text() == (helpers.ROOT / name).read_text()
    # introspect reads requirements.txt and bindep.txt only when meta/execution-environment.yml is absent.
    assert not (build["collection"] / "meta" / "execution-environment.yml").exists()


def test_the_images_python_requirements_are_what_plugins_import(build):
    own = _from(build["pip"], COLLECTION)
    declared = helpers.requirement_lines((helpers.ROOT / "requirements.txt").read_text())
    left_out = [line for line in declared if line not in own]
    # introspect leaves to the image what ansible-core brings (PyYAML); nothing else may go.
    core_needs = {canonicalize_name(Requirement(r).name) for r in helpers.installed_closure(["ansible-core"])}
    assert all(canonicalize_name(Requirement(line).name) in core_needs for line in left_out), left_out
    assert set(own) | set(left_out) == set(declared)

    imports, _fallbacks = helpers.third_party_imports()
    imported = {helpers.distribution_of(module) for module in imports}
    installed = helpers.installed_closure(own + ["ansible-core"])
    assert imported <= installed, "imported, not installed in the image: %s" % sorted(imported - installed)
    direct = {canonicalize_name(Requirement(line).name) for line in own}
    assert direct <= imported, "installed for nothing plugins/ imports: %s" % sorted(direct - imported)


def test_the_images_system_packages_include_the_tools(build, monkeypatch):
    # What install-from-bindep installs: the selected rules of every collection, on the EE's platform.
    profiles = helpers.platform_profiles(monkeypatch, helpers.EE_PLATFORM)
    rules = "\n".join(re.sub(r"\s+# from collection \S+$", "", line) for line in build["bindep"].splitlines())
    packages = helpers.selected(rules, profiles)
    wanted = {helpers.PACKAGE_OF["el9"][tool] for tool in helpers.TOOLS}
    assert wanted <= packages, "the image lacks %s" % sorted(wanted - packages)
    # Nothing else: no Debian package, nothing of the test stack (the `test` profile).
    assert packages == wanted, "the image would install %s" % sorted(packages - wanted)
    # The final stage fails the build if a tool is not on PATH after all.
    [check] = re.findall(r"for tool in ([^;]+);", build["containerfile"])
    assert set(check.split()) == set(helpers.TOOLS)
