"""The built collection holds only collection files, also when built from a worked-in checkout.

galaxy.yml's `manifest` is an allow-list; this test builds the tarball the way a release is
built (`ansible-galaxy collection build`) from a copy of the checkout littered with what a
developer's tree holds after `make test`, `make sanity` and a few builds, and compares the
tarball's file list with the repository's files under the shipped paths: nothing else
ships, and nothing of those paths is left out. It needs no stack (it builds only)."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.parallel]

ANSIBLE_GALAXY = str(Path(sys.executable).parent / "ansible-galaxy")

# What a Galaxy user gets: the collection's content and documentation, its changelog, and
# what an execution environment reads. MANIFEST.json and FILES.json are the build's own.
SHIPPED_FILES = {
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "requirements.txt",
    "bindep.txt",
    "execution-environment.yml",
}
SHIPPED_DIRS = ("plugins/", "roles/", "playbooks/", "meta/", "docs/", "changelogs/")
EXAMPLE_INVENTORIES = ("inventories/mplp/", "inventories/langgraph/")
BUILD_FILES = {"MANIFEST.json", "FILES.json"}

# What a worked-in checkout holds besides the repository's files.
JUNK = [
    "build/sanity/ansible_collections/multiagent/ops/plugins/modules/lease.py",
    "build/sanity/ansible_collections/multiagent/ops/tests/output/.tmp/sanity.json",
    "reports/demo/health.md",
    "reports/x",
    "plugins/module_utils/k8s/__pycache__/client.cpython-311.pyc",
    "plugins/modules/__pycache__/lease.cpython-311.pyc",
    "plugins/filter/stale.pyc",
    "roles/backup/molecule/extra/converge.yml",
    "roles/deploy/tasks/.main.yml.swp",
    "playbooks/deploy.yml~",
    ".pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.17.6/123456",
    ".ansible/collections/ansible_collections/x/y/MANIFEST.json",
    ".cache/pip/http/a",
    "tests/output/junit/sanity.xml",
    "bench/results/run.json",
    "multiagent-ops-0.0.9.tar.gz",
    "collections/requirements.yml",
]


def shipped(path):
    """Whether a file of the repository belongs in the tarball."""
    if "/molecule/" in path:
        return False
    return path in SHIPPED_FILES or path.startswith(SHIPPED_DIRS) or path.startswith(EXAMPLE_INVENTORIES)


def repository_files():
    """The checkout's tracked and new (not ignored) files: the tree a clean clone would have."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    return sorted(p for p in out.decode().split("\0") if p and (ROOT / p).is_file())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tarball built from a littered copy of the checkout, and the copy's files."""
    tree = tmp_path_factory.mktemp("checkout")
    files = repository_files()
    for rel in files:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tree / rel)
    for rel in JUNK:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(b"junk\n" * 4096)
    # Bulky leftovers: a previous build and a big sanity tree count against the size.
    (tree / "build" / "sanity" / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (tree / ".venv").symlink_to(ROOT / ".venv")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [ANSIBLE_GALAXY, "collection", "build", "--output-path", str(out), str(tree)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = out.glob("multiagent-ops-*.tar.gz")
    return tarball, files


def members(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_the_tarball_holds_the_repository_files_under_the_shipped_paths_and_nothing_else(built):
    tarball, files = built
    names = members(tarball)
    expected = {f for f in files if shipped(f)} | BUILD_FILES
    assert sorted(names - expected) == [], "shipped but not collection files"
    assert sorted(expected - names) == [], "collection files left out of the tarball"


def test_the_tarball_ships_no_development_or_generated_file(built):
    tarball, _ = built
    names = members(tarball)
    tops = {n.split("/")[0] for n in names}
    assert tops <= SHIPPED_FILES | BUILD_FILES | {d.rstrip("/") for d in SHIPPED_DIRS} | {"inventories"}
    assert {n.split("/")[1] for n in names if n.startswith("inventories/")} <= {"mplp", "langgraph"}
    leaked = [
        n
        for n in names
        if "/molecule/" in n or "__pycache__" in n or n.endswith((".pyc", "~", ".swp", ".tar.gz"))
    ]
    assert leaked == []
    # The essentials are there: the collection cannot work without them.
    for needed in ("LICENSE", "README.md", "meta/runtime.yml", "plugins/modules/platform_health.py"):
        assert needed in names


def test_the_tarball_is_small_and_describes_itself(built):
    tarball, _ = built
    assert tarball.stat().st_size < 1024 * 1024
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        listing = json.load(tar.extractfile("FILES.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("multiagent", "ops")
    assert info["license"] == ["GPL-3.0-or-later"]
    # No placeholder homes: a URL that is given must not be an example one.
    for key in ("repository", "documentation", "homepage", "issues"):
        assert "example" not in (info.get(key) or "")
    listed = {f["name"] for f in listing["files"] if f["ftype"] == "file"}
    assert listed == members(tarball) - BUILD_FILES
