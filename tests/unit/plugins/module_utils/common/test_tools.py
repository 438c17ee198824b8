"""Finding tools (common/tools.py): the directories given, PATH, the system directories."""

import os

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common import tools


def tool(directory, name="zstd", mode=0o755):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return str(path)


def test_the_directories_given_come_first_then_path_then_the_fallback(tmp_path, monkeypatch):
    on_path = tool(tmp_path / "path")
    given = tool(tmp_path / "given")
    fallback = tool(tmp_path / "fallback")
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    assert tools.find_tool("zstd", [str(tmp_path / "none"), str(tmp_path / "given")]) == given
    assert tools.find_tool("zstd", fallback=[str(tmp_path / "fallback")]) == on_path
    assert tools.find_tool("zstd", search_path=False, fallback=[str(tmp_path / "fallback")]) == fallback
    assert tools.find_tool("zstd", search_path=False, fallback=()) is None


def test_a_file_that_is_not_executable_is_not_a_tool(tmp_path, monkeypatch):
    tool(tmp_path / "bin", mode=0o644)
    (tmp_path / "dir" / "zstd").mkdir(parents=True)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert tools.find_tool("zstd", [str(tmp_path / "bin"), str(tmp_path / "dir")], fallback=()) is None


def test_a_given_tool_must_be_an_executable_file(tmp_path):
    path = tool(tmp_path / "bin")
    assert tools.given_tool(path, "zstd") == path
    os.chmod(path, 0o644)
    with pytest.raises(tools.ToolError, match="is not an executable file \\(given for zstd\\)"):
        tools.given_tool(path, "zstd")


def test_the_newest_version_wins(tmp_path):
    for version in ("9", "15", "13", "16beta"):
        (tmp_path / "postgresql" / version / "bin").mkdir(parents=True)
    found = tools.versioned_dirs(str(tmp_path / "postgresql" / "*" / "bin"))
    assert [os.path.relpath(path, tmp_path) for path in found][:3] == [
        "postgresql/15/bin",
        "postgresql/13/bin",
        "postgresql/9/bin",
    ]
    paths = ["/usr/lib/postgresql/9/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/13/bin"]
    assert sorted(paths, key=tools.version_of, reverse=True)[0] == "/usr/lib/postgresql/15/bin"
