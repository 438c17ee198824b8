# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL tools as argument lists (pg_dump, pg_dumpall, pg_restore, psql, zstd), the
connection they are given, and the password, which never appears in an argument list.

**Passwords**: in direct mode libpq reads them from a pgpass file that no path names
(``PGPASSFILE=/dev/fd/N``, a memfd the tools inherit: pgpass_env(), common/cancel.py's
secret_file()), gone with the last process holding it, also when the module is killed
(other systems: a file in a private temporary directory, removed afterwards); in-cluster, the tools use the
pod's own credentials (its environment, a local socket), or a pgpass file that a fixed
script (PGPASS_WRAPPER) writes from the first line of stdin into a private temporary file
inside the pod.

**Database names** that libpq would read as a connection string (``a=b``, a URI) are given
as ``dbname='...'``.
"""

from __future__ import annotations

import contextlib
import os

from ansible_collections.multiagent.ops.plugins.module_utils.common import cancel
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content

# Runs pg_dump/pg_restore/psql in the pod with a pgpass file read from stdin: a fixed script,
# the command and its arguments passed as positional parameters (never interpolated).
PGPASS_WRAPPER = (
    'umask 077; f="$(mktemp)" || exit 97; trap \'rm -f "$f"\' EXIT HUP INT TERM; '
    'IFS= read -r line || true; printf "%s\\n" "$line" > "$f"; '
    'unset PGPASSWORD; PGPASSFILE="$f" "$@"'
)

# pg_dump arguments that change what is dumped: the manifest's row counts and checksums
# would then disagree with the archive. Long names (getopt also takes unambiguous prefixes).
NARROWING_LONG = (
    "--table",
    "--table-and-children",
    "--exclude-table",
    "--exclude-table-and-children",
    "--schema",
    "--exclude-schema",
    "--data-only",
    "--schema-only",
    "--exclude-table-data",
    "--exclude-table-data-and-children",
    "--extension",
    "--exclude-extension",
    "--section",
    "--filter",
)
NARROWING_SHORT = "tTnNase"
# pg_dump's short options that take a value (the rest of the item, or the next item).
SHORT_WITH_VALUE = "deEfFhjnNpStTUZ"


class BackupError(Exception):
    """A backup or restore that is refused or failed; the message says what, where and why,
    and what was kept."""


def narrowing_dump_args(args):
    """The items of ``args`` (extra pg_dump arguments) that narrow what is dumped."""
    found = []
    for arg in args or ():
        arg = str(arg)
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if len(name) > 2 and any(option.startswith(name) for option in NARROWING_LONG):
                found.append(arg)
        elif arg.startswith("-") and len(arg) > 1:
            for char in arg[1:]:
                if char in NARROWING_SHORT:
                    found.append(arg)
                    break
                if char in SHORT_WITH_VALUE:
                    break
    return found


def refuse_narrowing_dump_args(args):
    """BackupError naming the items of ``args`` that would change what is dumped."""
    narrowing = narrowing_dump_args(args)
    if narrowing:
        raise BackupError(
            "dump_args %s would change what is dumped, and the manifest's row counts and checksums "
            "would not describe the archive; use exclude_table_data to leave table data out"
            % ", ".join(narrowing)
        )


def check_login(conn):
    """Refuse a user or password that a pgpass file cannot carry, before anything is done."""
    pgpass_line("*", "*", "*", conn.get("user"), conn.get("password") or "")


def pgpass_line(host, port, dbname, user, password):
    def esc(value):
        return str(value).replace("\\", "\\\\").replace(":", "\\:")

    if any(ch in str(value) for value in (host, port, user, password) for ch in "\r\n"):
        raise BackupError("the password, user or host has a line break, which a pgpass file cannot carry")
    return "%s:%s:%s:%s:%s" % (esc(host or "*"), esc(port or "*"), "*", esc(user or "*"), esc(password))


class ToolEnv(dict):
    """The environment of a libpq tool, and ``pass_fds``: the descriptors it must inherit
    (its pgpass memfd)."""

    pass_fds = ()


@contextlib.contextmanager
def pgpass_env(conn, base_env=None):
    """Environment for libpq tools (a ToolEnv): connection in PG* variables, password in a
    private pgpass file (cancel.secret_file(): a 0600 memfd on Linux, which the tools must be
    given in ``pass_fds``), gone on exit."""
    env = ToolEnv(base_env if base_env is not None else os.environ)
    for key in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGOPTIONS"):
        env.pop(key, None)
    mapping = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "sslmode": "PGSSLMODE"}
    for key, var in mapping.items():
        if conn.get(key) not in (None, ""):
            env[var] = str(conn[key])
    env["PGCONNECT_TIMEOUT"] = str(int(conn.get("connect_timeout") or 10))
    if not conn.get("password"):
        env["PGPASSFILE"] = os.devnull
        yield env
        return
    # The file is private and serves this one connection: libpq looks the password up under
    # "localhost" for a socket and under each host of a multi-host login_host, so the host,
    # port and database fields match any.
    line = pgpass_line("*", "*", "*", conn.get("user"), conn["password"]) + "\n"
    with cancel.secret_file(line.encode("utf-8"), "pgpass") as secret:
        env["PGPASSFILE"] = secret.path
        env.pass_fds = secret.pass_fds
        yield env


def pgpass_stdin(conn):
    """The first line of stdin for PGPASS_WRAPPER (None without a password)."""
    if not conn.get("password"):
        return None
    return (pgpass_line("*", "*", "*", conn.get("user"), conn["password"]) + "\n").encode("utf-8")


def pod_argv(argv, conn):
    """A tool's argument list as it runs in the pod: the login user added, and with a
    password the tool run by PGPASS_WRAPPER (the password follows on stdin)."""
    argv = list(argv)
    if conn.get("user"):
        argv.insert(1, "--username=" + conn["user"])
    if conn.get("password"):
        return ["sh", "-c", PGPASS_WRAPPER, "sh"] + argv
    return argv


def psycopg_params(conn, dbname):
    params = {
        "host": conn.get("host"),
        "port": conn.get("port"),
        "user": conn.get("user"),
        "dbname": dbname,
        "connect_timeout": int(conn.get("connect_timeout") or 10),
        "application_name": "multiagent.ops",
    }
    if conn.get("password"):
        params["password"] = conn["password"]
    if conn.get("sslmode"):
        params["sslmode"] = conn["sslmode"]
    return {k: v for k, v in params.items() if v not in (None, "")}


def conninfo_value(value):
    """A value in a libpq connection string, quoted."""
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")


def dbname_arg(name):
    """A database name as the libpq tools must get it: they read a value with ``=`` or a URI
    prefix as a connection string, so such a name goes as ``dbname='...'``."""
    name = str(name)
    if "=" in name or name.startswith(("postgresql://", "postgres://")):
        return "dbname=" + conninfo_value(name)
    return name


def pg_dump_argv(pg_dump, dbname, snapshot=None, exclude_table_data=(), extra=()):
    argv = [pg_dump, "--format=custom", "--compress=0", "--no-password", "--dbname=" + dbname_arg(dbname)]
    if snapshot:
        argv.append("--snapshot=" + snapshot)
    for table in exclude_table_data or ():
        # (schema, table) pairs resolved on the server go quoted: pg_dump takes a quoted
        # pattern literally (no wildcards, no case folding).
        if isinstance(table, (tuple, list)):
            table = content.qualified(table[0], table[1])
        argv.append("--exclude-table-data=" + table)
    argv.extend(extra or ())
    return argv


def pg_dumpall_globals_argv(pg_dumpall, no_role_passwords=False, extra=()):
    argv = [pg_dumpall, "--globals-only", "--no-password"]
    if no_role_passwords:
        argv.append("--no-role-passwords")
    argv.extend(extra or ())
    return argv


def pg_restore_argv(
    pg_restore, dbname, single_transaction=True, clean=True, no_owner=False, extra=(), application_name=None
):
    """pg_restore's arguments. ``application_name`` names its session on the server (a
    LockWatch finds it by that name: a ``lock_timeout`` cannot be given, as the archive's own
    preamble sets ``lock_timeout = 0``)."""
    target = dbname_arg(dbname)
    if application_name:
        target = "dbname=%s application_name=%s" % (conninfo_value(dbname), conninfo_value(application_name))
    argv = [pg_restore, "--no-password", "--exit-on-error", "--dbname=" + target]
    if single_transaction:
        argv.append("--single-transaction")
    if clean:
        argv.extend(["--clean", "--if-exists"])
    if no_owner:
        argv.extend(["--no-owner", "--no-privileges"])
    argv.extend(extra or ())
    return argv


def psql_session_argv(psql, dbname):
    """psql reading statements from stdin, answering unaligned tuples only, stopping at the
    first error (an in-cluster session, session.PsqlSession)."""
    return [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--dbname=" + dbname_arg(dbname)]


def psql_script_argv(psql, dbname):
    """psql replaying a script from stdin (the globals), going on past errors: a role that
    already exists is reported and left as it is."""
    return [
        psql,
        "-X",
        "-q",
        "--no-password",
        "-v",
        "ON_ERROR_STOP=0",
        "--dbname=" + dbname_arg(dbname),
        "-f",
        "-",
    ]
