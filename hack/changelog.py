"""Write CHANGELOG.md from changelogs/ with antsibull-changelog (`make changelog`).

`antsibull-changelog generate` renders only the releases recorded in
changelogs/changelog.yaml: changes not released yet stay fragments (changelogs/fragments/)
until `antsibull-changelog release` records them. So that CHANGELOG.md also says what the
next release brings, this adds the fragments, in memory only, as that release: the version
galaxy.yml names when it has not been released yet, else the next minor version. Nothing in
changelogs/ is written. The fragments are linted first, as `antsibull-changelog lint` does.

    python hack/changelog.py           # write CHANGELOG.md
    python hack/changelog.py --check   # fail when CHANGELOG.md is not what changelogs/ gives
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from antsibull_changelog.changes import load_changes
from antsibull_changelog.cli import lint_fragments
from antsibull_changelog.config import ChangelogConfig, CollectionDetails, PathsConfig
from antsibull_changelog.fragment import load_fragments
from antsibull_changelog.rendering.changelog import generate_changelog_content
from antsibull_changelog.utils import determine_flatmap

ROOT = Path(__file__).resolve().parents[1]

UNRELEASED = (
    "Not released yet: the changes since {previous} (changelogs/fragments/). "
    "The version is the one galaxy.yml names, or the next minor one."
)


class LintError(Exception):
    """A fragment does not lint; the linter has printed why."""


def next_version(planned: str, released: list[str]) -> str:
    """The version the fragments will be released as."""
    if planned not in released:
        return planned
    major, minor = (int(part) for part in released[-1].split(".")[:2])
    return "%d.%d.0" % (major, minor + 1)


def render(root: Path = ROOT) -> tuple[Path, str]:
    """CHANGELOG.md's path and text: the releases, and the fragments as the next one."""
    paths = PathsConfig.force_collection(str(root))
    details = CollectionDetails(paths)
    config = ChangelogConfig.load(paths, details)
    changes = load_changes(config)
    exceptions: list = []
    fragments = load_fragments(paths, config, exceptions=exceptions)
    if lint_fragments(config, fragments, exceptions):
        raise LintError("changelog fragments do not lint (see above)")
    if fragments:
        released = sorted(changes.releases, key=changes.version_constructor)
        version = next_version(details.get_version(), released)
        changes.add_release(version, None, datetime.date.today())
        for fragment in sorted(fragments, key=lambda f: f.name):
            changes.add_fragment(fragment, version)
        entry = changes.releases[version]["changes"]
        entry.setdefault(config.prelude_name, UNRELEASED.format(previous=released[-1]))
    (output,) = config.output
    text, warnings = generate_changelog_content(
        config, changes, output, flatmap=determine_flatmap(details, config)
    )
    if warnings:
        raise LintError("\n".join(warnings))
    return root / output.file, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check CHANGELOG.md is up to date")
    args = parser.parse_args(argv)
    try:
        path, text = render()
    except LintError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print("%s is not up to date: run `make changelog`" % path.name, file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
