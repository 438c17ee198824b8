"""Backup artefacts: atomic writes, names, manifests and verification, on real files."""

import datetime
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact

T0 = datetime.datetime(2026, 11, 22, 2, 0, 5, tzinfo=datetime.UTC)


def listing(directory):
    return sorted(os.listdir(directory))


def complete_manifest(path, data, **changes):
    manifest = artifact.new_manifest("postgresql", "mplp", str(path), "custom", "zstd", database="mplp")
    manifest.update(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        started=artifact.iso(T0),
        finished=artifact.iso(T0 + datetime.timedelta(seconds=3)),
        status="complete",
    )
    manifest.update(changes)
    return manifest


def backup(directory, data=b"dump bytes\x00\xff" * 1000, **changes):
    """An archive and its manifest, as a finished backup leaves them."""
    path = directory / "mplp-20261122T020005Z.dump.zst"
    artifact.write_bytes(str(path), data)
    artifact.write_manifest(str(path), complete_manifest(path, data, **changes))
    return path


# -- AtomicWriter ------------------------------------------------------------------------


def test_committed_file_has_the_data_its_digest_and_mode_0600(tmp_path):
    path = tmp_path / "a.dump.zst"
    chunks = [b"first\n", bytes(range(256)), b"x" * 300000]
    with artifact.AtomicWriter(str(path)) as out:
        for chunk in chunks:
            assert out.write(chunk) == len(chunk)
        out.commit()
    data = b"".join(chunks)
    assert path.read_bytes() == data
    assert out.size == len(data)
    assert out.sha256 == hashlib.sha256(data).hexdigest()
    assert artifact.sha256_file(str(path)) == (out.sha256, len(data))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert listing(tmp_path) == ["a.dump.zst"]


def test_the_mode_asked_for_is_applied_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        artifact.write_bytes(str(tmp_path / "m"), b"x", mode=0o640)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m").st_mode) == 0o640


def test_while_writing_only_a_hidden_partial_file_exists(tmp_path):
    with artifact.AtomicWriter(str(tmp_path / "a.dump.zst")) as out:
        out.write(b"some")
        names = listing(tmp_path)
        assert len(names) == 1
        assert names[0].startswith(".a.dump.zst.") and names[0].endswith(".partial")
        assert out.temp_path == str(tmp_path / names[0])
        out.commit()
    assert listing(tmp_path) == ["a.dump.zst"]


def test_an_exception_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError, match="dump died"):
        with artifact.AtomicWriter(str(tmp_path / "a.dump.zst")) as out:
            out.write(b"half a dump")
            raise RuntimeError("dump died")
    assert listing(tmp_path) == []


def test_leaving_without_commit_leaves_nothing_behind(tmp_path):
    with artifact.AtomicWriter(str(tmp_path / "a.dump.zst")) as out:
        out.write(b"half a dump")
    assert out.committed is False
    assert listing(tmp_path) == []


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "a.dump.zst"
    path.write_bytes(b"older backup")
    with pytest.raises(artifact.ArtifactError, match="already exists; refusing to overwrite"):
        with artifact.AtomicWriter(str(path)):
            pass
    assert path.read_bytes() == b"older backup"
    assert listing(tmp_path) == ["a.dump.zst"]


def test_a_file_that_appears_while_writing_is_not_overwritten(tmp_path):
    path = tmp_path / "a.dump.zst"
    with pytest.raises(artifact.ArtifactError, match="appeared while writing"):
        with artifact.AtomicWriter(str(path)) as out:
            out.write(b"new")
            path.write_bytes(b"someone else's")
            out.commit()
    assert path.read_bytes() == b"someone else's"
    assert listing(tmp_path) == ["a.dump.zst"]


def test_a_dangling_symlink_counts_as_existing(tmp_path):
    path = tmp_path / "a.dump.zst"
    os.symlink(str(tmp_path / "nowhere"), str(path))
    with pytest.raises(artifact.ArtifactError, match="already exists"):
        artifact.write_bytes(str(path), b"x")
    assert not (tmp_path / "nowhere").exists()


def test_overwrite_replaces_when_asked(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"old")
    artifact.write_bytes(str(path), b"new", overwrite=True)
    assert path.read_bytes() == b"new"
    assert listing(tmp_path) == ["state.json"]


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(
        artifact.ArtifactError, match="the backup directory %s does not exist" % (tmp_path / "no")
    ):
        artifact.write_bytes(str(tmp_path / "no" / "a"), b"x")


def test_write_bytes_returns_the_sha256(tmp_path):
    assert artifact.write_bytes(str(tmp_path / "a"), b"abc") == hashlib.sha256(b"abc").hexdigest()


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix,ext",
    [
        ("mplp_production", ".dump.zst"),
        ("mplp-production", ".dump.zst"),  # hyphens in the prefix
        ("db01-globals", ".globals.sql.zst"),
        ("ns-2026", ".tar.zst"),  # digits before the stamp
    ],
)
def test_archive_names_round_trip(prefix, ext):
    name = artifact.archive_name(prefix, T0, ext)
    assert name == "%s-20261122T020005Z%s" % (prefix, ext)
    assert artifact.parse_archive_name(name) == (prefix, T0, ext)
    assert artifact.parse_archive_name("/backups/pg/" + name) == (prefix, T0, ext)


def test_archive_names_are_in_utc():
    local = T0.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
    assert artifact.archive_name("db", local, ".dump.zst") == "db-20261122T020005Z.dump.zst"


def test_unsafe_prefixes_are_cleaned_and_still_parse():
    name = artifact.archive_name("../prod db/ä:x", T0, ".dump.zst")
    assert "/" not in name and " " not in name and ":" not in name
    prefix, moment, ext = artifact.parse_archive_name(name)
    assert (prefix, moment, ext) == (artifact.safe_part("../prod db/ä:x"), T0, ".dump.zst")
    assert artifact.safe_part("...") == "backup"


def test_names_sort_by_time():
    moments = [T0 + datetime.timedelta(seconds=s) for s in (86400 * 40, 1, 3600, 0)]
    names = [artifact.archive_name("db", m, ".dump.zst") for m in moments]
    assert [artifact.parse_archive_name(n)[1] for n in sorted(names)] == sorted(moments)


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        "db-20261122T020005Z",  # no extension
        "db-20261122-020005.dump.zst",
        "-20261122T020005Z.dump.zst",  # no prefix
        "db-20261399T020005Z.dump.zst",  # month 13: looks like a stamp, is not a time
        "db-20261122T250000Z.dump.zst",
    ],
)
def test_other_names_do_not_parse(name):
    assert artifact.parse_archive_name(name) is None


def test_manifest_names():
    assert artifact.manifest_name("/b/db-20261122T020005Z.dump.zst") == (
        "/b/db-20261122T020005Z.dump.zst.manifest.json"
    )
    assert artifact.is_manifest("db-20261122T020005Z.dump.zst.manifest.json")
    assert not artifact.is_manifest("db-20261122T020005Z.dump.zst")


def test_iso_round_trips_and_parse_iso_is_lenient():
    assert artifact.iso(T0) == "2026-11-22T02:00:05Z"
    assert artifact.parse_iso(artifact.iso(T0)) == T0
    assert artifact.parse_iso("2026-11-22T03:00:05.5+01:00") == T0 + datetime.timedelta(seconds=0.5)
    assert artifact.parse_iso("2026-11-22T02:00:05") == T0  # naive is UTC
    assert artifact.parse_iso("yesterday") is None
    assert artifact.parse_iso(None) is None
    assert artifact.parse_iso(1700000000) is None


# -- manifests -----------------------------------------------------------------------------


def test_a_complete_manifest_has_no_problems(tmp_path):
    assert artifact.manifest_problems(complete_manifest(tmp_path / "a", b"x")) == []


@pytest.mark.parametrize("field", artifact.REQUIRED)
def test_each_required_field_is_required(tmp_path, field):
    manifest = complete_manifest(tmp_path / "a", b"x")
    del manifest[field]
    assert "missing field %s" % field in artifact.manifest_problems(manifest)
    manifest[field] = ""
    assert "missing field %s" % field in artifact.manifest_problems(manifest)


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"status": "running"}, "status is running, not complete"),
        ({"status": "failed"}, "status is failed, not complete"),
        ({"manifest_version": 2}, "manifest_version 2 is newer than this collection reads"),
        ({"manifest_version": "1"}, "manifest_version '1' is not an integer"),
        ({"sha256": "ABC"}, "sha256 is not a SHA-256 hex digest"),
        ({"sha256": "A" * 64}, "sha256 is not a SHA-256 hex digest"),
        ({"started": "last night"}, "started is not an ISO 8601 time"),
    ],
)
def test_manifest_problems(tmp_path, changes, problem):
    manifest = complete_manifest(tmp_path / "a", b"x", **changes)
    assert artifact.manifest_problems(manifest) == [problem]


def test_new_manifest_is_running_until_filled():
    manifest = artifact.new_manifest("redis", "cache", "/b/cache-x.rdb.zst", "rdb", "zstd", label="l")
    assert manifest["status"] == "running"
    assert manifest["file"] == "cache-x.rdb.zst"
    assert manifest["manifest_version"] == artifact.MANIFEST_VERSION
    assert manifest["label"] == "l"
    assert "missing field size" in artifact.manifest_problems(manifest)


def test_check_content():
    manifest = {"size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}
    assert artifact.check_content(manifest, hashlib.sha256(b"abc").hexdigest(), 3) == []
    problems = artifact.check_content(manifest, hashlib.sha256(b"ab").hexdigest(), 2)
    assert problems == [
        "size is 2 bytes, the manifest says 3 (truncated or replaced?)",
        "sha256 is %s, the manifest says %s" % (hashlib.sha256(b"ab").hexdigest(), manifest["sha256"]),
    ]
    assert artifact.check_content(manifest, "0" * 64, 3) == [
        "sha256 is %s, the manifest says %s" % ("0" * 64, manifest["sha256"])
    ]
    assert artifact.check_content({"size": "3"}, "x", 3) == []
    assert artifact.check_content({"size": "big"}, "x", 3) == [
        "the manifest's size 'big' is not a number of bytes"
    ]


def test_write_and_read_manifest(tmp_path):
    archive = tmp_path / "a.dump.zst"
    manifest = complete_manifest(archive, b"x", tables={"public.t": {"rows": 1}})
    path = artifact.write_manifest(str(archive), manifest)
    assert path == str(archive) + ".manifest.json"
    assert artifact.read_manifest(path) == manifest
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(artifact.ArtifactError, match="already exists"):
        artifact.write_manifest(str(archive), dict(manifest, status="changed"))
    assert artifact.read_manifest(path)["status"] == "complete"


# -- verify_file ---------------------------------------------------------------------------


def test_verify_good_backup(tmp_path):
    path = backup(tmp_path)
    manifest, problems = artifact.verify_file(str(path))
    assert problems == []
    assert manifest["target"] == "mplp"


def test_verify_truncated_backup(tmp_path):
    path = backup(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    _manifest, problems = artifact.verify_file(str(path))
    assert problems[0] == "size is %d bytes, the manifest says %d (truncated or replaced?)" % (
        len(data) - 100,
        len(data),
    )
    assert problems[1].startswith("sha256 is ")
    assert len(problems) == 2


def test_verify_altered_backup_of_the_same_size(tmp_path):
    path = backup(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _manifest, problems = artifact.verify_file(str(path))
    assert len(problems) == 1
    assert problems[0].startswith(
        "sha256 is %s, the manifest says " % hashlib.sha256(bytes(data)).hexdigest()
    )


def test_verify_without_manifest(tmp_path):
    path = tmp_path / "mplp-20261122T020005Z.dump.zst"
    artifact.write_bytes(str(path), b"data")
    manifest, problems = artifact.verify_file(str(path))
    assert manifest is None
    assert problems == ["no manifest %s.manifest.json: the backup is incomplete or not ours" % path]


def test_verify_incomplete_backup(tmp_path):
    path = backup(tmp_path, status="running")
    _manifest, problems = artifact.verify_file(str(path))
    assert problems == ["status is running, not complete"]


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b"", "is not valid JSON"),
    ],
)
def test_verify_unreadable_manifest(tmp_path, content, problem):
    path = tmp_path / "a.dump.zst"
    path.write_bytes(b"x")
    (tmp_path / "a.dump.zst.manifest.json").write_bytes(content)
    manifest, problems = artifact.verify_file(str(path))
    assert manifest is None and len(problems) == 1 and problem in problems[0]


def test_verify_manifest_without_archive(tmp_path):
    path = backup(tmp_path)
    os.unlink(path)
    _manifest, problems = artifact.verify_file(str(path))
    assert problems == ["the archive %s does not exist" % path]


def test_verify_never_raises_for_odd_manifest_values(tmp_path):
    path = backup(tmp_path)
    manifest = json.loads((tmp_path / (path.name + ".manifest.json")).read_text())
    manifest.update(manifest_version="one", size="lots")
    _manifest, problems = artifact.verify_file(str(path), manifest)
    assert "manifest_version 'one' is not an integer" in problems
    assert "the manifest's size 'lots' is not a number of bytes" in problems


def test_verify_with_a_given_manifest_ignores_the_file_beside_it(tmp_path):
    path = backup(tmp_path)
    other = complete_manifest(path, b"other data")
    _manifest, problems = artifact.verify_file(str(path), other)
    assert len(problems) == 2 and problems[0].startswith("size is ")


def test_a_full_disk_at_close_still_removes_the_temporary_file(tmp_path):
    """On a full disk, closing the file fails too (its buffer cannot be flushed): the
    temporary file must go anyway."""

    class FullOnClose:
        def __init__(self, real):
            self.real = real
            self.closed = False

        def write(self, data):
            return self.real.write(data)

        def close(self):
            self.real.close()
            self.closed = True
            raise OSError(28, "No space left on device")

    target = tmp_path / "db-20261122T020000Z.dump.zst"
    with pytest.raises(RuntimeError):
        with artifact.AtomicWriter(str(target)) as out:
            out._file = FullOnClose(out._file)
            out.write(b"x" * 1000)
            raise RuntimeError("pg_dump stopped")
    assert list(tmp_path.iterdir()) == []


def test_every_archive_the_backup_modules_write_is_known_with_its_kind():
    """Retention takes only ARCHIVE_KINDS' extensions for backups: an extension a module
    writes but the registry lacks would make its backups foreign files, never pruned."""
    from ansible_collections.multiagent.ops.plugins.module_utils.backup import k8s_config as k8s_export
    from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
    from ansible_collections.multiagent.ops.plugins.module_utils.redis import snapshot as redis_backup

    written = {
        pgbackup.EXT["custom"]: "postgresql",
        pgbackup.EXT["globals"]: "postgresql-globals",
        k8s_export.ARCHIVE_EXT: k8s_export.MANIFEST_KIND,
    }
    written.update({ext: redis_backup.KIND for ext in redis_backup.EXTENSIONS.values()})
    assert written == artifact.ARCHIVE_KINDS


def test_backup_entry_is_one_shape_for_every_backup_module():
    manifest = {"size": 12, "sha256": "ab" * 32, "kind": "redis"}
    entry = artifact.backup_entry("/b/r-20261122T020000Z.rdb.zst", manifest, kind="redis")
    assert entry == {
        "path": "/b/r-20261122T020000Z.rdb.zst",
        "manifest_path": "/b/r-20261122T020000Z.rdb.zst.manifest.json",
        "url": "/b/r-20261122T020000Z.rdb.zst",
        "size": 12,
        "sha256": "ab" * 32,
        "manifest": manifest,
        "kind": "redis",
    }
    planned = artifact.backup_entry("/b/x.dump.zst", url="s3://bucket/x.dump.zst")
    assert (planned["size"], planned["sha256"], planned["manifest"], planned["url"]) == (
        None,
        None,
        None,
        "s3://bucket/x.dump.zst",
    )
