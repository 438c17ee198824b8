"""Backup locations: a directory and an S3 bucket (moto in process) behind one interface."""

import datetime
import hashlib
import os

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.backup import store as stores

BUCKET = "unit-backups"
REGION = "us-east-1"
KEYS = {"access_key": "AKIAUNITTESTKEY00001", "secret_key": "unit-test-secret-do-not-print"}


@pytest.fixture
def aws(monkeypatch):
    # No real credentials or config files may leak into a test.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield boto3.client("s3", region_name=REGION)


def s3_store(prefix="backups/pg", **more):
    options = dict(bucket=BUCKET, prefix=prefix, region=REGION, **KEYS)
    options.update(more)
    return stores.S3Store(**options)


@pytest.fixture(params=["directory", "s3"])
def any_store(request, tmp_path):
    """The same contract checked against both kinds of location."""
    if request.param == "directory":
        yield stores.LocalStore(str(tmp_path / "backups"), create=True)
    else:
        with mock_aws():
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
            yield s3_store()


# --- the common contract ----------------------------------------------------------------
def test_write_read_list_exists_delete(any_store):
    digest = any_store.write_bytes("a.manifest.json", b'{"x": 1}')
    assert digest == hashlib.sha256(b'{"x": 1}').hexdigest()
    any_store.write_bytes("b.dump", b"0123456789")
    entries = any_store.list()
    assert [e.name for e in entries] == ["a.manifest.json", "b.dump"]
    assert [e.size for e in entries] == [8, 10]
    now = datetime.datetime.now(datetime.UTC)
    assert all(abs((now - e.modified).total_seconds()) < 300 for e in entries)
    assert any_store.read_bytes("a.manifest.json") == b'{"x": 1}'
    assert any_store.exists("b.dump") is True and any_store.exists("c.dump") is False
    assert any_store.sha256("b.dump") == (hashlib.sha256(b"0123456789").hexdigest(), 10)
    assert any_store.delete("b.dump") is True
    assert any_store.delete("b.dump") is False
    assert [e.name for e in any_store.list()] == ["a.manifest.json"]


def test_names_must_be_plain(any_store):
    for bad in ("", "..", "sub/x.dump", "../x.dump"):
        with pytest.raises(stores.StoreError, match="not a plain"):
            any_store.exists(bad)


def test_existing_backup_is_not_overwritten(any_store):
    any_store.write_bytes("x.dump", b"first")
    with pytest.raises((stores.StoreError, artifact.ArtifactError), match="refusing to overwrite"):
        any_store.write_bytes("x.dump", b"second")
    assert any_store.read_bytes("x.dump") == b"first"
    any_store.write_bytes("x.dump", b"second", overwrite=True)
    assert any_store.read_bytes("x.dump") == b"second"


def test_put_file_and_fetch_round_trip(any_store, tmp_path):
    source = tmp_path / "source.bin"
    payload = os.urandom(300 * 1024)
    source.write_bytes(payload)
    any_store.put_file(str(source), "db-20261122T020000Z.dump.zst")
    target = tmp_path / "restore" / "copy.bin"
    target.parent.mkdir()
    any_store.fetch("db-20261122T020000Z.dump.zst", str(target))
    assert target.read_bytes() == payload
    assert os.listdir(target.parent) == ["copy.bin"]


def test_read_of_a_missing_name_names_it(any_store):
    with pytest.raises(stores.StoreError, match="cannot read .*missing.dump"):
        any_store.read_bytes("missing.dump")


# --- directory specifics ----------------------------------------------------------------
def test_directory_lists_plain_files_only(tmp_path):
    store = stores.LocalStore(str(tmp_path))
    (tmp_path / ".db-20261122T020000Z.dump.zst.abc.partial").write_bytes(b"partial")
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.dump").write_bytes(b"a")
    assert [e.name for e in store.list()] == ["a.dump"]
    assert store.local_path("a.dump") == str(tmp_path / "a.dump")


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(stores.StoreError, match="backup directory .*nowhere does not exist"):
        stores.LocalStore(str(tmp_path / "nowhere")).list()


def test_a_directory_that_cannot_be_read_is_named_not_a_traceback(tmp_path, monkeypatch):
    store = stores.LocalStore(str(tmp_path))

    def denied(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(stores.os, "scandir", denied)
    for look in (store.list, store.others):
        with pytest.raises(stores.StoreError, match="^cannot list %s: Permission denied$" % tmp_path):
            look()


def test_a_file_that_cannot_be_deleted_is_named(tmp_path, monkeypatch):
    store = stores.LocalStore(str(tmp_path))
    (tmp_path / "x.dump").write_bytes(b"x")

    def busy(path):
        raise PermissionError(1, "Operation not permitted", path)

    monkeypatch.setattr(stores.os, "unlink", busy)
    with pytest.raises(
        stores.StoreError, match="^cannot delete %s: Operation not permitted$" % (tmp_path / "x.dump")
    ):
        store.delete("x.dump")


def test_missing_boto3_gets_ansibles_message(monkeypatch):
    assert stores.missing_boto3("for an S3 location") is None
    monkeypatch.setattr(stores, "load_boto3", lambda: ImportError("No module named 'boto3'"))
    missing = stores.missing_boto3("for an S3 location")
    assert missing["msg"].startswith("Failed to import the required Python library (boto3) on ")
    assert missing["exception"] == "ImportError: No module named 'boto3'\n"


# --- S3 specifics -----------------------------------------------------------------------
def test_s3_lists_only_direct_children_of_its_prefix_across_pages(aws):
    for key in ["backups/pg/%02d.dump" % i for i in range(7)] + [
        "backups/pg/nested/old.dump",
        "backups/pg/.hidden",
        "backups/pgx/other.dump",
        "backups/other.dump",
    ]:
        aws.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    store = s3_store(prefix="/backups/pg/")
    store.page_size = 2
    assert store.prefix == "backups/pg/"
    assert [e.name for e in store.list()] == ["%02d.dump" % i for i in range(7)]
    assert all(e.modified.tzinfo is not None for e in store.list())
    assert store.local_path("00.dump") is None
    assert store.describe("00.dump") == "s3://unit-backups/backups/pg/00.dump"


def test_s3_without_prefix_uses_the_bucket_root(aws):
    aws.put_object(Bucket=BUCKET, Key="root.dump", Body=b"x")
    aws.put_object(Bucket=BUCKET, Key="deeper/x.dump", Body=b"x")
    assert [e.name for e in s3_store(prefix="").list()] == ["root.dump"]


def test_s3_big_files_go_in_parts(aws, tmp_path, monkeypatch):
    monkeypatch.setattr(stores, "MULTIPART_CHUNK", 5 * 1024 * 1024)
    source = tmp_path / "big.bin"
    payload = os.urandom(11 * 1024 * 1024)
    source.write_bytes(payload)
    store = s3_store()
    store.put_file(str(source), "big.dump")
    etag = aws.head_object(Bucket=BUCKET, Key="backups/pg/big.dump")["ETag"]
    assert etag.strip('"').endswith("-3")  # three parts
    assert store.sha256("big.dump") == (hashlib.sha256(payload).hexdigest(), len(payload))
    with pytest.raises(stores.StoreError, match="already exists"):
        store.put_file(str(source), "big.dump")


def test_s3_failed_fetch_leaves_no_file(aws, tmp_path):
    target = tmp_path / "copy.bin"
    with pytest.raises(
        stores.StoreError, match=r"cannot download to .*copy.bin s3://unit-backups/backups/pg/gone"
    ):
        s3_store().fetch("gone.dump", str(target))
    assert os.listdir(tmp_path) == []


def test_s3_missing_bucket_is_named(aws):
    store = stores.S3Store(bucket="no-such-bucket", region=REGION, **KEYS)
    with pytest.raises(stores.StoreError) as info:
        store.list()
    assert str(info.value) == (
        "cannot list s3://no-such-bucket/: the bucket no-such-bucket does not exist (NoSuchBucket)"
    )
    with pytest.raises(stores.StoreError, match="does not exist"):
        store.write_bytes("x.json", b"{}")


def test_s3_access_denied_and_rejected_keys_never_show_the_secret(aws):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="reader-without-rights")
    key = iam.create_access_key(UserName="reader-without-rights")["AccessKey"]
    aws.put_object(Bucket=BUCKET, Key="backups/pg/a.dump", Body=b"x")
    with enable_iam_authentication():
        denied = stores.S3Store(
            bucket=BUCKET,
            prefix="backups/pg",
            region=REGION,
            access_key=key["AccessKeyId"],
            secret_key=key["SecretAccessKey"],
        )
        with pytest.raises(stores.StoreError) as info:
            denied.list()
        assert str(info.value).startswith(
            "cannot list s3://unit-backups/backups/pg/: access denied (AccessDenied"
        )
        assert key["SecretAccessKey"] not in str(info.value)

        wrong_secret = stores.S3Store(
            bucket=BUCKET, region=REGION, access_key=key["AccessKeyId"], secret_key="not-the-secret-123"
        )
        with pytest.raises(stores.StoreError) as info:
            wrong_secret.read_bytes("a.dump")
        assert "the credentials were rejected (SignatureDoesNotMatch" in str(info.value)
        assert "not-the-secret-123" not in str(info.value)

        unknown = stores.S3Store(bucket=BUCKET, region=REGION, **KEYS)
        with pytest.raises(stores.StoreError, match=r"credentials were rejected \(InvalidAccessKeyId"):
            unknown.list()


def test_s3_unreachable_endpoint_is_named():
    store = stores.S3Store(
        bucket=BUCKET,
        endpoint_url="http://127.0.0.1:9",
        region=REGION,
        max_attempts=1,
        connect_timeout=2,
        **KEYS,
    )
    with pytest.raises(stores.StoreError) as info:
        store.list()
    message = str(info.value)
    assert message.startswith(
        "cannot list s3://unit-backups/ at http://127.0.0.1:9: the endpoint is unreachable"
    )
    assert KEYS["secret_key"] not in message and KEYS["access_key"] not in message


def test_s3_without_any_credentials_says_where_they_come_from(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = stores.S3Store(bucket=BUCKET, endpoint_url="http://127.0.0.1:9", region=REGION, max_attempts=1)
    with pytest.raises(stores.StoreError, match="no credentials: give access_key and secret_key, a profile"):
        store.list()


def test_s3_half_a_key_pair_and_unknown_profile_are_refused(aws):
    with pytest.raises(stores.StoreError, match="both access_key and secret_key"):
        stores.S3Store(bucket=BUCKET, access_key="AKIAONLYHALF")
    with pytest.raises(
        stores.StoreError, match="cannot use the S3 location s3://unit-backups/.*nosuchprofile"
    ):
        stores.S3Store(bucket=BUCKET, profile="nosuchprofile")


def test_secrets_are_scrubbed_from_any_message():
    store = stores.S3Store(bucket=BUCKET, client=object(), **KEYS)
    error = store._error("read", "x.dump", RuntimeError("echo %s" % KEYS["secret_key"]))
    assert KEYS["secret_key"] not in str(error) and "********" in str(error)


def test_s3_endpoint_defaults_to_path_addressing_and_lean_checksums():
    store = stores.S3Store(bucket=BUCKET, endpoint_url="http://127.0.0.1:9", region=REGION, **KEYS)
    config = store.client.meta.config
    assert config.s3["addressing_style"] == "path"
    assert config.request_checksum_calculation == "when_required"
    aws_store = stores.S3Store(bucket=BUCKET, region=REGION, **KEYS)
    assert aws_store.client.meta.config.s3["addressing_style"] == "auto"


# --- open_store -------------------------------------------------------------------------
def test_open_store_builds_the_right_location(tmp_path, aws):
    local = stores.open_store({"path": str(tmp_path), "s3": None})
    assert isinstance(local, stores.LocalStore) and local.path == str(tmp_path)
    assert stores.open_store(str(tmp_path)).path == str(tmp_path)
    created = stores.open_store({"path": str(tmp_path / "new")}, create=True)
    assert os.path.isdir(created.path)
    bucket = stores.open_store(
        {"path": None, "s3": dict(bucket=BUCKET, prefix="p", region=REGION, profile=None, **KEYS)}
    )
    assert isinstance(bucket, stores.S3Store) and bucket.describe() == "s3://unit-backups/p/"


@pytest.mark.parametrize(
    "location,message",
    [
        ({}, "exactly one of path and s3"),
        ({"path": "/x", "s3": {"bucket": "b"}}, "exactly one of path and s3"),
        ({"s3": {"bucket": "b", "acces_key": "typo"}}, "unknown option.*acces_key"),
        ({"s3": {"prefix": "p"}}, "needs a bucket"),
        (["/x"], "is {path: DIR} or {s3:"),
    ],
)
def test_open_store_refuses_bad_locations(location, message):
    with pytest.raises(stores.StoreError, match=message):
        stores.open_store(location)


def _local_backup(directory, name="db-20261122T020000Z.dump.zst", data=b"archive bytes"):
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    manifest = artifact.new_manifest("postgresql", "db", path, "custom", "zstd")
    manifest.update(size=len(data), sha256=hashlib.sha256(data).hexdigest(), started="2026-11-22T02:00:00Z",
                    finished="2026-11-22T02:00:01Z", status="complete")  # fmt: skip
    artifact.write_manifest(path, manifest)
    return path


def test_publish_stores_archive_then_manifest_and_fetch_brings_both_back(any_store, tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    path = _local_backup(str(staging))
    url = stores.publish(any_store, path)
    assert url.endswith("/db-20261122T020000Z.dump.zst")
    assert {e.name for e in any_store.list()} == {
        "db-20261122T020000Z.dump.zst",
        "db-20261122T020000Z.dump.zst.manifest.json",
    }
    back = tmp_path / "back"
    back.mkdir()
    local = stores.fetch_backup(any_store, url, str(back))
    assert artifact.verify_file(local)[1] == []


def test_publish_removes_the_archive_when_the_manifest_cannot_be_stored(any_store, tmp_path, monkeypatch):
    staging = tmp_path / "staging"
    staging.mkdir()
    path = _local_backup(str(staging))

    def refuse(*_args, **_kwargs):
        raise stores.StoreError("disk full")

    monkeypatch.setattr(any_store, "write_bytes", refuse)
    with pytest.raises(stores.StoreError, match="disk full"):
        stores.publish(any_store, path)
    assert any_store.list() == []  # no archive without its manifest


def test_fetch_of_a_backup_without_manifest_is_refused(any_store, tmp_path):
    any_store.write_bytes("lonely-20261122T020000Z.dump.zst", b"x")
    with pytest.raises(stores.StoreError, match="manifest"):
        stores.fetch_backup(any_store, "lonely-20261122T020000Z.dump.zst", str(tmp_path))
