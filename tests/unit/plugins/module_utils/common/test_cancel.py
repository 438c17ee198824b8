# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact
from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel, pipeline
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, Request

ROOT = Path(__file__).resolve().parents[6]
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def _wait_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# -- the words ------------------------------------------------------------------------------------


def test_describe_names_the_signal_the_step_and_what_was_cleaned():
    exc = cancel.Cancelled("SIGTERM")
    with pytest.raises(cancel.Cancelled):
        with cancel.step("the backup of app"):
            with cancel.step("the dump of app"):
                raise exc
    cancel.note_removed(exc, "/b/.app.x.partial")
    cancel.note_removed(RuntimeError("not a cancel"), "/elsewhere")
    proc = subprocess.Popen(["true"])
    proc.wait()
    cancel.note_stopped(exc, proc, None, proc)
    assert (
        exc.describe()
        == "cancelled (SIGTERM) during the dump of app; removed /b/.app.x.partial; stopped true"
    )
    assert str(cancel.Cancelled("SIGINT", "its parent process 7 ended")) == (
        "cancelled (its parent process 7 ended)"
    )


def test_ancestors_stop_at_the_session_leader_or_init():
    parents = {50: 40, 40: 30, 30: 20, 20: 1}
    assert cancel.ancestors(50, parents.get, stop_at=30) == [40, 30]
    assert cancel.ancestors(50, parents.get, stop_at=999) == [40, 30, 20]
    assert cancel.ancestors(50, parents.get, stop_at=999, limit=2) == [40, 30]
    assert cancel.ancestors(50, {}.get, stop_at=1) == []


# -- the guard ------------------------------------------------------------------------------------


def test_a_sigterm_raises_cancelled_once_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(cancel.Cancelled) as caught:
        with cancel.Guard(watch=False) as guard:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted
    assert caught.value.signame == "SIGTERM" and guard.cancelled is caught.value
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_signal_does_not_interrupt_the_cleanup_of_the_first():
    cleaned = []
    with pytest.raises(cancel.Cancelled):
        with cancel.Guard(watch=False):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            finally:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)
                cleaned.append(True)
    assert cleaned == [True]


def test_sigint_and_sighup_cancel_as_sigterm_does():
    for signum in (signal.SIGINT, signal.SIGHUP):
        with pytest.raises(cancel.Cancelled) as caught:
            with cancel.Guard(watch=False):
                os.kill(os.getpid(), signum)
                time.sleep(5)
        assert caught.value.signame == signal.Signals(signum).name


def test_cancellable_turns_a_cancel_the_runner_let_through_into_an_ops_error():
    def runner(request, value):
        with cancel.step("the work on %s" % value):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

    with pytest.raises(OpsError) as caught:
        cancel.cancellable(runner)(Request({}), "x")
    assert caught.value.msg == "cancelled (SIGTERM) during the work on x"


# -- the way out of a pipeline ----------------------------------------------------------------------------


def _term_soon(delay=0.3):
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_a_cancelled_pipeline_stops_its_tools_and_removes_its_partial_file(tmp_path):
    target = tmp_path / "app-20260101T000000Z.dump.zst"
    slow = [
        sys.executable,
        "-c",
        "import sys, time\nwhile True:\n    sys.stdout.write('x' * 100)\n    time.sleep(0.01)",
    ]
    procs = []
    real_popen = cancel.popen

    def spy(argv, **kwargs):
        procs.append(real_popen(argv, **kwargs))
        return procs[-1]

    cancel.popen = spy
    try:
        _term_soon()
        with pytest.raises(cancel.Cancelled) as caught:
            with cancel.Guard(watch=False):
                with cancel.step("the dump of app"):
                    with artifact.AtomicWriter(str(target)) as writer:
                        pipeline.compress_process(slow, None, writer, ["cat"], "the slow tool")
    finally:
        cancel.popen = real_popen
    assert os.listdir(tmp_path) == []
    exc = caught.value
    assert exc.during == "the dump of app"
    assert exc.removed == [writer.temp_path]
    assert sorted(set(exc.stopped)) == sorted({os.path.basename(sys.executable), "cat"})
    assert all(proc.poll() is not None for proc in procs)


# -- dying with the parent --------------------------------------------------------------------------------

CHILD_OF = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = %r
    from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
    proc = cancel.popen(["sleep", "60"])
    print(proc.pid, flush=True)
    time.sleep(60)
    """
)


def _collection_path():
    # the collection is importable as ansible_collections.multiagent.ops from the test run
    import ansible_collections

    return [str(Path(p).parent) for p in ansible_collections.__path__]


@linux
def test_a_tool_dies_with_the_module_even_under_sigkill():
    middle = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF % (_collection_path(),)], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(middle.stdout.readline())
        assert _alive(child)
        middle.kill()
        middle.wait()
        assert _wait_gone(child), "sleep outlived the process that started it"
    finally:
        middle.kill()
        middle.stdout.close()


GUARDED = textwrap.dedent(
    """
    import os, sys, time
    sys.path[:0] = %r
    from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
    try:
        with cancel.Guard(interval=0.1):
            print("ready", flush=True)
            time.sleep(30)
    except cancel.Cancelled as exc:
        with open(%r, "w") as out:
            out.write(str(exc))
    """
)


@linux
@pytest.mark.parametrize("wrapped", [False, True], ids=["parent", "grandparent-behind-sh"])
def test_the_module_is_cancelled_when_what_started_it_ends(tmp_path, wrapped):
    report = tmp_path / "report"
    script = tmp_path / "guarded.py"
    script.write_text(GUARDED % (_collection_path(), str(report)))
    # the test's own session: the watched ancestors end at its leader, the "worker" below
    command = [sys.executable, str(script)]
    if wrapped:  # as Ansible runs a module: worker -> sh -c '... && sleep 0' -> python
        command = ["sh", "-c", "%s %s && sleep 0" % (sys.executable, script)]
    worker = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])"] + command,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert worker.stdout.readline().strip() == "ready"
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 10
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert report.exists(), "the guarded process did not notice"
        time.sleep(0.2)
        text = report.read_text()
        assert text.startswith("cancelled (") and "ended" in text
    finally:
        worker.kill()
        worker.stdout.close()


# -- secrets ------------------------------------------------------------------------------------------------


def test_a_secret_file_is_readable_by_a_child_and_gone_after():
    with cancel.secret_file(b"s3cret\n", "token") as secret:
        out = subprocess.run(["cat", secret.path], capture_output=True, check=True, pass_fds=secret.pass_fds)
        assert out.stdout == b"s3cret\n"
    if secret.pass_fds:
        with pytest.raises(OSError):
            os.fstat(secret.pass_fds[0])
    else:
        assert not os.path.exists(secret.path)


@linux
def test_a_secret_file_leaves_nothing_on_disk_when_its_holder_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        sys.path[:0] = %r
        from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
        with cancel.secret_file(b"password-%s", "pgpass") as secret:
            print(secret.path, flush=True)
            time.sleep(60)
        """
    ) % (_collection_path(), tmp_path.name)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("/dev/fd/")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.stdout.close()
    leftover = subprocess.run(
        ["grep", "-rl", "password-%s" % tmp_path.name, "/tmp", "/dev/shm"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftover.stdout == ""


# -- stale partial files ------------------------------------------------------------------------------------


def test_stale_partials_are_removed_only_when_their_writer_is_gone(tmp_path):
    final = tmp_path / "app-20260101T000000Z.dump.zst"
    dead = tmp_path / ".app-20260101T000000Z.dump.zst.abc123.partial"
    dead.write_bytes(b"half")
    other = tmp_path / ".notes.partial.txt"
    other.write_bytes(b"mine")
    later = time.time() + 60
    with artifact.AtomicWriter(str(final)) as live:
        live.write(b"being written")
        # young files are not judged; the live writer holds its lock
        assert artifact.remove_stale_partials(str(tmp_path)) == []
        removed = artifact.remove_stale_partials(str(tmp_path), clock=lambda: later)
        assert removed == [str(dead)]
        assert os.path.exists(live.temp_path)
    assert sorted(os.listdir(tmp_path)) == [other.name]


def test_the_file_ansible_ran_the_module_from_is_removed_unless_kept(tmp_path):
    """An async task runs ``python AnsiballZ_<module>.py``, a file holding the module's
    arguments (the password): the module finds it on its own command line and removes it as
    it starts; a pipelined module (read from stdin) has none."""
    wrapper = tmp_path / "ansible-tmp-1-2-3" / "AnsiballZ_postgresql_backup.py"
    wrapper.parent.mkdir()
    wrapper.write_text("params = 'secret'")
    argv = ["/usr/bin/python3", str(wrapper)]
    assert cancel.forget_wrapper(argv, keep=True) is None
    assert wrapper.exists()  # ANSIBLE_KEEP_REMOTE_FILES: debugging wants it
    assert cancel.forget_wrapper(argv) == str(wrapper)
    assert not wrapper.exists()
    assert cancel.forget_wrapper(argv) is None  # already gone
    other = tmp_path / "script.py"
    other.write_text("")
    assert cancel.forget_wrapper(["/usr/bin/python3", str(other)]) is None and other.exists()
    assert cancel.forget_wrapper(["/usr/bin/python3"]) is None  # pipelined: read from stdin
    interpreter = tmp_path / "AnsiballZ_python.py"  # only arguments after the interpreter
    interpreter.write_text("")
    assert cancel.forget_wrapper([str(interpreter), "-c", "pass"]) is None and interpreter.exists()


def test_the_launch_command_line_is_the_interpreters_own(tmp_path):
    """A wrapper rewrites ``sys.argv`` and ``__main__``; the process's own command line
    still names the file it was started from."""
    script = tmp_path / "AnsiballZ_probe.py"
    script.write_text(
        "import sys\n"
        "sys.argv = ['rewritten']\n"
        "from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel\n"
        "print(cancel.wrapper_path(cancel.launch_argv()))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == str(script)
