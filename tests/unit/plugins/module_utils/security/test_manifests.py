"""Reading manifests: multi-document YAML with each document's first line, List kinds
unwrapped, what is not Kubernetes skipped with a warning, bad YAML named by file and line."""

from __future__ import annotations

import json

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.security import manifests

MULTI = """\
# the platform
apiVersion: v1
kind: Service
metadata: {name: a}
---
# a comment before the object

apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
  annotations:
    note: |
      a block that holds --- in the middle of a line
---
---
just: a mapping
--- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
...
"""


def test_documents_keep_their_index_and_first_line(tmp_path):
    path = tmp_path / "platform.yaml"
    path.write_text(MULTI)
    warnings = []
    read = manifests.read([str(path)], warnings.append)
    assert [(obj["metadata"]["name"], source["document"], source["line"]) for obj, source in read] == [
        ("a", 0, 2),
        ("b", 1, 8),
        ("c", 4, 18),
    ]
    assert read[1][0]["metadata"]["annotations"]["note"] == "a block that holds --- in the middle of a line\n"
    assert all(pair[1]["file"] == str(path) for pair in read)
    [warning] = warnings
    assert str(path) in warning and "document 3 (line 17)" in warning


def test_a_directive_belongs_to_the_next_document(tmp_path):
    path = tmp_path / "d.yml"
    path.write_text("%YAML 1.1\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    [(obj, source)] = manifests.read([str(path)])
    assert obj["kind"] == "Service" and (source["line"], source["document"]) == (3, 0)
    path.write_text("%YAML 1.1\n---\napiVersion: v1\nkind: [\n")
    with pytest.raises(manifests.ManifestError, match="line 5"):
        manifests.read([str(path)])


def test_list_kinds_are_unwrapped(tmp_path):
    listed = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}],
    }
    api_list = {"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{"metadata": {"name": "d"}}]}
    (tmp_path / "a.json").write_text(json.dumps(listed))
    (tmp_path / "b.yaml").write_text(json.dumps(api_list))
    read = manifests.read([str(tmp_path)])
    assert [(o["kind"], o["apiVersion"], s["item"]) for o, s in read] == [
        ("Service", "v1", 0),
        ("Deployment", "apps/v1", 0),
    ]


def test_directories_are_searched_recursively_in_order_without_hidden_files(tmp_path):
    (tmp_path / "z").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("z/b.yaml", "a.yml", ".git/c.yaml", "README.md", ".hidden.yaml"):
        (tmp_path / name).write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    assert manifests.files_of([str(tmp_path)]) == [str(tmp_path / "a.yml"), str(tmp_path / "z" / "b.yaml")]


def test_bad_yaml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: Service\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n")
    with pytest.raises(manifests.ManifestError) as error:
        manifests.read([str(path)])
    assert str(path) in str(error.value) and "line 8" in str(error.value)
    path.write_text("a: 1\n---\nkey: value\n  bad: indent\n")
    with pytest.raises(manifests.ManifestError, match="line 4"):
        manifests.read([str(path)])


def test_a_missing_path_and_bad_json(tmp_path):
    with pytest.raises(manifests.ManifestError, match="no such file"):
        manifests.read([str(tmp_path / "nope")])
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(manifests.ManifestError, match="x.json: not valid JSON"):
        manifests.read([str(tmp_path / "x.json")])


def test_waiver_files(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("waivers:\n  - {rule: MAO-008, reason: r, expires: 2027-01-01}\n")
    assert manifests.read_waivers(str(path))[0]["rule"] == "MAO-008"
    path.write_text("- {rule: MAO-008}\n")
    assert manifests.read_waivers(str(path)) == [{"rule": "MAO-008"}]
    path.write_text("waivers: 3\n")
    with pytest.raises(manifests.ManifestError, match="no list"):
        manifests.read_waivers(str(path))
    path.write_text("- [\n")
    with pytest.raises(manifests.ManifestError, match="w.yml line"):
        manifests.read_waivers(str(path))
