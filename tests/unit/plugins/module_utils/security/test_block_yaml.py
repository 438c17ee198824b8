"""The fast YAML reader reads its subset exactly as PyYAML does, and leaves everything else
to PyYAML (Unsupported) rather than reading it differently."""

from __future__ import annotations

import datetime

import pytest
import yaml

from ansible_collections.multiagent.ops.plugins.module_utils.security import block_yaml

from .objects import deployment, with_init

READ = [
    "a: 1\nb: two\n",
    "---\napiVersion: v1\nkind: Service\n",
    "--- # a comment on the marker line\na: 1\n",
    "# only a comment\n\n",
    "a:\n  b:\n    c: d\n  e: f\ng: h\n",
    "items:\n- a\n- b\n-   c\n",
    "items:\n  - name: x\n    value: 1\n  - name: y\n",
    "items:\n- name: x\n  args:\n  - --flag\n  - -v\nnext: 1\n",
    "nested:\n- - a\n  - b\n- - c\n",
    "empty:\nalso: ~\nnull_word: null\n",
    "item:\n-\n  a: 1\n-\n- b\n",
    "bools: [yes, no, on, off, true, False, TRUE]\n",
    "numbers: [1, -2, +3, 0x1F, 0755, 1_000, 1.5, .inf, -.Inf, .nan, 1e3, 6.8e+5, 12:30]\n",
    "strings: [100m, 128Mi, '0755', \"true\", v1.2.3, 1.2.3, a:b, 'it''s']\n",
    "date: 2027-03-31\nstamp: 2001-12-14t21:59:43.10-05:00\n",
    'quoted: "tab\\tnew\\nline \\" quote \\\\ back"\nsingle: \'a # not a comment\'\n',
    "comment: value # a comment\nhash: a#b\nurl: http://x:80/p\n",
    "key with spaces: v\n'quoted key': 1\n\"another: key\": 2\n",
    "annotations:\n  nginx.ingress.kubernetes.io/configuration-snippet: |\n"
    "    more_set_headers x;\n    # kept\n\n    last\n",
    "strip: |-\n  a\n  b\nnext: 1\n",
    "block: |\n  a\n    indented\n  b\n\n\nafter: 1\n",
    "folded: >\n  a\n  b\nfolded_strip: >-\n  c\n  d\n",
    "flow: {a: 1, b: [x, y], c: {d: e}, 'q': \"r\", empty: {}, none: []}\n",
    "flow_seq: [ALL, 'NET_RAW', {name: x}, [1, 2]]\n",
    "flow_empty_value: {a: , b}\n",
    "list:\n- {name: a, value: b}\n- [1, 2]\n",
    "same_indent_seq:\n- a\nnext:\n- b\n",
    "dup: 1\ndup: 2\n",
    "- a\n- b: c\n  d: e\n",
    "x: 'multi '' quote'\n",
]


@pytest.mark.parametrize("text", READ)
def test_the_subset_reads_as_pyyaml_reads_it(text):
    assert block_yaml.load(text) == yaml.safe_load(text)


def test_a_generated_workload_reads_as_pyyaml_reads_it():
    text = yaml.safe_dump(with_init(deployment()), sort_keys=False)
    assert block_yaml.load(text) == yaml.safe_load(text)
    text = yaml.safe_dump(with_init(deployment()), default_flow_style=True, width=1 << 16)
    assert block_yaml.load(text) == yaml.safe_load(text)  # one line of flow


UNSUPPORTED = [
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "base: &b {a: 1}\nderived:\n  <<: *b\n",
    "a: |2\n   x\n",
    "a: |+\n  x\n\n",
    "a: >\n  x\n\n  y\n",
    "a: plain\n  continued\n",
    'a: "double\n  quoted"\n',
    "a: [1,\n  2]\n",
    "a:\n\tb: 1\n",
    "? complex\n: key\n",
    "--- {a: 1}\n",
    "just a scalar\n",
    "- a\n - b\n",
    "a: 'x' y\n",
    'a: "\\x41"\n',
    "a: b: c\n",
]


@pytest.mark.parametrize("text", UNSUPPORTED)
def test_what_is_outside_the_subset_is_left_to_pyyaml(text):
    with pytest.raises(block_yaml.Unsupported):
        block_yaml.load(text)


def test_plain_scalars_are_resolved_by_pyyaml_rules():
    assert block_yaml.plain("2027-03-31") == datetime.date(2027, 3, 31)
    assert block_yaml.plain("yes") is True and block_yaml.plain("~") is None
    assert block_yaml.plain("100m") == "100m" and block_yaml.plain("0o17") == "0o17"
    with pytest.raises(block_yaml.Unsupported):
        block_yaml.plain("<<")
