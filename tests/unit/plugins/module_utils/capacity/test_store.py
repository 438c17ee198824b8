"""The report directory: atomic writes, only where the content differs, nothing in check mode."""

from __future__ import annotations

import os

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.capacity import store


def test_files_are_written_once_and_a_rerun_of_the_same_content_changes_nothing(tmp_path):
    target = tmp_path / "reports" / "new"
    files = {"a.md": b"# a\n", "a.html": b"<html></html>\n"}
    assert [f["changed"] for f in store.put(str(target), files)] == [True, True]
    assert (target / "a.md").read_bytes() == b"# a\n"
    assert oct((target / "a.md").stat().st_mode & 0o777) == "0o644"
    assert [f["changed"] for f in store.put(str(target), files)] == [False, False]
    changed = store.put(str(target), {"a.md": b"# b\n", "a.html": b"<html></html>\n"})
    assert [f["changed"] for f in changed] == [True, False]
    assert sorted(os.listdir(target)) == ["a.html", "a.md"]  # no temporary file left


def test_check_mode_writes_nothing_and_says_what_would_change(tmp_path):
    target = tmp_path / "r"
    result = store.put(str(target), {"a.md": b"x"}, check_mode=True)
    assert result == [{"path": str(target / "a.md"), "changed": True}]
    assert not target.exists()


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    (tmp_path / "a.md").write_bytes(b"old")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    done = []
    with pytest.raises(OSError, match="disk full"):
        store.put(str(tmp_path), {"a.md": b"new"}, out=done)
    assert (tmp_path / "a.md").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.md"] and done == []
