"""Speed of the PostgreSQL backup, measured side by side in one run (`make bench-backup`).

On a generated database of about 1 GB (``pg_database_size``; bench/pgdata.py, created once as
``maops_bench_1g`` on the local stack's PostgreSQL and kept between runs), into a scratch
directory on one filesystem, interleaved (A, B, C, A, B, C, ...), median of RUNS runs each:

- (A) ``multiagent.ops.postgresql_backup`` in direct mode, one task of a tiny playbook
  (bench/backup_module.yml) on localhost with the local connection: the task's wall time
  (json callback), the whole ansible-playbook process, and the module's own dump time (its
  manifest's duration). The targets compare the task time;
- (B) the baseline: ``pg_dump -Fc -Z0 -f FILE`` then ``sync FILE`` (the module fsyncs its
  archive; a system-wide ``sync`` would also flush other processes' writes);
- (C) the seed's way: ``pg_dump DB | gzip > FILE`` (an argument-list pipeline, no shell, no
  sync, as the seed does it);

then the archive sizes, and the restores, interleaved: the module's
``postgresql_restore state=verified`` (bench/restore_module.yml: scratch database created,
``zstd -d | pg_restore --single-transaction``, row counts and checksums compared with the
manifest, scratch database dropped) next to a plain ``pg_restore -d SCRATCH`` of B's dump into
a fresh database. ``--profile`` adds the pieces of the module's time (see profile()).

Prints `RESULT name=value` lines. Not a test: nothing here asserts a time. Options and
environment: --size-mb / BENCH_PG_SIZE_MB (default 1024; a smaller size uses its own database
``maops_bench_<N>m``), --runs / BENCH_RUNS (default 3), --scratch-dir / BENCH_SCRATCH_DIR
(default the system temp dir), --profile / BENCH_PROFILE=1, --drop (drop the generated
database at the end), --compression-level / BENCH_ZSTD_LEVEL (the module's compression_level
for A), --compare-level N (the module at another level as an extra interleaved variant),
--no-checksums (the module with checksums=false), --compare-no-checksums (the module with
checksums=false as an extra interleaved variant: what the content checksums cost).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgdata  # noqa: E402
import stack  # noqa: E402

BIN = Path(sys.executable).parent
MARK = "multiagent.ops bench database: pgdata size_mb=%d complete"
SCRATCH_DB = "maops_bench_scratch_%d_" % os.getpid()
TARGETS = {
    "backup_vs_baseline": ("<=", 1.3),
    "seed_vs_backup": (">=", 3.0),
    "size_vs_gzip": ("<=", 1.0),
}


def log(text):
    print(text, flush=True)


def mib(size):
    return size / 2**20


class Postgres:
    """The stack's PostgreSQL as the superuser: psycopg connections and the tools' environment
    (the password in PGPASSWORD of the children, never in argv)."""

    def __init__(self):
        facts = stack.facts()["postgresql"]
        self.host = facts["host"]
        self.port = int(facts["port"])
        self.user = "postgres"
        self.password = Path(facts["superuser_password_file"]).read_text().strip()
        self.bin_dir = facts["bin_dir"]

    def tool(self, name):
        return os.path.join(self.bin_dir, name)

    def connect(self, dbname="postgres"):
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            autocommit=True,
            application_name="maops-backup-bench",
        )

    def conninfo(self, dbname):
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname
        )

    def env(self):
        env = dict(os.environ)
        for key in ("PGPASSFILE", "PGSERVICE", "PGOPTIONS", "PGDATABASE"):
            env.pop(key, None)
        env.update(
            PGHOST=self.host,
            PGPORT=str(self.port),
            PGUSER=self.user,
            PGPASSWORD=self.password,
            PGAPPNAME="maops-backup-bench",
        )
        return env

    def run(self, argv, **kwargs):
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env(), check=False, **kwargs)
        if proc.returncode != 0:
            raise SystemExit("%s failed (exit code %d): %s" % (argv[0], proc.returncode, proc.stderr[-2000:]))
        return proc

    def create_database(self, name):
        with self.connect() as conn:
            conn.execute("CREATE DATABASE %s TEMPLATE template0" % sql.Identifier(name).as_string(conn))

    def drop_database(self, name):
        with self.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute("DROP DATABASE IF EXISTS %s" % sql.Identifier(name).as_string(conn))

    def databases(self, prefix):
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
            ).fetchall()
        return [row[0] for row in rows]


def database_name(size_mb):
    return "maops_bench_1g" if size_mb == 1024 else "maops_bench_%dm" % size_mb


def ensure_database(pg, name, size_mb):
    """The generated database, reused when a previous run completed it at this size."""
    with pg.connect() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database'), pg_database_size(oid) FROM pg_database "
            "WHERE datname = %s",
            (name,),
        ).fetchone()
    if row and row[0] == MARK % size_mb:
        log("reusing database %s (%.0f MiB)" % (name, mib(row[1])))
        return row[1]
    if row is None:
        pg.create_database(name)
        log("generating database %s of %d MiB with bench/pgdata.py ..." % (name, size_mb))
    else:
        log("completing database %s (%.0f MiB so far) to %d MiB ..." % (name, mib(row[1]), size_mb))
    started = time.monotonic()
    last = [0.0]

    def progress(size):
        if mib(size) - last[0] >= 100:
            last[0] = mib(size)
            log("  %.0f MiB" % mib(size))

    size = pgdata.generate(pg.conninfo(name), size_mb, progress=progress)
    with pg.connect(name) as conn:
        conn.execute(
            "COMMENT ON DATABASE %s IS %s"
            % (
                sql.Identifier(name).as_string(conn),
                sql.Literal(MARK % size_mb).as_string(conn),
            )
        )
        conn.execute("CHECKPOINT")
    log("  generated %.0f MiB in %.0f s" % (mib(size), time.monotonic() - started))
    return size


def describe_database(pg, name):
    with pg.connect(name) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 3 DESC"
        ).fetchall()
    return ", ".join("%s %d rows %.0f MiB" % (n, t, mib(s)) for n, t, s in rows)


def settle():
    """Untimed, before every measurement: earlier writes (the previous variant's file, the
    seed's unsynced gzip file) are flushed now, not during the next measurement."""
    os.sync()


def remove(*paths):
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class Ansible:
    """ansible-playbook on localhost (connection local) with the json callback; the
    password goes in an extra-vars file of mode 0600, never in argv."""

    def __init__(self, pg, scratch):
        self.scratch = scratch
        self.inventory = os.path.join(scratch, "inventory.ini")
        Path(self.inventory).write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
        )
        self.common = {
            "bench_pg_host": pg.host,
            "bench_pg_port": pg.port,
            "bench_pg_user": pg.user,
            "bench_pg_password": pg.password,
            "bench_pg_bin_dir": pg.bin_dir,
        }
        self.env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_NOCOLOR="1",
            PATH="%s%s%s" % (BIN, os.pathsep, os.environ.get("PATH", "")),
        )

    def run(self, playbook, extra):
        """(process seconds, task seconds, the task's result)."""
        varsfile = os.path.join(self.scratch, "vars.json")
        fd = os.open(varsfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(dict(self.common, **extra), handle)
        cmd = [
            str(BIN / "ansible-playbook"),
            "-i",
            self.inventory,
            str(ROOT / playbook),
            "-e",
            "@" + varsfile,
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, check=False)
        elapsed = time.monotonic() - started
        remove(varsfile)
        try:
            data = json.loads(proc.stdout[proc.stdout.index("{") :])
            task = data["plays"][0]["tasks"][-1]
            result = task["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise SystemExit(
                "%s: no result (exit code %d)\n%s" % (playbook, proc.returncode, proc.stderr[-2000:])
            )
        if proc.returncode != 0 or result.get("failed"):
            raise SystemExit("%s failed: %s" % (playbook, result.get("msg")))
        duration = task["task"]["duration"]
        seconds = (parse_time(duration["end"]) - parse_time(duration["start"])).total_seconds()
        return elapsed, seconds, result


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Bench:
    def __init__(self, pg, database, scratch, runs, level=None, checksums=True):
        self.pg = pg
        self.level = level
        self.checksums = checksums
        self.database = database
        self.scratch = scratch
        self.runs = runs
        self.ansible = Ansible(pg, scratch)
        self.times = {}
        self.sizes = {}
        self.cpu = {}
        self.kept = {}

    def record(self, name, run, seconds, size=None, note=""):
        self.times.setdefault(name, []).append(seconds)
        if size is not None:
            self.sizes.setdefault(name, []).append(size)
        log(
            "  run %d %-22s %7.2fs%s%s"
            % (run + 1, name, seconds, "  %8.1f MiB" % mib(size) if size is not None else "", note)
        )

    def keep(self, name, *paths):
        """The last archive of a variant is kept for the restores; earlier ones are removed."""
        remove(*self.kept.get(name, ()))
        self.kept[name] = paths

    # -- backups -------------------------------------------------------------------------
    def module_backup(self, run, level=None, name="module", checksums=None):
        """A: the module's task. ``level`` (compression_level) defaults to --compression-level,
        or the module's own default; other levels are extra variants (--compare-level), and so
        is the module without its content checksums (--compare-no-checksums)."""
        extra = {"bench_database": self.database, "bench_dest": os.path.join(self.scratch, name)}
        extra["bench_prefix"] = "a%d" % run
        level = self.level if level is None else level
        if level is not None:
            extra["bench_compression_level"] = level
        if not (self.checksums if checksums is None else checksums):
            extra["bench_checksums"] = False
        elapsed, task, result = self.ansible.run("bench/backup_module.yml", extra)
        backup = result["backups"][0]
        self.record(name + "_task", run, task, backup["size"], "  (dump %.2fs)" % backup["duration_seconds"])
        self.times.setdefault(name + "_playbook", []).append(elapsed)
        self.times.setdefault(name + "_dump", []).append(backup["duration_seconds"])
        self.keep(name, backup["path"], backup["manifest_path"])

    def baseline(self, run):
        path = os.path.join(self.scratch, "b%d.dump" % run)
        started = time.monotonic()
        self.pg.run([self.pg.tool("pg_dump"), "-Fc", "-Z0", "--no-password", "-f", path, self.database])
        subprocess.run(["sync", path], check=True)
        self.record("baseline", run, time.monotonic() - started, os.path.getsize(path))
        self.keep("baseline", path)

    def seed(self, run):
        path = os.path.join(self.scratch, "c%d.sql.gz" % run)
        started = time.monotonic()
        with open(path, "wb") as out:
            dump = subprocess.Popen(
                [self.pg.tool("pg_dump"), "--no-password", self.database],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.pg.env(),
            )
            gzip = subprocess.Popen(["gzip"], stdin=dump.stdout, stdout=out)
            dump.stdout.close()
            gzip.wait()
            err = dump.stderr.read()
            dump.wait()
        if dump.returncode or gzip.returncode:
            raise SystemExit(
                "pg_dump | gzip failed (%s, %s): %s" % (dump.returncode, gzip.returncode, err[-2000:])
            )
        self.record("seed", run, time.monotonic() - started, os.path.getsize(path))
        remove(path)

    # -- restores ------------------------------------------------------------------------
    def module_restore(self, run):
        scratch_db = SCRATCH_DB + "verify_%d" % run
        elapsed, task, result = self.ansible.run(
            "bench/restore_module.yml",
            {"bench_archive": self.kept["module"][0], "bench_scratch_database": scratch_db},
        )
        checks = result.get("checks") or {}
        if checks.get("problems") or not checks.get("tables_checked"):
            raise SystemExit("the verified restore found differences: %s" % checks)
        self.record(
            "restore_verified",
            run,
            task,
            note="  (playbook %.2fs, %d tables, %d rows checked)"
            % (elapsed, checks["tables_checked"], checks["rows_checked"]),
        )
        self.times.setdefault("restore_verified_playbook", []).append(elapsed)

    def plain_restore(self, run):
        scratch_db = SCRATCH_DB + "restore_%d" % run
        self.pg.create_database(scratch_db)
        try:
            started = time.monotonic()
            self.pg.run(
                [self.pg.tool("pg_restore"), "--no-password", "-d", scratch_db, self.kept["baseline"][0]]
            )
            self.record("pg_restore", run, time.monotonic() - started)
        finally:
            self.pg.drop_database(scratch_db)

    def measure(self, variants):
        for run in range(self.runs):
            for variant in variants:  # interleaved: one of each per round
                settle()
                variant(run)

    def median(self, name):
        return statistics.median(self.times[name])


class CpuSampler:
    """CPU seconds (user + system) of this process's children (pg_dump, zstd) and of the
    server processes of the bench database (named by application_name: pg_dump's backend
    ``multiagent.ops-backup``, the checksum session ``multiagent.ops``), read from /proc every
    50 ms while a backup runs; this process's own CPU (the copy and the sha256) apart."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pg, database):
        self.pg = pg
        self.database = database
        self.cpu = {}
        self.labels = {}
        self._stop = threading.Event()
        self._overhead = 0.0
        self._threads = [threading.Thread(target=self._sample, daemon=True)]
        self._threads.append(threading.Thread(target=self._name_backends, daemon=True))

    @staticmethod
    def available():
        return os.path.exists("/proc/self/stat")

    @classmethod
    def stat(cls, pid):
        try:
            with open("/proc/%d/stat" % pid) as handle:
                data = handle.read()
        except OSError:
            return None
        fields = data[data.rindex(")") + 2 :].split()
        name = data[data.index("(") + 1 : data.rindex(")")]
        return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / cls.TICK

    def _sample(self):
        me = os.getpid()
        while not self._stop.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                found = self.stat(int(entry))
                if found and (found[1] == me or found[0] == "postgres"):
                    self.cpu[int(entry)] = (found[0] if found[1] == me else None, found[2])
            self._stop.wait(0.05)
        self._overhead += time.thread_time()

    def _name_backends(self):
        with self.pg.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s", (self.database,)
                ).fetchall()
                self.labels.update({pid: "backend " + (app or "?") for pid, app in rows})
                self._stop.wait(0.2)
        self._overhead += time.thread_time()

    def __enter__(self):
        self._started = self._process_cpu = time.process_time()
        self._before = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = self.stat(int(entry))
                if found and found[0] == "postgres":
                    self._before[int(entry)] = found[2]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()
        totals = {"python (copy, sha256)": time.process_time() - self._started - self._overhead}
        for pid, (name, cpu) in self.cpu.items():
            label = name or self.labels.get(pid)
            if label:
                totals[label] = totals.get(label, 0.0) + cpu - self._before.get(pid, 0.0)
        self.totals = totals
        return False


def profile(bench):
    """Where the module's time goes. Timed, interleaved like the rest: the dump alone into
    /dev/null (the floor of any backup); the module's pipeline run by the OS alone
    (``pg_dump -Fc -Z0 | zstd -LEVEL -T0 > FILE`` then fsync, no Python in the data path); the
    module's code called in-process (no Ansible) as configured, with zstd level 1, and without
    the content checksums; the checksums alone in one REPEATABLE READ transaction. Then, one
    run each, the CPU seconds of every process taking part (CpuSampler): on a machine with
    few free cores, CPU seconds are what the wall time follows."""
    from ansible_collections.multiagent.ops.plugins.module_utils.pg import argv as pg_argv
    from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pgsql
    from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup
    from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session

    pg, db = bench.pg, bench.database
    level = bench.level if bench.level is not None else 3
    zstd = shutil.which("zstd")
    tools = {name: pg.tool(name) for name in ("pg_dump", "pg_dumpall", "pg_restore", "psql")}
    tools["zstd"] = zstd
    conn = {"host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password}
    target = pg_session.Target("direct", conn, tools)

    def dump_null(run):
        started = time.monotonic()
        pg.run([tools["pg_dump"], "-Fc", "-Z0", "--no-password", "--no-sync", "-f", os.devnull, db])
        bench.record("p_dump_devnull", run, time.monotonic() - started)

    def os_pipeline(run):
        path = os.path.join(bench.scratch, "p_os%d.zst" % run)
        started = time.monotonic()
        with open(path, "wb") as out:
            dump = subprocess.Popen(
                [tools["pg_dump"], "-Fc", "-Z0", "--no-password", db], stdout=subprocess.PIPE, env=pg.env()
            )
            comp = subprocess.Popen(pg_argv.zstd_argv(zstd, level, 0), stdin=dump.stdout, stdout=out)
            dump.stdout.close()
            comp.wait()
            dump.wait()
            os.fsync(out.fileno())
        bench.record("p_dump_zstd_os", run, time.monotonic() - started, os.path.getsize(path))
        remove(path)

    def in_process(run, name="p_module_utils", **options):
        directory = os.path.join(bench.scratch, name)
        os.makedirs(directory, exist_ok=True)
        options.setdefault("level", level)
        options.setdefault("checksums", bench.checksums)
        started = time.monotonic()
        manifest, path = pgbackup.backup_database(target, db, directory, prefix="p%d" % run, **options)
        bench.record(name, run, time.monotonic() - started, manifest["size"])
        remove(path, artifact_manifest(path))

    def checksums_alone(run):
        session = pg_session.PsycopgSession(pg_argv.psycopg_params(conn, db), autocommit=True)
        try:
            started = time.monotonic()
            session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            pgsql.content_snapshot(session)
            session.execute("COMMIT")
            bench.record("p_checksums", run, time.monotonic() - started)
        finally:
            session.close()

    variants = {
        "p_module_utils": {},
        "p_module_utils_z1": {"level": 1},
        "p_module_utils_nochecksums": {"checksums": False},
    }
    bench.measure(
        [dump_null, os_pipeline]
        + [lambda run, n=name, o=opts: in_process(run, n, **o) for name, opts in variants.items()]
        + [checksums_alone]
    )
    if not CpuSampler.available():
        return
    log("profile: CPU seconds per process, one backup each (in-process, no Ansible) ...")
    for name, opts in variants.items():
        settle()
        with CpuSampler(pg, db) as sampler:
            in_process(0, name + "_cpu", **opts)
        total = sum(sampler.totals.values())
        log(
            "  %-28s %5.1f CPU s: %s"
            % (
                name,
                total,
                ", ".join("%s %.1f" % item for item in sorted(sampler.totals.items(), key=lambda i: -i[1])),
            )
        )
        bench.cpu[name] = total


def artifact_manifest(path):
    return path + ".manifest.json"


def verdict(name, value):
    op, limit = TARGETS[name]
    met = value <= limit if op == "<=" else value >= limit
    return "RESULT %s=%.2fx (target %s %.1fx: %s)" % (name, value, op, limit, "met" if met else "MISSED")


def report(bench, compare_levels, compare_no_checksums=False):
    m = bench.median
    size = {name: statistics.median(values) for name, values in bench.sizes.items()}
    for name in ("module_task", "module_playbook", "module_dump", "baseline", "seed"):
        log("RESULT %s_seconds=%.2f" % (name, m(name)))
    log("RESULT module_overhead_seconds=%.2f (task minus the dump)" % (m("module_task") - m("module_dump")))
    for name, label in (("module_task", "module"), ("baseline", "baseline"), ("seed", "seed_gzip")):
        log("RESULT size_%s_mib=%.1f" % (label, mib(size[name])))
    log(verdict("backup_vs_baseline", m("module_task") / m("baseline")))
    log(verdict("seed_vs_backup", m("seed") / m("module_task")))
    log(verdict("size_vs_gzip", size["module_task"] / size["seed"]))
    log(
        "RESULT backup_playbook_vs_baseline=%.2fx (the whole ansible-playbook process)"
        % (m("module_playbook") / m("baseline"))
    )
    for level in compare_levels:
        name = "module_z%d_task" % level
        log("RESULT %s_seconds=%.2f" % (name, m(name)))
        log("RESULT size_module_z%d_mib=%.1f" % (level, mib(size[name])))
        log("RESULT backup_z%d_vs_baseline=%.2fx" % (level, m(name) / m("baseline")))
        log("RESULT seed_vs_backup_z%d=%.2fx" % (level, m("seed") / m(name)))
        log("RESULT size_z%d_vs_gzip=%.2fx" % (level, size[name] / size["seed"]))
    if compare_no_checksums:
        name = "module_nochecksums_task"
        log("RESULT %s_seconds=%.2f" % (name, m(name)))
        log(
            "RESULT backup_nochecksums_vs_baseline=%.2fx (the module with checksums=false)"
            % (m(name) / m("baseline"))
        )
        log(
            "RESULT checksums_share_seconds=%.2f (module_task minus module_nochecksums_task)"
            % (m("module_task") - m(name))
        )
    log("RESULT restore_verified_seconds=%.2f" % m("restore_verified"))
    log("RESULT restore_verified_playbook_seconds=%.2f" % m("restore_verified_playbook"))
    log("RESULT pg_restore_seconds=%.2f" % m("pg_restore"))
    log("RESULT restore_verified_vs_pg_restore=%.2fx" % (m("restore_verified") / m("pg_restore")))
    for name in sorted(n for n in bench.times if n.startswith("p_") and not n.endswith("_cpu")):
        log("RESULT %s_seconds=%.2f" % (name, m(name)))
    for name, total in bench.cpu.items():
        log("RESULT cpu_%s_seconds=%.1f (CPU seconds of every process taking part)" % (name[2:], total))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=int(os.environ.get("BENCH_PG_SIZE_MB", "1024")))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    parser.add_argument("--scratch-dir", default=os.environ.get("BENCH_SCRATCH_DIR") or tempfile.gettempdir())
    parser.add_argument("--profile", action="store_true", default=os.environ.get("BENCH_PROFILE") == "1")
    parser.add_argument("--drop", action="store_true", help="drop the generated database at the end")
    parser.add_argument(
        "--compression-level",
        type=int,
        default=int(os.environ["BENCH_ZSTD_LEVEL"]) if os.environ.get("BENCH_ZSTD_LEVEL") else None,
        help="the module's compression_level for A (default: the module's default)",
    )
    parser.add_argument(
        "--compare-level",
        type=int,
        action="append",
        default=[],
        help="also measure the module with this compression_level, interleaved (repeatable)",
    )
    parser.add_argument("--no-checksums", action="store_true", help="run the module with checksums=false")
    parser.add_argument(
        "--compare-no-checksums",
        action="store_true",
        help="also measure the module with checksums=false, interleaved (what the checksums cost)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not stack.status_quiet():
        stack.up()
    pg = Postgres()
    name = database_name(args.size_mb)
    scratch = tempfile.mkdtemp(prefix="maops-backup-bench-", dir=args.scratch_dir)
    try:
        size = ensure_database(pg, name, args.size_mb)
        log("database %s: %.0f MiB (pg_database_size); %s" % (name, mib(size), describe_database(pg, name)))
        log(
            "scratch directory %s; %d CPUs, load average %.2f" % (scratch, os.cpu_count(), os.getloadavg()[0])
        )
        bench = Bench(pg, name, scratch, args.runs, args.compression_level, not args.no_checksums)
        log("warming up (pg_dump into /dev/null, untimed) ...")
        pg.run([pg.tool("pg_dump"), "-Fc", "-Z0", "--no-password", "--no-sync", "-f", os.devnull, name])
        log("backups: module (A), baseline pg_dump -Fc -Z0 + sync (B), seed pg_dump | gzip (C) ...")
        variants = [bench.module_backup, bench.baseline, bench.seed]
        for level in args.compare_level:
            variants.append(lambda run, z=level: bench.module_backup(run, z, "module_z%d" % z))
        if args.compare_no_checksums:
            variants.append(lambda run: bench.module_backup(run, name="module_nochecksums", checksums=False))
        bench.measure(variants)
        log("restores: module state=verified, plain pg_restore of the baseline's dump ...")
        bench.measure([bench.module_restore, bench.plain_restore])
        if args.profile:
            log("profile: the pieces of the module's backup ...")
            profile(bench)
        log(
            "load average at the end %.2f on %d CPUs (a busy machine makes the ratios noisy)"
            % (os.getloadavg()[0], os.cpu_count())
        )
        report(bench, args.compare_level, args.compare_no_checksums)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for leftover in pg.databases(SCRATCH_DB):
            pg.drop_database(leftover)
        if args.drop:
            pg.drop_database(name)
            log("dropped database %s" % name)


if __name__ == "__main__":
    main()
