# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The streaming pipelines of the backups: a dump's bytes through a compressor into a file,
and an archive decompressed into the tool that restores it. Commands are argument lists.

Into a backup (the ``writer`` is anything with ``write(bytes)``; the backups use an
``artifact.AtomicWriter``, which hashes and counts what it writes, and is committed by the
caller once the pipeline and its checks succeeded):

- compress_process(): a producer process here (``pg_dump``) piped straight into the
  compressor (``zstd -c``) by the OS; this process only copies the compressed output into
  the writer, a megabyte at a time. The hot path of a backup: nothing else touches the data.
- Compressor: a compressor fed through ``write()`` while a thread copies its output into the
  writer, for bytes that arrive in this process (an exec stream from a pod, a Redis
  replication stream). compress_exec() drives one from an exec stream.

Out of an archive:

- run_pipeline(): ``first | second`` (``zstd -d -c ARCHIVE | pg_restore``) by the OS.
- stream_into_exec(): a producer process here into the stdin of a command in a pod.

An exec stream is anything with ``write(bytes)``, ``close_stdin()``, ``pump(on_stdout)``
(returns the exit code) and ``failure(what)`` (a message): k8s/exec.py's PodExec.

Failures raise PipelineError naming the tool, its exit code and the end of its stderr;
ProducerError when the consumer of a restore succeeded but its producer failed (what the
consumer committed stays committed). A writer's own error (a full disk) is raised as it is.

Every tool is started by cancel.popen() (it dies with this process, even under SIGKILL) and
killed on the way out of an exception; a cancel.Cancelled is told which tools were stopped.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import threading

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel

STDERR_KEEP = 8192
# What this process reads from a compressor at a time (artifact.CHUNK: the writer hashes it).
CHUNK = 1 << 20
# Pipes between a producer, the compressor and this process are widened to this (Linux; the
# default 64 KiB makes the three wake each other about sixteen times as often).
PIPE_SIZE = 1 << 20
# What a restore's producer is read in when it goes to an exec stream (one websocket frame each).
EXEC_CHUNK = 256 * 1024
SIGPIPE_CODES = (-13, 128 + 13)


def zstd_argv(zstd, level=1, threads=0, decompress=False):
    """zstd compressing stdin to stdout at ``level`` with ``threads`` (0: one per core), or
    decompressing (the archive's path follows)."""
    if decompress:
        return [zstd, "-q", "-d", "-c"]
    return [zstd, "-q", "-c", "-%d" % int(level), "-T%d" % int(threads)]


class PipelineError(Exception):
    """A pipeline that failed; the message names the tool and the cause."""


class ProducerError(PipelineError):
    """The consumer of a restore stream (pg_restore, psql) ran to the end and succeeded, but
    the producer (zstd -d) failed: whatever the consumer committed stays committed."""


class Tail:
    """Keeps the last ``keep`` bytes of a stream (a tool's stderr), read in a thread."""

    def __init__(self, stream, keep=STDERR_KEEP):
        self.data = b""
        self.keep = keep
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read(4096), b""):
            self.data = (self.data + chunk)[-self.keep :]

    def text(self):
        self._thread.join(timeout=10)
        return self.data.decode("utf-8", "replace").strip()


def widen_pipe(stream, size=PIPE_SIZE):
    """Ask for a larger pipe buffer (Linux ``F_SETPIPE_SZ``); a no-op where it is refused
    (other systems, a per-user pipe limit)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def kill(*procs, cause=None):
    """Stop the processes that still run and reap them all; a Cancelled ``cause`` is told
    which were stopped."""
    cancel.note_stopped(cause, *procs)
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
    for proc in procs:
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)


def describe_oserror(exc, path):
    """An OSError of writing ``path`` in words (a full disk says so)."""
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return "no space left on the device of %s" % path
    return "%s: %s" % (path, exc.strerror or exc)


def compress_process(argv, env, writer, compressor, what, pass_fds=()):
    """``argv | compressor`` into ``writer``: the OS pipes the producer into the compressor,
    this process copies the compressed bytes into the writer. Raises PipelineError with the
    tool's own message when either fails, the writer's error wrapped when writing fails. The
    writer is not committed here. ``env`` is the producer's environment (None: this one's),
    ``pass_fds`` the descriptors it inherits (its pgpass memfd)."""
    producer = packer = None
    try:
        producer = cancel.popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=tuple(pass_fds)
        )
        producer_err = Tail(producer.stderr)
        widen_pipe(producer.stdout)
        packer = cancel.popen(
            compressor, stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        packer_err = Tail(packer.stderr)
        widen_pipe(packer.stdout)
        producer.stdout.close()
        for chunk in iter(lambda: packer.stdout.read(CHUNK), b""):
            writer.write(chunk)
        packer.wait()
        producer.wait()
    except OSError as exc:
        kill(producer, packer)
        if getattr(exc, "filename", None) in (argv[0], compressor[0]):
            raise PipelineError("cannot run %s: %s" % (exc.filename, exc.strerror)) from exc
        where = getattr(writer, "path", None) or "the backup directory"
        raise PipelineError(
            "%s stopped, nothing kept: writing failed: %s" % (what, describe_oserror(exc, where))
        ) from exc
    except BaseException as exc:
        kill(producer, packer, cause=exc)
        raise
    if producer.returncode != 0:
        raise PipelineError(
            "%s failed (exit code %s): %s" % (what, producer.returncode, producer_err.text() or "no message")
        )
    if packer.returncode != 0:
        raise PipelineError("zstd failed (exit code %s): %s" % (packer.returncode, packer_err.text()))


class Compressor:
    """A compressor process (``argv``, e.g. ``zstd -q -c -1``) fed through write(); a thread
    copies its output into ``writer``, a megabyte at a time.

    ::

        with Compressor(argv, writer) as packer:
            for data in source:
                packer.write(data)
            packer.finish()     # or close(), then check()

    ``write()`` raises the writer's error (a full disk) as soon as it is known, or
    PipelineError when the compressor stopped; finish() closes its input, waits, and raises
    the writer's error or PipelineError for a failed compressor. Leaving the block without
    finish() (an error of the source) kills the compressor. ``name`` is the compressor in
    messages."""

    def __init__(self, argv, writer, name="zstd"):
        self.argv = list(argv)
        self.writer = writer
        self.name = name
        self.proc = None
        self.failure = None
        self._stderr = None
        self._thread = None

    def __enter__(self):
        try:
            self.proc = cancel.popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise PipelineError("cannot run %s: %s" % (self.argv[0], exc.strerror or exc)) from exc
        self._stderr = Tail(self.proc.stderr)
        widen_pipe(self.proc.stdout)
        self._thread = threading.Thread(target=self._drain, name="%s-writer" % self.name, daemon=True)
        self._thread.start()
        return self

    def _drain(self):
        try:
            for chunk in iter(lambda: self.proc.stdout.read(CHUNK), b""):
                self.writer.write(chunk)
        except BaseException as exc:  # noqa: BLE001 - raised in the feeding thread
            self.failure = exc
            self.proc.kill()

    def write(self, data):
        if self.failure is not None:
            raise self.failure
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ValueError):
            if self.failure is not None:
                raise self.failure from None
            raise PipelineError("%s stopped before the end of its input" % self.name) from None

    def close(self):
        """End the input and wait for the compressor and the copy; raises the writer's error."""
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        self._thread.join()
        self.proc.wait()
        if self.failure is not None:
            raise self.failure

    def check(self):
        """After close(): PipelineError when the compressor failed."""
        if self.proc.returncode != 0:
            raise PipelineError(
                "%s failed (exit code %s): %s" % (self.name, self.proc.returncode, self._stderr.text())
            )

    def finish(self):
        self.close()
        self.check()

    def abort(self, cause=None):
        """Stop the compressor (its output is not wanted any more)."""
        kill(self.proc, cause=cause)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __exit__(self, exc_type, exc, tb):
        if self.proc is not None:
            self.abort(exc if self.proc.poll() is None else None)
            for stream in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        return False


def compress_exec(stream, writer, compressor, what, stdin_first=None):
    """An exec stream's stdout through a local ``compressor`` into ``writer``; ``stdin_first``
    (a pgpass line) is sent and the command's stdin closed before it. Raises PipelineError
    when the command exits non-zero or the compressor fails, the writer's error when writing
    fails (before an error of the stream that followed it)."""
    with Compressor(compressor, writer) as packer:
        try:
            if stdin_first is not None:
                stream.write(stdin_first)
                stream.close_stdin()
            code = stream.pump(packer.write)
        except BaseException as exc:
            packer.abort(exc)
            if packer.failure is not None:
                raise packer.failure from None
            raise
        packer.close()
    if code != 0:
        raise PipelineError(stream.failure(what))
    packer.check()


def producer_stopped_by_reader(returncode, stderr):
    """The producer (zstd -d) stopped because its reader went away (SIGPIPE, EPIPE): after a
    consumer that succeeded, this is a consumer that did not need the rest (pg_restore
    --table, -L, --schema-only), not a failure."""
    text = (stderr or "").lower()
    return returncode in SIGPIPE_CODES or "broken pipe" in text or "epipe" in text


def check_producer(returncode, stderr, what, stopped_early=False):
    """After a consumer that exited 0: raise ProducerError when the producer really failed."""
    if returncode in (0, None) or stopped_early or producer_stopped_by_reader(returncode, stderr):
        return
    raise ProducerError("decompressing the archive failed: %s" % (stderr or "zstd exit code %s" % returncode))


def run_pipeline(first, second, env, what, pass_fds=()):
    """``first | second`` as argument lists (``env``: the consumer's environment,
    ``pass_fds``: the descriptors it inherits); raises PipelineError naming the consumer
    (``what``) when it fails, ProducerError when only the producer did."""
    producer = consumer = None
    try:
        producer = cancel.popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        producer_err = Tail(producer.stderr)
        consumer = cancel.popen(
            second,
            stdin=producer.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=tuple(pass_fds),
        )
        consumer_out = Tail(consumer.stdout)
        consumer_err = Tail(consumer.stderr)
        producer.stdout.close()
        consumer.wait()
        producer.wait()
    except OSError as exc:
        kill(producer, consumer)
        raise PipelineError("cannot run %s: %s" % (exc.filename or what, exc.strerror or exc)) from exc
    except BaseException as exc:
        kill(producer, consumer, cause=exc)
        raise
    if consumer.returncode != 0:
        raise PipelineError(
            "%s failed (exit code %s): %s"
            % (what, consumer.returncode, consumer_err.text() or consumer_out.text() or "no message")
        )
    check_producer(producer.returncode, producer_err.text(), what)


def stream_into_exec(producer_argv, stream, first, what):
    """``producer_argv`` here into the stdin of the command of an exec ``stream``, ``first``
    (a pgpass line) sent before; the command's output is discarded. A command that ends
    before reading everything does not hang the stream: the producer is stopped."""
    producer = cancel.popen(producer_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    producer_err = Tail(producer.stderr)
    result = {}

    def pump():
        try:
            result["code"] = stream.pump(lambda data: None)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def send(chunk):
        """False when the command has ended and no longer takes stdin."""
        try:
            stream.write(chunk)
            return True
        except Exception:
            reader.join(timeout=30)
            if "code" in result:
                return False
            raise

    try:
        if first:
            stream.write(first)
        ended_early = False
        for chunk in iter(lambda: producer.stdout.read(EXEC_CHUNK), b""):
            if "error" in result or "code" in result or not send(chunk):
                ended_early = True
                break
        if ended_early:
            kill(producer)  # nobody reads the rest: it would block on a full pipe forever
        producer.wait()
        if "error" not in result and "code" not in result:
            stream.close_stdin()
        reader.join()
    except BaseException as exc:
        kill(producer, cause=exc)
        raise
    if "error" in result:
        raise result["error"]
    if result.get("code") != 0:
        raise PipelineError(stream.failure(what))
    # The command succeeded: if it ended before reading everything (pg_restore --table, -L,
    # --schema-only), the producer was stopped here on purpose or by a broken pipe.
    check_producer(producer.returncode, producer_err.text(), what, stopped_early=ended_early)
