# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup locations: where archives and their manifests are kept.

A location is a directory (on the Ansible host, or a PVC mounted into the backup
CronJob) or a prefix in an S3-compatible bucket. Every store offers the same small
interface, so the backup, restore and retention code does not care where the files are:

- ``list()``: the stored files (``Entry``: name, size, modified), temporary files excluded;
- ``others()``: what list() leaves out that retention reports: temporary files of
  interrupted writes, and names that are links or not regular files;
- ``read_bytes(name)`` / ``write_bytes(name, data)`` (atomic);
- ``put_file(local_path, name)``: store a finished local file under ``name``;
- ``local_path(name)``: a path to read the file from (None when it must be fetched);
- ``fetch(name, local_path)``: copy a stored file to a local path;
- ``sha256(name)``: ``(hex digest, size)`` of a stored file, streamed;
- ``delete(name)``, ``exists(name)``, ``describe(name=None)``.

``open_store(location)`` turns a module's ``location`` option (``{"path": ...}`` or
``{"s3": {...}}``) into a store.

In a bucket, names are the keys under the prefix without a further ``/``. An object
appears whole or not at all (a multipart upload becomes visible when it completes), so
S3 has no temporary names; names starting with ``.`` are skipped as in a directory.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import os
import shutil
import sys
import tempfile

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact

# boto3 is imported on first use (load_boto3): only S3 locations need it, and importing it
# costs about a quarter of a second in every run of every module that imports this file.
boto3 = None
botocore = None
TransferConfig = None
BOTO3_IMPORT_ERROR = None


def load_boto3():
    """Import boto3 and botocore once; returns the ImportError when they are missing."""
    global boto3, botocore, TransferConfig, BOTO3_IMPORT_ERROR  # noqa: PLW0603 - a lazy import
    if boto3 is None and BOTO3_IMPORT_ERROR is None:
        try:
            for name in ("botocore.config", "botocore.exceptions", "boto3", "boto3.s3.transfer"):
                importlib.import_module(name)
        except ImportError as exc:
            BOTO3_IMPORT_ERROR = exc
        else:
            boto3, botocore = sys.modules["boto3"], sys.modules["botocore"]
            TransferConfig = sys.modules["boto3.s3.transfer"].TransferConfig
    return BOTO3_IMPORT_ERROR


class StoreError(Exception):
    """A location that cannot be read or written; the message names it and the cause."""


class Entry:
    __slots__ = ("name", "size", "modified")

    def __init__(self, name, size, modified):
        self.name = name
        self.size = size
        self.modified = modified

    def __repr__(self):
        return "Entry(%r, %r, %r)" % (self.name, self.size, self.modified)


class LocalStore:
    """A directory; names are file names in it (no sub-directories)."""

    kind = "directory"

    def __init__(self, path, create=False, mode=0o700):
        self.path = os.path.abspath(os.path.expanduser(path))
        if create and not os.path.isdir(self.path):
            try:
                os.makedirs(self.path, mode=mode, exist_ok=True)
            except OSError as exc:
                raise StoreError("cannot create the backup directory %s: %s" % (self.path, exc)) from exc

    def describe(self, name=None):
        return os.path.join(self.path, name) if name else self.path

    def url(self, name):
        """Where ``name`` is, as an operator would write it (a path)."""
        return self._path(name)

    def _path(self, name):
        if not name or os.path.basename(name) != name or name in (".", ".."):
            raise StoreError("%r is not a plain file name in %s" % (name, self.path))
        return os.path.join(self.path, name)

    def list(self):
        if not os.path.isdir(self.path):
            raise StoreError("the backup directory %s does not exist" % self.path)
        entries = []
        try:
            with os.scandir(self.path) as scan:
                for item in scan:
                    if item.name.startswith(".") or not item.is_file(follow_symlinks=False):
                        continue
                    stat = item.stat(follow_symlinks=False)
                    modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC)
                    entries.append(Entry(item.name, stat.st_size, modified))
        except OSError as exc:
            raise StoreError("cannot list %s: %s" % (self.path, exc.strerror or exc)) from exc
        return sorted(entries, key=lambda entry: entry.name)

    def others(self):
        """What list() leaves out that retention must know about: ``(partials, irregular)``,
        the temporary files of interrupted writes (Entries, see artifact.parse_partial_name)
        and the names of symbolic links and other entries that are not regular files."""
        if not os.path.isdir(self.path):
            raise StoreError("the backup directory %s does not exist" % self.path)
        partials, irregular = [], []
        try:
            with os.scandir(self.path) as scan:
                for item in scan:
                    if not item.is_file(follow_symlinks=False):
                        if not item.name.startswith(".") and (item.is_symlink() or not item.is_dir()):
                            irregular.append(item.name)
                        continue
                    if item.name.startswith(".") and artifact.parse_partial_name(item.name):
                        stat = item.stat(follow_symlinks=False)
                        modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC)
                        partials.append(Entry(item.name, stat.st_size, modified))
        except OSError as exc:
            raise StoreError("cannot list %s: %s" % (self.path, exc.strerror or exc)) from exc
        return sorted(partials, key=lambda entry: entry.name), sorted(irregular)

    def exists(self, name):
        return os.path.isfile(self._path(name))

    def read_bytes(self, name):
        try:
            with open(self._path(name), "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise StoreError("cannot read %s: %s" % (self._path(name), exc.strerror or exc)) from exc

    def write_bytes(self, name, data, overwrite=False):
        try:
            return artifact.write_bytes(self._path(name), data, overwrite=overwrite)
        except OSError as exc:
            raise StoreError("cannot write %s: %s" % (self._path(name), exc.strerror or exc)) from exc

    def put_file(self, local_path, name):
        target = self._path(name)
        if os.path.abspath(local_path) == target:
            return
        try:
            with open(local_path, "rb") as source, artifact.AtomicWriter(target) as out:
                shutil.copyfileobj(source, out, artifact.CHUNK)
                out.commit()
        except OSError as exc:
            raise StoreError("cannot store %s as %s: %s" % (local_path, target, exc.strerror or exc)) from exc

    def local_path(self, name):
        return self._path(name)

    def fetch(self, name, local_path):
        shutil.copyfile(self._path(name), local_path)

    def sha256(self, name):
        try:
            return artifact.sha256_file(self._path(name))
        except OSError as exc:
            raise StoreError("cannot read %s: %s" % (self._path(name), exc.strerror or exc)) from exc

    def delete(self, name):
        """True when the file was there."""
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError("cannot delete %s: %s" % (self._path(name), exc.strerror or exc)) from exc
        artifact.fsync_dir(self.path)
        return True


# --- S3-compatible buckets -------------------------------------------------------------
# Error codes S3 and its look-alikes (MinIO, Ceph RGW, moto) answer with, said plainly.
_DENIED = ("AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden", "403")
_REJECTED = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
)
_MISSING_KEY = ("NoSuchKey", "NotFound", "404")
MULTIPART_CHUNK = 64 * 1024 * 1024


class S3Store:
    """The objects directly under a prefix of an S3-compatible bucket.

    Credentials: ``access_key``/``secret_key`` (and ``session_token``) when given, else the
    named ``profile``, else boto3's default chain (environment, shared files, container or
    instance role). ``endpoint_url`` selects an S3-compatible server; path-style addressing
    is then the default (MinIO, Ceph and moto do not need a DNS name per bucket) and
    checksums are only sent where the API requires them (several S3 look-alikes reject
    the newer checksum headers; the manifest's SHA-256 covers the content end to end).
    Keys never appear in messages.
    """

    kind = "s3"
    page_size = 1000

    def __init__(
        self,
        bucket,
        prefix="",
        endpoint_url=None,
        region=None,
        access_key=None,
        secret_key=None,
        session_token=None,
        profile=None,
        addressing_style=None,
        validate_certs=True,
        ca_bundle=None,
        client=None,
        connect_timeout=10,
        read_timeout=120,
        max_attempts=3,
    ):
        if not bucket:
            raise StoreError("an S3 location needs a bucket")
        self.bucket = bucket
        prefix = (prefix or "").strip("/")
        self.prefix = prefix + "/" if prefix else ""
        self.endpoint_url = endpoint_url or None
        self._secrets = [v for v in (access_key, secret_key, session_token) if v]
        if client is not None:
            self.client = client
            return
        if load_boto3() is not None:
            raise StoreError(
                "S3 locations need the Python library boto3 on the host that runs the module: %s"
                % BOTO3_IMPORT_ERROR
            )
        if bool(access_key) != bool(secret_key):
            raise StoreError("an S3 location needs both access_key and secret_key, or neither")
        options = dict(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            user_agent_extra="multiagent.ops",
            s3={"addressing_style": addressing_style or ("path" if self.endpoint_url else "auto")},
        )
        if self.endpoint_url:
            options.update(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        try:
            session = boto3.session.Session(profile_name=profile or None)
            self.client = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=region or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                aws_session_token=session_token or None,
                verify=(ca_bundle or None) if validate_certs else False,
                config=botocore.config.Config(**options),
            )
        except botocore.exceptions.BotoCoreError as exc:
            raise StoreError(
                "cannot use the S3 location %s: %s" % (self.describe(), self._scrub(exc))
            ) from exc

    # -- naming and errors
    def describe(self, name=None):
        where = "s3://%s/%s%s" % (self.bucket, self.prefix, name or "")
        return where + (" at %s" % self.endpoint_url if self.endpoint_url else "")

    def url(self, name):
        """Where ``name`` is, as an operator would write it (``s3://bucket/key``)."""
        return "s3://%s/%s" % (self.bucket, self._key(name))

    def _key(self, name):
        if not name or "/" in name or name in (".", ".."):
            raise StoreError("%r is not a plain object name under %s" % (name, self.describe()))
        return self.prefix + name

    def _scrub(self, text):
        text = str(text)
        for value in self._secrets:
            text = text.replace(value, "********")
        return text

    def _error(self, action, name, exc):
        """A StoreError naming the action, the bucket/key and the cause."""
        if boto3 is not None and isinstance(exc, boto3.exceptions.Boto3Error):
            # The managed transfer wraps the service's answer; say what the service said.
            inner = exc.__cause__ or exc.__context__
            if isinstance(inner, (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)):
                exc = inner
        cause = self._scrub(exc)
        if boto3 is not None and isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            message = self._scrub(error.get("Message") or "")
            if code == "NoSuchBucket":
                cause = "the bucket %s does not exist (NoSuchBucket)" % self.bucket
            elif code in _DENIED:
                cause = "access denied (%s%s): check the credentials' permissions and the bucket policy" % (
                    code,
                    ": " + message if message else "",
                )
            elif code in _REJECTED:
                cause = "the credentials were rejected (%s%s)" % (code, ": " + message if message else "")
            elif code in _MISSING_KEY:
                cause = "no such object (%s)" % code
            else:
                cause = "%s%s" % (code, ": " + message if message else "")
        elif boto3 is not None and isinstance(
            exc,
            (
                botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError,
                botocore.exceptions.ConnectionClosedError,
            ),
        ):
            cause = "the endpoint is unreachable: %s" % cause
        elif boto3 is not None and isinstance(exc, botocore.exceptions.NoCredentialsError):
            cause = (
                "no credentials: give access_key and secret_key, a profile, or set up boto3's "
                "credential chain (environment, ~/.aws, container or instance role)"
            )
        elif isinstance(exc, OSError) and exc.strerror:
            cause = exc.strerror
        return StoreError("cannot %s %s: %s" % (action, self.describe(name), cause))

    def _missing(self, exc):
        if boto3 is None or not isinstance(exc, botocore.exceptions.ClientError):
            return False
        error = exc.response.get("Error") or {}
        return str(error.get("Code")) in _MISSING_KEY

    def _failures(self):
        failures = (OSError,)
        if boto3 is not None:
            failures += (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
            failures += (boto3.exceptions.Boto3Error,)
        return failures

    # -- the store interface
    def list(self):
        entries = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=self.prefix,
                Delimiter="/",
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                for item in page.get("Contents") or []:
                    name = item["Key"][len(self.prefix) :]
                    if not name or name.startswith("."):
                        continue
                    modified = item["LastModified"]
                    if modified.tzinfo is None:
                        modified = modified.replace(tzinfo=datetime.UTC)
                    entries.append(Entry(name, int(item["Size"]), modified.astimezone(datetime.UTC)))
        except self._failures() as exc:
            raise self._error("list", None, exc) from exc
        return sorted(entries, key=lambda entry: entry.name)

    def others(self):
        """Nothing: an object appears whole or not at all, and a bucket has no links."""
        return [], []

    def exists(self, name):
        key = self._key(name)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self._failures() as exc:
            if self._missing(exc):
                return False
            raise self._error("look at", name, exc) from exc
        return True

    def read_bytes(self, name):
        key = self._key(name)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                return body.read()
            finally:
                body.close()
        except self._failures() as exc:
            raise self._error("read", name, exc) from exc

    def write_bytes(self, name, data, overwrite=False):
        """Store ``data`` (one PUT: S3 shows the object whole or not at all); returns its sha256.

        Without ``overwrite`` an existing object is refused; the check and the PUT are two
        requests, so two writers of the same name at the same second are not told apart
        (backup names carry the second they were taken, and the backup lock serializes
        writers of one target)."""
        key = self._key(name)
        if not overwrite and self.exists(name):
            raise StoreError("%s already exists; refusing to overwrite a backup" % self.describe(name))
        extra = {"ContentType": "application/json"} if name.endswith(".json") else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        except self._failures() as exc:
            raise self._error("write", name, exc) from exc
        return hashlib.sha256(data).hexdigest()

    def put_file(self, local_path, name):
        """Upload a finished local file; big files go in parts (boto3's managed transfer),
        and a failed multipart upload is aborted, so no partial object is ever visible."""
        key = self._key(name)
        if self.exists(name):
            raise StoreError("%s already exists; refusing to overwrite a backup" % self.describe(name))
        config = TransferConfig(
            multipart_threshold=MULTIPART_CHUNK, multipart_chunksize=MULTIPART_CHUNK, max_concurrency=4
        )
        try:
            self.client.upload_file(local_path, self.bucket, key, Config=config)
        except self._failures() as exc:
            raise self._error("store %s as" % local_path, name, exc) from exc

    def local_path(self, name):
        self._key(name)
        return None

    def fetch(self, name, local_path):
        """Download to a temporary name beside ``local_path``, then rename: a failed download
        never leaves a file under the final name."""
        key = self._key(name)
        directory = os.path.dirname(os.path.abspath(local_path))
        try:
            fd, temp = tempfile.mkstemp(
                prefix="." + os.path.basename(local_path) + ".", suffix=".partial", dir=directory
            )
            os.close(fd)
        except OSError as exc:
            raise self._error("download to %s" % local_path, name, exc) from exc
        try:
            self.client.download_file(self.bucket, key, temp)
            os.replace(temp, local_path)
        except self._failures() as exc:
            raise self._error("download to %s" % local_path, name, exc) from exc
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def sha256(self, name):
        key = self._key(name)
        digest = hashlib.sha256()
        size = 0
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                for chunk in body.iter_chunks(artifact.CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            finally:
                body.close()
        except self._failures() as exc:
            raise self._error("read", name, exc) from exc
        return digest.hexdigest(), size

    def delete(self, name):
        """True when the object was there (S3's DELETE does not say, so it is looked at first)."""
        key = self._key(name)
        if not self.exists(name):
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except self._failures() as exc:
            raise self._error("delete", name, exc) from exc
        return True


S3_OPTIONS = (
    "bucket",
    "prefix",
    "endpoint_url",
    "region",
    "access_key",
    "secret_key",
    "session_token",
    "profile",
    "addressing_style",
    "validate_certs",
    "ca_bundle",
)


# The Ansible argument spec of an S3 location (documented in the multiagent.ops.s3 doc fragment).
S3_ARGSPEC = dict(
    bucket=dict(type="str", required=True),
    prefix=dict(type="str", default=""),
    endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key=dict(type="str", no_log=True),
    secret_key=dict(type="str", no_log=True),
    session_token=dict(type="str", no_log=True),
    profile=dict(type="str"),
    addressing_style=dict(type="str", choices=["auto", "path", "virtual"]),
    validate_certs=dict(type="bool", default=True),
    ca_bundle=dict(type="path"),
)


# The Ansible argument spec of a backup location, ``{path: DIR}`` or ``{s3: {...}}`` (documented
# in the multiagent.ops.s3.location doc fragment).
LOCATION_ARGSPEC = dict(
    type="dict",
    required=True,
    options=dict(path=dict(type="path"), s3=dict(type="dict", options=S3_ARGSPEC)),
    mutually_exclusive=[["path", "s3"]],
    required_one_of=[["path", "s3"]],
)


def missing_boto3(reason):
    """None when boto3 can be imported; else Ansible's message for a missing library (it names
    the host and the Python that lacks it) and the ImportError, as fail_json takes them."""
    error = load_boto3()
    if error is None:
        return None
    # Imported only here: the glue's message for a missing library, needed only when boto3 is missing.
    from ansible_collections.multiagent.ops.plugins.module_utils.common.module import missing_library

    return missing_library("boto3", error, reason)


def open_store(location, create=False):
    """The store for a module's ``location`` option: ``{"path": DIR}`` or ``{"s3": {...}}``.

    Unset keys may be present as None (Ansible fills sub-options that way). ``create``
    makes a missing directory (buckets are never created).
    """
    if isinstance(location, str):
        location = {"path": location}
    if not isinstance(location, dict):
        raise StoreError("a backup location is {path: DIR} or {s3: {bucket: ...}}, not %r" % (location,))
    path, s3 = location.get("path"), location.get("s3")
    if bool(path) == bool(s3):
        raise StoreError("a backup location needs exactly one of path and s3")
    if path:
        return LocalStore(path, create=create)
    if not isinstance(s3, dict):
        raise StoreError("the s3 location must be a dictionary with at least a bucket")
    if not s3.get("bucket"):
        raise StoreError("an S3 location needs a bucket")
    unknown = sorted(set(s3) - set(S3_OPTIONS))
    if unknown:
        raise StoreError("unknown option(s) of the s3 location: %s" % ", ".join(unknown))
    options = {key: value for key, value in s3.items() if value is not None}
    return S3Store(**options)


def publish(store, archive_path):
    """Store a finished local backup in ``store``: the archive first, then its manifest (a
    backup counts only when its manifest is stored). When the manifest cannot be stored, the
    uploaded archive is removed again. Returns where it went."""
    name = os.path.basename(archive_path)
    if isinstance(store, LocalStore) and os.path.dirname(os.path.abspath(archive_path)) == store.path:
        return store.url(name)
    with open(artifact.manifest_name(archive_path), "rb") as handle:
        manifest = handle.read()
    store.put_file(archive_path, name)
    try:
        store.write_bytes(artifact.manifest_name(name), manifest)
    except (StoreError, artifact.ArtifactError, OSError):
        try:
            store.delete(name)
        except StoreError:
            pass
        raise
    return store.url(name)


def fetch_backup(store, name, directory):
    """Copy a stored backup (its manifest, then the archive) into ``directory``; returns the
    local archive path. ``name`` may be a path or URL: only its last part counts."""
    name = str(name).rstrip("/").rsplit("/", 1)[-1]
    if artifact.is_manifest(name):
        name = name[: -len(artifact.MANIFEST_SUFFIX)]
    local = os.path.join(directory, name)
    manifest = store.read_bytes(artifact.manifest_name(name))
    artifact.write_bytes(artifact.manifest_name(local), manifest, overwrite=True)
    store.fetch(name, local)
    return local
