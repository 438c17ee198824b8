"""The changelog: fragments in the antsibull-changelog format, CHANGELOG.md generated from them.

A fragment that antsibull-changelog refuses fails here, before a release would trip on it;
CHANGELOG.md is what `make changelog` writes from changelogs/. antsibull-changelog is part
of .venv's tool chain (hack/requirements-dev.txt), not of .venv-min's runtime set, so
`make unit-min` leaves these tests out; `make unit` runs them."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytest.importorskip("antsibull_changelog", reason="antsibull-changelog is in .venv's tool chain only")

from antsibull_changelog.lint import lint_changelog_yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("hack_changelog", ROOT / "hack" / "changelog.py")
changelog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(changelog)


@pytest.fixture
def project(tmp_path):
    """A copy of what the changelog is made from: galaxy.yml and changelogs/."""
    shutil.copy(ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    shutil.copytree(ROOT / "changelogs", tmp_path / "changelogs")
    return tmp_path


def test_the_recorded_releases_lint():
    assert lint_changelog_yaml(str(ROOT / "changelogs" / "changelog.yaml")) == []


def test_changelog_md_is_generated_from_the_fragments_and_releases():
    path, text = changelog.render()
    assert path == ROOT / "CHANGELOG.md"
    assert path.read_text(encoding="utf-8") == text, "CHANGELOG.md is not up to date: run `make changelog`"


@pytest.mark.parametrize(
    "content",
    [
        "bugfixes:\n  - lease - a colon: makes this item a mapping\n",
        "new_things:\n  - a section the configuration does not have\n",
        "minor_changes: one string where a list belongs\n",
        "bugfixes: [unclosed\n",
    ],
)
def test_a_bad_fragment_fails(project, content, capsys):
    (project / "changelogs" / "fragments" / "bad.yml").write_text("---\n" + content, encoding="utf-8")
    with pytest.raises(changelog.LintError):
        changelog.render(project)
    assert "bad.yml" in capsys.readouterr().out


def test_fragments_are_rendered_as_the_next_release_and_nothing_is_written(project):
    fragments = project / "changelogs" / "fragments"
    for old in fragments.iterdir():
        old.unlink()
    (fragments / "fix.yml").write_text("---\nbugfixes:\n  - lease - a fixed thing.\n", encoding="utf-8")
    recorded = (project / "changelogs" / "changelog.yaml").read_text(encoding="utf-8")
    _, text = changelog.render(project)
    released = text.index("## v0\\.1\\.0")
    assert text.index("Not released yet") < text.index("a fixed thing") < released
    assert sorted(p.name for p in fragments.iterdir()) == ["fix.yml"]
    assert (project / "changelogs" / "changelog.yaml").read_text(encoding="utf-8") == recorded


def test_without_fragments_only_the_releases_are_rendered(project):
    for old in (project / "changelogs" / "fragments").iterdir():
        old.unlink()
    _, text = changelog.render(project)
    assert "Not released yet" not in text
    assert "## v0\\.1\\.0" in text


@pytest.mark.parametrize(
    "planned, released, expected",
    [
        ("0.2.0", ["0.1.0"], "0.2.0"),  # galaxy.yml already names the next release
        ("0.1.0", ["0.1.0"], "0.2.0"),  # galaxy.yml still names the released one
        ("1.4.2", ["1.3.0", "1.4.2"], "1.5.0"),
    ],
)
def test_the_next_version(planned, released, expected):
    assert changelog.next_version(planned, released) == expected
