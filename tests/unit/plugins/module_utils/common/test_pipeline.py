"""The streaming pipelines (common/pipeline.py) with fake producers (small scripts), fake exec
streams and the real zstd: binary safety, checksums, and every failure path."""

import errno
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.common import pipeline
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.exec import ExecError

ZSTD = shutil.which("zstd") or "/usr/bin/zstd"
ZSTD_1 = [ZSTD, "-q", "-c", "-1", "-T0"]


def py(code):
    """A producer: a Python script as an argument list."""
    return [sys.executable, "-c", code]


def unzstd(data):
    return subprocess.run([ZSTD, "-q", "-d", "-c"], input=data, capture_output=True, check=True).stdout


# -- compress_process ---------------------------------------------------------


def stream(tmp_path, producer, zstd_cmd=None, commit=True, name="mplp.dump.zst"):
    """What backup_database does: the stream into an AtomicWriter, committed on success."""
    with artifact.AtomicWriter(str(tmp_path / name)) as writer:
        pipeline.compress_process(producer, dict(os.environ), writer, zstd_cmd or ZSTD_1, "pg_dump of mplp")
        if commit:
            writer.commit()
    return writer


def test_stream_is_binary_safe_and_checksummed(tmp_path):
    payload = bytes(range(256)) * 8192 + b"\r\n\x00end"
    producer = py(
        "import sys; sys.stderr.write('pg_dump: notice\\n'); "
        "sys.stdout.buffer.write(bytes(range(256)) * 8192 + b'\\r\\n\\x00end')"
    )
    writer = stream(tmp_path, producer)
    data = (tmp_path / "mplp.dump.zst").read_bytes()
    assert unzstd(data) == payload
    assert len(data) < len(payload) // 10  # it is compressed
    assert (writer.size, writer.sha256) == (
        len(data),
        artifact.sha256_file(str(tmp_path / "mplp.dump.zst"))[0],
    )


def test_a_producer_that_fails_after_writing_commits_nothing(tmp_path):
    producer = py(
        "import sys; sys.stdout.buffer.write(b'PGDMP' * 100000); sys.stdout.flush(); "
        "sys.stderr.write('pg_dump: error: connection to server lost\\n'); sys.exit(3)"
    )
    with pytest.raises(pipeline.PipelineError) as info:
        stream(tmp_path, producer)
    assert (
        str(info.value) == "pg_dump of mplp failed (exit code 3): pg_dump: error: connection to server lost"
    )
    assert os.listdir(tmp_path) == []


def test_a_silent_failure_still_fails(tmp_path):
    with pytest.raises(pipeline.PipelineError, match=r"failed \(exit code 1\): no message"):
        stream(tmp_path, ["false"])
    assert os.listdir(tmp_path) == []


def test_only_the_end_of_a_long_stderr_is_kept(tmp_path):
    producer = py("import sys; sys.stderr.write('x' * 100000 + 'the real cause'); sys.exit(1)")
    with pytest.raises(pipeline.PipelineError) as info:
        stream(tmp_path, producer)
    assert str(info.value).endswith("the real cause")
    assert len(str(info.value)) < pipeline.STDERR_KEEP + 100


def test_missing_zstd_is_named_and_the_producer_is_stopped(tmp_path):
    started = time.monotonic()
    with pytest.raises(pipeline.PipelineError) as info:
        stream(tmp_path, py("import time; time.sleep(60)"), zstd_cmd=[str(tmp_path / "bin" / "zstd"), "-c"])
    assert str(info.value) == "cannot run %s: No such file or directory" % (tmp_path / "bin" / "zstd")
    assert time.monotonic() - started < 30
    assert os.listdir(tmp_path) == []


def test_missing_pg_dump_is_named(tmp_path):
    with pytest.raises(pipeline.PipelineError) as info:
        stream(tmp_path, [str(tmp_path / "pg_dump"), "--dbname=x"])
    assert str(info.value) == "cannot run %s: No such file or directory" % (tmp_path / "pg_dump")
    assert os.listdir(tmp_path) == []


def test_a_failing_compressor_is_reported(tmp_path):
    zstd_cmd = py("import sys; sys.stdin.buffer.read(); sys.stderr.write('zstd: out of memory'); sys.exit(2)")
    with pytest.raises(pipeline.PipelineError) as info:
        stream(tmp_path, py("print('data')"), zstd_cmd=zstd_cmd)
    assert str(info.value) == "zstd failed (exit code 2): zstd: out of memory"
    assert os.listdir(tmp_path) == []


class FullDisk:
    """A writer on a device that fills up after ``room`` bytes."""

    def __init__(self, room):
        self.room = room
        self.size = 0

    def write(self, data):
        if self.size + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.size += len(data)
        return len(data)


def test_a_full_disk_stops_an_endless_producer(tmp_path):
    producer = py("import os, sys\nwhile True: sys.stdout.buffer.write(os.urandom(65536))")
    started = time.monotonic()
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.compress_process(producer, None, FullDisk(100000), ["cat"], "pg_dump of mplp")
    assert str(info.value) == (
        "pg_dump of mplp stopped, nothing kept: writing failed: "
        "no space left on the device of the backup directory"
    )
    assert time.monotonic() - started < 30


def test_describe_oserror():
    assert pipeline.describe_oserror(OSError(errno.ENOSPC, "No space left on device"), "/b/x") == (
        "no space left on the device of /b/x"
    )
    assert pipeline.describe_oserror(OSError(errno.EACCES, "Permission denied"), "/b/x") == (
        "/b/x: Permission denied"
    )


# -- the in-cluster stream, on a fake exec ---------------------------------------------------


class FakeExec:
    where = "pod db/pg-0"

    def __init__(self, chunks=(), code=0, error=None, reads_stdin=False):
        self.chunks = list(chunks)
        self.code = code
        self.error = error
        self.events = []
        self.stdin_closed = threading.Event()
        if not reads_stdin:
            self.stdin_closed.set()

    def write(self, data):
        self.events.append(("write", data))

    def close_stdin(self):
        self.events.append(("close_stdin",))
        self.stdin_closed.set()

    def pump(self, on_stdout):
        self.events.append(("pump",))
        assert self.stdin_closed.wait(30), "stdin was never closed"
        for chunk in self.chunks:
            on_stdout(chunk)
        if self.error:
            raise self.error
        return self.code

    def failure(self, what):
        return "%s in %s failed (exit code %s)" % (what, self.where, self.code)


def test_exec_stream_writes_the_compressed_output_after_the_pgpass_line(tmp_path):
    chunks = [bytes(range(256)) * 100, b"\x00" * 10, b"end"]
    fake = FakeExec(chunks)
    with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
        pipeline.compress_exec(fake, writer, [ZSTD, "-q", "-c"], "pg_dump of x", b"line\n")
        writer.commit()
    assert unzstd((tmp_path / "a").read_bytes()) == b"".join(chunks)
    assert fake.events == [("write", b"line\n"), ("close_stdin",), ("pump",)]


def test_exec_stream_with_a_non_zero_exit_fails_and_keeps_nothing(tmp_path):
    with pytest.raises(pipeline.PipelineError, match=r"pg_dump of x in pod db/pg-0 failed \(exit code 1\)"):
        with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
            pipeline.compress_exec(FakeExec([b"partial"], code=1), writer, [ZSTD, "-c"], "pg_dump of x")
            writer.commit()
    assert os.listdir(tmp_path) == []


def test_exec_stream_that_is_cut_raises_the_exec_error(tmp_path):
    cut = ExecError("the exec stream of pod db/pg-0 was cut")
    with pytest.raises(ExecError, match="was cut"):
        with artifact.AtomicWriter(str(tmp_path / "a")) as writer:
            pipeline.compress_exec(FakeExec([b"partial"], error=cut), writer, [ZSTD, "-c"], "x")
    assert os.listdir(tmp_path) == []


def test_exec_stream_onto_a_full_disk_raises_the_disk_error():
    fake = FakeExec([os.urandom(1 << 16) for _x in range(64)])
    with pytest.raises(OSError) as info:
        pipeline.compress_exec(fake, FullDisk(1000), [ZSTD, "-q", "-c", "-1"], "x")
    assert info.value.errno == errno.ENOSPC


# -- restore pipelines ---------------------------------------------------------------------


def test_run_pipeline_feeds_the_consumer(tmp_path):
    out = tmp_path / "out"
    consumer = py("import sys; open(%r, 'wb').write(sys.stdin.buffer.read())" % str(out))
    pipeline.run_pipeline(py("import sys; sys.stdout.buffer.write(b'\\x00\\xffdata')"), consumer, None, "x")
    assert out.read_bytes() == b"\x00\xffdata"


def test_run_pipeline_names_the_failing_consumer():
    consumer = py(
        "import sys; sys.stdin.buffer.read(); sys.stderr.write('ERROR: relation exists'); sys.exit(1)"
    )
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run_pipeline(py("print(1)"), consumer, None, "pg_restore into mplp")
    assert str(info.value) == "pg_restore into mplp failed (exit code 1): ERROR: relation exists"


def test_run_pipeline_names_a_corrupt_archive():
    producer = py("import sys; sys.stderr.write('zstd: data corruption'); sys.exit(1)")
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run_pipeline(producer, py("import sys; sys.stdin.buffer.read()"), None, "pg_restore")
    assert str(info.value) == "decompressing the archive failed: zstd: data corruption"


def big_archive(tmp_path, size=8 << 20):
    archive = tmp_path / "big.zst"
    archive.write_bytes(
        subprocess.run(
            [ZSTD, "-q", "-1", "-c"], input=os.urandom(size), capture_output=True, check=True
        ).stdout
    )
    return archive


def test_run_pipeline_a_consumer_that_succeeds_without_reading_everything_is_a_success(tmp_path):
    # pg_restore --table / -L / --schema-only exits 0 before the end; zstd dies of SIGPIPE.
    archive = big_archive(tmp_path)
    marker = tmp_path / "read"
    consumer = py("import sys; open(%r, 'wb').write(sys.stdin.buffer.read(1000))" % str(marker))
    assert pipeline.run_pipeline([ZSTD, "-q", "-d", "-c", str(archive)], consumer, None, "pg_restore") is None
    assert marker.stat().st_size == 1000  # the consumer ran, read its part and stopped
    # a producer that reports the broken pipe itself (EPIPE, exit 1) is no failure either
    producer = py("import sys; sys.stderr.write('zstd: error 70 : Write error : Broken pipe'); sys.exit(1)")
    assert pipeline.run_pipeline(producer, py("pass"), None, "pg_restore") is None


def test_run_pipeline_a_real_decompression_failure_after_a_successful_consumer():
    producer = py("import sys; sys.stderr.write('zstd: data corruption'); sys.exit(1)")
    with pytest.raises(
        pipeline.ProducerError, match="decompressing the archive failed: zstd: data corruption"
    ):
        pipeline.run_pipeline(producer, py("import sys; sys.stdin.buffer.read()"), None, "pg_restore")
    # a failing consumer is the restore's failure, not a ProducerError
    with pytest.raises(pipeline.PipelineError) as info:
        pipeline.run_pipeline(producer, py("import sys; sys.exit(3)"), None, "pg_restore")
    assert not isinstance(info.value, pipeline.ProducerError)


@pytest.mark.parametrize(
    "code,stderr,ok",
    [
        (0, "", True),
        (-13, "", True),
        (141, "", True),
        (1, "zstd: error 70 : Write error : Broken pipe", True),
        (1, "zstd: data corruption", False),
        (-9, "", False),
    ],
)
def test_check_producer(code, stderr, ok):
    if ok:
        pipeline.check_producer(code, stderr, "pg_restore")
    else:
        with pytest.raises(pipeline.ProducerError):
            pipeline.check_producer(code, stderr, "pg_restore")


def test_run_pipeline_names_a_missing_tool(tmp_path):
    with pytest.raises(pipeline.PipelineError, match="cannot run %s" % (tmp_path / "pg_restore")):
        pipeline.run_pipeline(["true"], [str(tmp_path / "pg_restore")], None, "pg_restore")


def test_stream_file_into_exec(tmp_path):
    archive = tmp_path / "a.zst"
    archive.write_bytes(
        subprocess.run([ZSTD, "-q", "-c"], input=b"SQL" * 1000, capture_output=True, check=True).stdout
    )
    fake = FakeExec(code=0, reads_stdin=True)
    pipeline.stream_into_exec([ZSTD, "-q", "-d", "-c"] + [str(archive)], fake, b"pw\n", "x")
    written = b"".join(event[1] for event in fake.events if event[0] == "write")
    assert written == b"pw\n" + b"SQL" * 1000
    assert ("close_stdin",) in fake.events
    fake = FakeExec(code=4)
    with pytest.raises(pipeline.PipelineError, match=r"psql in pod db/pg-0 failed \(exit code 4\)"):
        pipeline.stream_into_exec(["cat", str(archive)], fake, None, "psql")


class EarlyExit(FakeExec):
    """pg_restore in the pod stops at its first error while the archive still streams."""

    def __init__(self):
        super().__init__(code=1)
        self.written = 0

    def write(self, data):
        self.written += len(data)
        time.sleep(0.02)  # a websocket send is not instant

    def pump(self, on_stdout):
        time.sleep(0.05)
        return self.code


def test_a_command_that_stops_reading_does_not_hang_the_stream(tmp_path):
    archive = tmp_path / "big.zst"
    archive.write_bytes(
        subprocess.run(
            [ZSTD, "-q", "-1", "-c"], input=os.urandom(8 << 20), capture_output=True, check=True
        ).stdout
    )
    fake = EarlyExit()
    outcome = []

    def restore():
        try:
            pipeline.stream_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], fake, None, "pg_restore")
        except pipeline.PipelineError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=restore, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the stream hangs when the command in the pod stops reading"
    assert outcome == ["pg_restore in pod db/pg-0 failed (exit code 1)"]
    assert fake.written < 8 << 20


class EarlySuccess(EarlyExit):
    """pg_restore --table in the pod: reads a little, succeeds."""

    def __init__(self):
        super().__init__()
        self.code = 0


def test_a_command_that_succeeds_without_reading_everything_is_a_success(tmp_path):
    archive = big_archive(tmp_path)
    fake = EarlySuccess()
    pipeline.stream_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], fake, None, "pg_restore")
    assert fake.written < 8 << 20


class ClosedAfterExit(FakeExec):
    """The exec stream refuses stdin once the command has ended (successfully)."""

    def __init__(self):
        super().__init__(code=0)
        self.done = threading.Event()

    def write(self, data):
        if self.done.is_set():
            raise ExecError("stdin closed")

    def pump(self, on_stdout):
        self.done.set()
        return 0


def test_a_command_that_ended_and_refuses_stdin_is_a_success(tmp_path):
    archive = big_archive(tmp_path, 1 << 20)
    stream = ClosedAfterExit()
    assert (
        pipeline.stream_into_exec([ZSTD, "-q", "-d", "-c", str(archive)], stream, None, "pg_restore") is None
    )
    assert stream.done.is_set()  # the command ended before its input did


# -- Compressor (bytes that arrive in this process) -----------------------------------------


def test_compressor_writes_what_it_is_fed_compressed(tmp_path):
    chunks = [os.urandom(1000), b"\x00" * 300000, bytes(range(256)) * 100]
    with artifact.AtomicWriter(str(tmp_path / "a.zst")) as writer:
        with pipeline.Compressor(ZSTD_1, writer) as packer:
            for chunk in chunks:
                packer.write(chunk)
            packer.finish()
        writer.commit()
    assert unzstd((tmp_path / "a.zst").read_bytes()) == b"".join(chunks)
    assert writer.sha256 == artifact.sha256_file(str(tmp_path / "a.zst"))[0]


def test_a_compressor_that_fails_is_named_with_its_message():
    failing = py("import sys; sys.stdin.buffer.read(); sys.stderr.write('out of memory'); sys.exit(2)")
    with pytest.raises(pipeline.PipelineError) as info:
        with pipeline.Compressor(failing, FullDisk(1 << 30), name="zstd") as packer:
            packer.write(b"data")
            packer.finish()
    assert str(info.value) == "zstd failed (exit code 2): out of memory"


def test_a_compressor_that_cannot_run_is_named(tmp_path):
    with pytest.raises(pipeline.PipelineError) as info:
        with pipeline.Compressor([str(tmp_path / "zstd"), "-c"], FullDisk(1 << 30)):
            pass
    assert str(info.value) == "cannot run %s: No such file or directory" % (tmp_path / "zstd")


def test_a_full_disk_stops_the_feeding_with_the_disk_error():
    with pytest.raises(OSError) as info:
        with pipeline.Compressor(ZSTD_1, FullDisk(1000)) as packer:
            for _x in range(256):
                packer.write(os.urandom(1 << 16))
            packer.finish()
    assert info.value.errno == errno.ENOSPC


def test_leaving_a_compressor_on_an_error_stops_it():
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with pipeline.Compressor(ZSTD_1, FullDisk(1 << 30)) as packer:
            packer.write(b"x" * 1000)
            raise Boom()
    assert packer.proc.poll() is not None


# -- small parts ----------------------------------------------------------------------------


def test_widen_pipe_enlarges_a_pipe_and_ignores_what_is_not_one(tmp_path):
    import fcntl

    read_end, write_end = os.pipe()
    try:
        with os.fdopen(read_end, "rb") as stream:
            assert fcntl.fcntl(stream.fileno(), fcntl.F_GETPIPE_SZ) == 1 << 16
            pipeline.widen_pipe(stream)
            assert fcntl.fcntl(stream.fileno(), fcntl.F_GETPIPE_SZ) == pipeline.PIPE_SIZE
    finally:
        os.close(write_end)
    with open(tmp_path / "file", "wb") as regular:
        pipeline.widen_pipe(regular)  # EBADF from fcntl: left as it is, no error


def test_the_hot_path_reads_what_the_writer_hashes_a_megabyte_at_a_time():
    # the copy into the backup: one read and one write per MiB, pipes widened to the same
    assert pipeline.CHUNK == artifact.CHUNK == 1 << 20
    assert pipeline.PIPE_SIZE == 1 << 20


def test_zstd_argv():
    assert pipeline.zstd_argv("zstd") == ["zstd", "-q", "-c", "-1", "-T0"]
    assert pipeline.zstd_argv("zstd", level="19", threads=2) == ["zstd", "-q", "-c", "-19", "-T2"]
    assert pipeline.zstd_argv("zstd", decompress=True) == ["zstd", "-q", "-d", "-c"]
