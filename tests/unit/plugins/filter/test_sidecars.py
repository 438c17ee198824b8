"""Every filter's YAML doc sidecar parses (ansible-doc and ansible-lint read them: a broken one
hides the filter's documentation) and documents a filter that a plugin file exports; every
exported filter has one."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

FILTERS = Path(__file__).resolve().parents[4] / "plugins" / "filter"
PACKAGE = "ansible_collections.multiagent.ops.plugins.filter"


def exported():
    names = set()
    for path in FILTERS.glob("*.py"):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module("%s.%s" % (PACKAGE, path.stem))
        names |= set(module.FilterModule().filters())
    return names


@pytest.mark.parametrize("path", sorted(FILTERS.glob("*.yml")), ids=lambda p: p.name)
def test_the_sidecar_parses_and_names_its_filter(path):
    data = yaml.safe_load(path.read_text())
    doc = data["DOCUMENTATION"]
    assert doc["name"] == path.stem
    assert doc.get("short_description") and isinstance(
        doc.get("positional", doc.get("options", {})), (str, list, dict)
    )
    assert "RETURN" in data and "EXAMPLES" in data
    assert path.stem in exported(), "%s documents a filter no plugin file exports" % path.name


def test_every_filter_has_a_sidecar():
    documented = {p.stem for p in FILTERS.glob("*.yml")}
    assert exported() - documented == set()
