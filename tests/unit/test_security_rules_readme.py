"""The README's table of the security audit's rules is the catalogue's (hack/security_rules.py
writes it): a rule added, renamed or re-ranked without the README fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load():
    spec = importlib.util.spec_from_file_location("security_rules", ROOT / "hack" / "security_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_lists_every_rule_of_the_catalogue():
    hack = load()
    text = (ROOT / "README.md").read_text()
    assert hack.rewrite(text, hack.table()) == text, "run .venv/bin/python hack/security_rules.py"


def test_the_table_has_one_line_per_rule():
    from ansible_collections.multiagent.ops.plugins.module_utils.security import audit, catalogue

    merged = catalogue.catalogue(*audit.ALL_RULES)
    lines = [line for line in load().table().splitlines() if line.startswith("| MAO-")]
    assert [line.split(" | ")[0][2:] for line in lines] == sorted(merged)
