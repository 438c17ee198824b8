# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cancelling a long-running module: what it leaves behind, and what it says.

AWX cancels a job with SIGTERM to ``ansible-playbook``, whose worker passes it to the
process group the module runs in (pg_dump, zstd and the rest get it too), then exits: no
YAML ``always:`` runs. A module under a :class:`Guard` handles SIGTERM, SIGINT and SIGHUP
alike: the signal raises :class:`Cancelled` in the main thread, so the ``with`` blocks and
``finally`` clauses on the way out run (an ``artifact.AtomicWriter`` removes its
``.partial`` file, a pipeline kills its tools, a scratch server stops) and note what they
did on the exception; the runner reports it (``describe()``), and says what changed.

**Parent death.** The guard also cancels the module when the process that started it
ends: ``PR_SET_PDEATHSIG`` (Linux) sends it SIGTERM when its parent dies, and a watcher
thread checks the ancestors up to the session leader (Ansible's worker calls setsid(), so
that is the worker) once a second, so a worker killed with SIGKILL behind a ``sh -c``
wrapper is noticed too. Child tools are started with popen()/run(), which give them
``PR_SET_PDEATHSIG`` = SIGKILL: they die with the module even when it is killed with
SIGKILL. The signal is tied to the *thread* that started the child, so tools are started
from the main thread (every pipeline does).

**Secrets** reach a tool through secret_file(): a memfd (Linux), which no path names and
which goes away with the last process holding it, also under SIGKILL. Other systems get a
0600 file in a 0700 directory removed on exit (and on a cancel); only a SIGKILL leaves it.

Pure: ``Cancelled`` and its words, ``ancestors()`` over a ``parent_of`` function.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError

SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")
PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 1.0
MAX_ANCESTORS = 8


class Cancelled(BaseException):
    """The module was told to stop (a signal, or its parent ended). A BaseException, as
    KeyboardInterrupt is: no ``except Exception`` on the way out swallows it.

    ``during`` is the step it interrupted (the innermost step()); ``removed`` the files and
    ``stopped`` the processes that the way out cleaned up."""

    def __init__(self, signame, reason=None):
        super().__init__(signame)
        self.signame = signame
        self.reason = reason
        self.during = None
        self.removed = []
        self.stopped = []

    def describe(self):
        """``cancelled (SIGTERM) during the dump of app; removed <paths>; stopped pg_dump, zstd``."""
        words = "cancelled (%s)" % (self.reason or self.signame)
        if self.during:
            words += " during %s" % self.during
        if self.removed:
            words += "; removed %s" % ", ".join(self.removed)
        if self.stopped:
            words += "; stopped %s" % ", ".join(_unique(self.stopped))
        return words

    def __str__(self):
        return self.describe()


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


@contextlib.contextmanager
def step(what):
    """Name the step a Cancelled interrupts (``the dump of app``); the innermost one wins."""
    try:
        yield
    except Cancelled as exc:
        if exc.during is None:
            exc.during = what
        raise


def note_removed(exc, path):
    """Record on a Cancelled (and only on one) that the way out removed ``path``."""
    if isinstance(exc, Cancelled) and path:
        exc.removed.append(path)


def note_stopped(exc, *procs):
    """Record on a Cancelled the tools (Popen objects) the way out stopped."""
    if not isinstance(exc, Cancelled):
        return
    for proc in procs:
        if proc is not None:
            args = proc.args if isinstance(proc.args, (list, tuple)) else [proc.args]
            exc.stopped.append(os.path.basename(str(args[0])))


# -- who started us ------------------------------------------------------------------------


def ancestors(pid, parent_of, stop_at, limit=MAX_ANCESTORS):
    """The processes above ``pid``, nearest first, up to ``stop_at`` (included, the session
    leader) or init; ``parent_of(pid)`` gives a pid's parent (None: unknown)."""
    chain = []
    current = parent_of(pid)
    while current and current > 1 and len(chain) < limit:
        chain.append(current)
        if current == stop_at:
            break
        current = parent_of(current)
    return chain


def _proc_stat(pid):
    """``(ppid, start time)`` of a live process from /proc (None when it is gone or unknown)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    # fields[0] is the state (field 3): ppid is field 4, starttime field 22
    if fields and fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), fields[19]


def _parent_of(pid):
    stat = _proc_stat(pid)
    return stat[0] if stat else None


# -- the child side --------------------------------------------------------------------------


def _libc_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        return prctl
    except (OSError, AttributeError, ImportError):
        return None


# Resolved before any fork: the child only calls it between fork and exec.
_PRCTL = _libc_prctl()


def set_pdeathsig(signum):
    """Have this process get ``signum`` when its parent ends (0: not any more); False where
    the system cannot."""
    if _PRCTL is None:
        return False
    return _PRCTL(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def _die_with_parent():
    _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def child_kwargs(kwargs):
    """``kwargs`` for subprocess with the child dying (SIGKILL) when this process ends."""
    if _PRCTL is not None and "preexec_fn" not in kwargs:
        kwargs = dict(kwargs, preexec_fn=_die_with_parent)
    return kwargs


def popen(argv, **kwargs):
    """subprocess.Popen whose child dies with this process (call it from the main thread)."""
    return subprocess.Popen(argv, **child_kwargs(kwargs))


def run(argv, **kwargs):
    """subprocess.run whose child dies with this process (it is killed on a Cancelled)."""
    check = kwargs.pop("check", False)
    return subprocess.run(argv, check=check, **child_kwargs(kwargs))


# -- the module's own file -------------------------------------------------------------------


def launch_argv():
    """The command line this process was started with, before any wrapper rewrote
    ``sys.argv``: ``sys.orig_argv`` (Python 3.10+), else ``/proc/self/cmdline``, else
    ``sys.argv``."""
    argv = getattr(sys, "orig_argv", None)
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            raw = handle.read()
        return [os.fsdecode(part) for part in raw.split(b"\0") if part]
    except OSError:
        return list(sys.argv)


def wrapper_path(argv):
    """The ``AnsiballZ_<module>.py`` file among ``argv`` (an interpreter's command line), or
    None: a pipelined module reads its wrapper from stdin and has none."""
    for arg in argv[1:]:
        name = os.path.basename(arg)
        if name.startswith("AnsiballZ_") and name.endswith(".py"):
            return arg
    return None


def forget_wrapper(argv=None, keep=False):
    """Remove the file Ansible ran this module from, when it ran from one: an async task (or
    one with pipelining off) runs ``python AnsiballZ_<module>.py`` from its remote tmp
    directory, and that file holds the module's arguments, passwords among them, until the
    task ends (for a dump, hours). The wrapper has read them by now and runs the module from
    a payload zip elsewhere, so the module's ``__main__`` is not the file: it is found on the
    command line the interpreter was started with. Without it no secret outlives the module,
    even under SIGKILL; async_wrapper and the controller remove the directory anyway when the
    task ends. ``keep``: Ansible was asked to keep its remote files (debugging). Returns the
    path removed, or None."""
    path = wrapper_path(launch_argv() if argv is None else argv)
    if keep or not path or not os.path.isfile(path):
        return None
    try:
        os.unlink(path)
    except OSError:
        return None
    return path


# -- secrets for a tool -----------------------------------------------------------------------


class SecretFile:
    """What a tool gets: ``path`` to read, ``pass_fds`` to inherit (a memfd)."""

    def __init__(self, path, pass_fds=()):
        self.path = path
        self.pass_fds = tuple(pass_fds)


@contextlib.contextmanager
def secret_file(data, name="secret"):
    """A file holding ``data`` (bytes) that the child tools can open by ``path``.

    On Linux a memfd, mode 0600 (libpq refuses a pgpass file others can read), named as
    ``/dev/fd/N`` in children given ``pass_fds``: no directory entry exists, and the memory
    is freed with the last process holding it, under SIGKILL as well. Elsewhere a 0600 file
    in a 0700 directory, removed on exit."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("maops-" + name, getattr(os, "MFD_CLOEXEC", 1))
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            yield SecretFile("/dev/fd/%d" % fd, (fd,))
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="maops-")
    try:
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield SecretFile(path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- the module side ----------------------------------------------------------------------------


class Guard:
    """While active, SIGTERM, SIGINT and SIGHUP raise Cancelled in the main thread (the first
    one: a second signal does not interrupt the cleanup the first started), and the end of
    the parent or of an ancestor up to the session leader sends this process SIGTERM.

    ::

        with Guard():
            run_the_backup()        # raises Cancelled when told to stop
    """

    def __init__(self, watch=True, interval=WATCH_INTERVAL):
        self.watch = watch
        self.interval = interval
        self.cancelled = None
        self._previous = {}
        self._stop = threading.Event()
        self._thread = None
        self._parent = None
        self._watched = []
        self._gone = None

    # the watcher
    def _snapshot(self):
        self._parent = os.getppid()
        try:
            leader = os.getsid(0)
        except OSError:
            leader = None
        chain = ancestors(os.getpid(), _parent_of, leader) if os.path.isdir("/proc/self") else []
        self._watched = [(pid, _proc_stat(pid)[1]) for pid in chain if _proc_stat(pid)]

    def gone(self):
        """Which process that started us has ended (words), or None."""
        if os.getppid() != self._parent:
            return "its parent process %d ended" % self._parent
        for pid, started in self._watched:
            stat = _proc_stat(pid)
            if stat is None or stat[1] != started:
                return "the process %d that started it ended" % pid
        return None

    def cancel(self, reason):
        """Stop the guarded step from another thread (a lost Lease): as a SIGTERM, with
        ``reason`` in the words."""
        self._gone = reason
        os.kill(os.getpid(), signal.SIGTERM)

    def _watch(self):
        while not self._stop.wait(self.interval):
            why = self.gone()
            if why is not None:
                self._gone = why
                os.kill(os.getpid(), signal.SIGTERM)
                return

    # the handler
    def _handler(self, signum, frame):
        if self.cancelled is not None:
            return  # the cleanup of the first signal goes on
        name = signal.Signals(signum).name
        reason = None
        if signum == signal.SIGTERM and (self._gone or (self.watch and os.getppid() != self._parent)):
            reason = self._gone or "its parent process %d ended" % self._parent
        self.cancelled = Cancelled(name, reason)
        raise self.cancelled

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only: nothing to guard here
        for name in SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                self._previous[signum] = signal.signal(signum, self._handler)
        if self.watch:
            self._snapshot()
            set_pdeathsig(signal.SIGTERM)
            if os.getppid() != self._parent:  # it ended before the signal was asked for
                os.kill(os.getpid(), signal.SIGTERM)
            self._thread = threading.Thread(target=self._watch, name="cancel-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval * 2)
        if self.watch:
            set_pdeathsig(0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False


def cancellable(runner, around=None):
    """``runner`` run under a Guard. The runner reports a Cancelled itself where it knows
    what the cancel left (what persisted, what was removed); one it lets through becomes an
    OpsError with describe().

    ``around(guard)``, when given, makes a context manager entered before the runner and left
    after it, under the Guard: a Lease renewer (k8s/lease.py) whose lost Lease cancels the
    step with ``guard.cancel``."""

    def guarded(request, *args, **kwargs):
        with Guard() as guard:
            try:
                with around(guard) if around else contextlib.nullcontext():
                    return runner(request, *args, **kwargs)
            except Cancelled as exc:
                raise OpsError(exc.describe()) from None

    guarded.__name__ = getattr(runner, "__name__", "runner")
    guarded.__doc__ = runner.__doc__
    return guarded
