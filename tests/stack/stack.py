"""The local stack every test and the demo run against, on loopback only.

    python tests/stack/stack.py up|down|status

- two Kubernetes API emulators (kubemu, one per demo cluster: us-east-1, eu-west-1),
- real PostgreSQL 15 (Debian's binaries, no systemd) with the platform's database,
- real Redis 7 with a password,
- the HTTP stand-in for the platform's services (one port per cluster),
- moto's S3 server, an S3-compatible endpoint with one bucket for backup locations,
- monitoring (``monitoring_up``, also ``stack.py monitoring-up`` on a running stack):
  Alertmanager, the Pushgateway, then Prometheus with 30 days of backfilled series (backfill.py, built once
  and cached by the generator's hash) scraping a stand-in of its own every second.

State lives in ``.stack/`` (git-ignored): data directories, logs, pid files, generated
passwords and tokens, ``kubeconfig`` (one context per cluster) and ``facts.json`` (ports
and credentials) that ``inventories/demo`` and the tests read. ``up`` is idempotent: it
starts only what is not already answering. Ports can be moved with MAOPS_STACK_PORT_BASE.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("MAOPS_STACK_DIR", ROOT / ".stack"))
PYTHON = sys.executable
BASE = int(os.environ.get("MAOPS_STACK_PORT_BASE", "18080"))
CLUSTERS = [
    {"name": "us-east-1", "kube_port": BASE + 1, "standin_port": BASE + 10, "primary": True},
    {"name": "eu-west-1", "kube_port": BASE + 2, "standin_port": BASE + 11, "primary": False},
]
PG_PORT = BASE + 20
REDIS_PORT = BASE + 21
S3_PORT = BASE + 22
S3_BUCKET, S3_REGION = "maops-backups", "us-east-1"
PG_BIN = Path(os.environ.get("MAOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))
DB_NAME, DB_USER = "mplp_production", "mplp"
PROM_PORT = BASE + 30
ALERTMANAGER_PORT = BASE + 31
ALERT_WEBHOOK_PORT = BASE + 32  # where a test listens for Alertmanager's notifications
E2E_NAMESPACE = "e2e"  # the scraped stand-in's namespace label
PUSHGATEWAY_PORT = BASE + 33  # where backups push their time (backup_pushgateway_url)
MONITORED_STANDIN_PORT = BASE + 12  # the stand-in Prometheus scrapes (a test may break it)


def _pg_dir():
    """Where PostgreSQL keeps its data. As root the server runs as `postgres`, which must
    reach the directory: a checkout under a private directory (a CI clone in a 0700 temp
    dir) is not reachable, so the data then lives in the system temp dir, one per checkout."""
    if os.geteuid() != 0:
        return STATE / "pg"
    digest = hashlib.sha1(str(STATE).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / ("maops-pg-%s" % digest)


PG_DIR = _pg_dir()


def log(msg):
    print("[stack] %s" % msg, flush=True)


def port_open(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_port(port, what, timeout=30.0, proc=None, logfile=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = ""
    if logfile and Path(logfile).exists():
        tail = "\n" + "".join(Path(logfile).read_text(errors="replace").splitlines(True)[-20:])
    raise SystemExit("%s did not start on port %d%s" % (what, port, tail))


def secret(name):
    """A generated credential, stable across `up` runs until `down --purge`."""
    path = STATE / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def spawn(name, argv, env=None):
    logfile = STATE / "logs" / ("%s.log" % name)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=dict(os.environ, **(env or {})),
            start_new_session=True,
        )
    (STATE / "run").mkdir(parents=True, exist_ok=True)
    (STATE / "run" / ("%s.pid" % name)).write_text(str(proc.pid))
    return proc, logfile


def kill_pidfile(name):
    pidfile = STATE / "run" / ("%s.pid" % name)
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text())
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, ValueError, PermissionError):
        pass
    pidfile.unlink(missing_ok=True)


# --- Kubernetes API emulators --------------------------------------------------------
def kube_up(cluster):
    name = "kube-%s" % cluster["name"]
    token = secret("kube-token-%s" % cluster["name"])
    if port_open(cluster["kube_port"]):
        return token
    cdir = STATE / name
    cdir.mkdir(parents=True, exist_ok=True)
    (cdir / "token").write_text(token)
    (cdir / "token").chmod(0o600)
    argv = [
        PYTHON,
        "-m",
        "kubemu",
        "--host",
        "127.0.0.1",
        "--port",
        str(cluster["kube_port"]),
        "--token-file",
        str(cdir / "token"),
        "--state-dir",
        str(cdir),
        "--cluster-name",
        cluster["name"],
        "--default-backend",
        "http://127.0.0.1:%d" % cluster["standin_port"],
    ]
    proc, logfile = spawn(name, argv, env={"PYTHONPATH": str(ROOT / "tests" / "stack")})
    wait_port(cluster["kube_port"], "kubemu %s" % cluster["name"], proc=proc, logfile=logfile)
    log("kubemu %s on http://127.0.0.1:%d" % (cluster["name"], cluster["kube_port"]))
    return token


def write_kubeconfig(tokens):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": "demo-%s" % CLUSTERS[0]["name"],
        "preferences": {},
    }
    for c in CLUSTERS:
        ctx = "demo-%s" % c["name"]
        config["clusters"].append(
            {"name": ctx, "cluster": {"server": "http://127.0.0.1:%d" % c["kube_port"]}}
        )
        config["users"].append({"name": "ops-%s" % c["name"], "user": {"token": tokens[c["name"]]}})
        config["contexts"].append({"name": ctx, "context": {"cluster": ctx, "user": "ops-%s" % c["name"]}})
    path = STATE / "kubeconfig"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    path.chmod(0o600)
    return path


# --- The Prometheus Operator's CRDs on the emulators -----------------------------------
# (kind, plural, served version): the custom resources the monitoring role applies. Declared
# like a kube-prometheus-stack install would, so the emulator serves them; their objects are
# validated against the operator's own schemas in the tests (tests/operator_schema.py), the
# CRDs here accept any spec.
MONITORING_CRDS = [
    ("PrometheusRule", "prometheusrules", "v1"),
    ("ServiceMonitor", "servicemonitors", "v1"),
    ("AlertmanagerConfig", "alertmanagerconfigs", "v1alpha1"),
]


def monitoring_crd(kind, plural, version):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.monitoring.coreos.com" % plural},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": kind + "List",
                "plural": plural,
                "singular": kind.lower(),
                "categories": ["prometheus-operator"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def monitoring_crds_up(api, token):
    """Declare the operator's CRDs on one emulator (idempotent: an existing CRD is kept)."""
    url = api + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for kind, plural, version in MONITORING_CRDS:
        try:
            http_json(url, method="POST", body=monitoring_crd(kind, plural, version), token=token)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise


# --- PostgreSQL ------------------------------------------------------------------------
def _as_postgres():
    """Run PostgreSQL as the `postgres` user when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def _pg_run(argv, check=True):
    user = _as_postgres()
    if user is not None:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def pg_up():
    data = PG_DIR / "data"
    superpass, apppass = secret("postgres_superuser_password"), secret("postgres_password")
    if port_open(PG_PORT):
        return superpass, apppass
    user = _as_postgres()
    owner = PG_DIR / "secret.sha256"
    digest = hashlib.sha256(superpass.encode()).hexdigest()
    if (data / "PG_VERSION").exists() and (not owner.exists() or owner.read_text().strip() != digest):
        # The data directory outlived the .stack that made it (its passwords are gone): it
        # holds nothing but test data, so start it afresh rather than fail to log in.
        log("PostgreSQL data in %s belongs to an earlier .stack; starting afresh" % PG_DIR)
        shutil.rmtree(PG_DIR)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        owner.write_text(digest + "\n")
        pwfile = PG_DIR / "pwfile"
        pwfile.write_text(superpass + "\n")
        if user is not None:
            for p in (PG_DIR, data, pwfile):
                os.chown(p, user.pw_uid, user.pw_gid)
        data.chmod(0o700)
        _pg_run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                "--pwfile",
                str(pwfile),
                "-E",
                "UTF8",
                "--locale",
                "C.UTF-8",
            ]
        )
        pwfile.unlink()
    logfile = PG_DIR / "server.log"
    opts = "-c listen_addresses=127.0.0.1 -p %d -k %s" % (PG_PORT, PG_DIR)
    _pg_run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-o", opts, "-w", "start"])
    wait_port(PG_PORT, "PostgreSQL", logfile=logfile)
    _pg_bootstrap(superpass, apppass)
    log("PostgreSQL on 127.0.0.1:%d" % PG_PORT)
    return superpass, apppass


def _pg_bootstrap(superpass, apppass):
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=PG_PORT,
        user="postgres",
        password=superpass,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DB_USER,)).fetchone():
            # CREATEDB, like the master user of a managed database: verified restores use a scratch database.
            conn.execute(
                "CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s'" % (DB_USER, apppass.replace("'", "''"))
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute("CREATE DATABASE %s OWNER %s" % (DB_NAME, DB_USER))


def pg_down():
    data = PG_DIR / "data"
    if (data / "postmaster.pid").exists():
        _pg_run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False)


# --- Redis ----------------------------------------------------------------------------
def redis_up():
    password = secret("redis_password")
    if port_open(REDIS_PORT):
        return password
    rdir = STATE / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    conf = rdir / "redis.conf"
    # The password goes in a 0600 config file, not on the command line (ps would show it).
    conf.write_text(
        "bind 127.0.0.1\nport %d\ndaemonize yes\npidfile %s\ndir %s\nlogfile %s\n"
        'save ""\nappendonly no\nrequirepass %s\n'
        % (REDIS_PORT, rdir / "redis.pid", rdir, rdir / "redis.log", password)
    )
    conf.chmod(0o600)
    subprocess.run([shutil.which("redis-server") or "/usr/bin/redis-server", str(conf)], check=True)
    wait_port(REDIS_PORT, "Redis", logfile=rdir / "redis.log")
    log("Redis on 127.0.0.1:%d" % REDIS_PORT)
    return password


def redis_down():
    pidfile = STATE / "redis" / "redis.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
        for _ in range(50):
            if not port_open(REDIS_PORT):
                break
            time.sleep(0.1)


# --- S3 (moto) ------------------------------------------------------------------------
def s3_up():
    """moto's server keeps its objects in memory: the bucket is created on every `up` (and
    is empty after a restart). It accepts any credentials; the generated keys make the
    clients sign requests as they would against a real endpoint."""
    endpoint = "http://127.0.0.1:%d" % S3_PORT
    access_key, secret_key = secret("s3_access_key"), secret("s3_secret_key")
    if not port_open(S3_PORT):
        argv = [PYTHON, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(S3_PORT)]
        proc, logfile = spawn("s3", argv)
        wait_port(S3_PORT, "moto S3 server", proc=proc, logfile=logfile)
        log("moto S3 on %s" % endpoint)
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in existing:
        client.create_bucket(Bucket=S3_BUCKET)
    return endpoint


# --- stand-in -------------------------------------------------------------------------
def standin_up():
    ports = [c["standin_port"] for c in CLUSTERS]
    if all(port_open(p) for p in ports):
        return
    argv = [PYTHON, str(ROOT / "tests" / "stack" / "standin.py")]
    for p in ports:
        argv += ["--port", str(p)]
    proc, logfile = spawn("standin", argv)
    for p in ports:
        wait_port(p, "stand-in", proc=proc, logfile=logfile)
    log("stand-in on ports %s" % ", ".join(map(str, ports)))


# --- monitoring: Alertmanager, Prometheus (with backfilled history), a scraped stand-in ---
def _monitoring_dir():
    # Resolved: .stack may be a symlink from a checkout that goes away while the servers
    # keep writing their data and reading their rule files.
    return STATE.resolve() / "monitoring"


def backfill_blocks():
    """The TSDB blocks of backfill.py's series, built once per generator digest under
    ``.stack/cache/backfill-<sha256>`` (about 12 s: 7 s of text, 5 s of promtool).

    ``--max-block-duration=720h`` instead of 24h: promtool parses the whole input once per
    block, and 24h (aligned down to 18h blocks) means 41 passes over the 2.6 M samples (52 s
    here) where 720h (486h blocks) needs 2 (5 s). Prometheus keeps blocks up to 10 % of
    its 400 d retention, so it takes them as they are."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import backfill

    digest = backfill.digest()
    out = STATE.resolve() / "cache" / ("backfill-%s" % digest)
    if (out / "complete").exists():
        return out, digest
    log("building the backfilled Prometheus blocks (once per generator digest) ...")
    (STATE / "cache").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="backfill-", dir=STATE / "cache"))
    try:
        text = tmp / "series.om"
        backfill.write_file(text)
        blocks = tmp / "blocks"
        subprocess.run(
            [shutil.which("promtool") or "/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics",
             "--max-block-duration=720h", "-q", str(text), str(blocks)],
            check=True, capture_output=True,
        )  # fmt: skip
        text.unlink()
        (blocks / "complete").write_text(digest + "\n")
        if out.exists():
            shutil.rmtree(out)
        blocks.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out, digest


def _alertmanager_config():
    return {
        "route": {
            "receiver": "test-webhook",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "test-webhook",
                "webhook_configs": [
                    {"url": "http://127.0.0.1:%d/alerts" % ALERT_WEBHOOK_PORT, "send_resolved": True}
                ],
            }
        ],
    }


def _prometheus_config(rules_dir):
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": "1s"},
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % ALERTMANAGER_PORT]}]}]
        },
        "rule_files": [str(rules_dir / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "standin",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                # the namespace a platform's rendered rules select (the shipped alert rules
                # fire on the stand-in for a platform in namespace e2e)
                "static_configs": [
                    {
                        "targets": ["127.0.0.1:%d" % MONITORED_STANDIN_PORT],
                        "labels": {"namespace": E2E_NAMESPACE},
                    }
                ],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:%d" % PROM_PORT]}]},
            {
                # the pushed series keep their own job/platform/backup labels
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": ["127.0.0.1:%d" % PUSHGATEWAY_PORT]}],
            },
        ],
    }


def _wait_ready(url, what, proc, logfile, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = "".join(Path(logfile).read_text(errors="replace").splitlines(True)[-20:])
    raise SystemExit("%s is not ready at %s\n%s" % (what, url, tail))


def _serve(name, title, port, argv):
    """Start one of Prometheus's daemons (they share ``/-/ready``) and wait until it is ready."""
    proc, logfile = spawn(name, argv)
    _wait_ready("http://127.0.0.1:%d/-/ready" % port, title, proc, logfile)
    log("%s on http://127.0.0.1:%d" % (title, port))


def _alertmanager_up(mdir):
    if port_open(ALERTMANAGER_PORT):
        return
    conf = mdir / "alertmanager.yml"
    conf.write_text(json.dumps(_alertmanager_config(), indent=2))  # JSON is YAML
    argv = [
        shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
        "--config.file=%s" % conf,
        "--storage.path=%s" % (mdir / "alertmanager"),
        "--web.listen-address=127.0.0.1:%d" % ALERTMANAGER_PORT,
        "--cluster.listen-address=",
    ]
    _serve("alertmanager", "Alertmanager", ALERTMANAGER_PORT, argv)


def _pushgateway_up():
    if port_open(PUSHGATEWAY_PORT):
        return
    argv = [
        shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway",
        "--web.listen-address=127.0.0.1:%d" % PUSHGATEWAY_PORT,
    ]
    _serve("pushgateway", "Pushgateway", PUSHGATEWAY_PORT, argv)


def _prometheus_up(mdir, rules_dir):
    conf = mdir / "prometheus.yml"
    text = json.dumps(_prometheus_config(rules_dir), indent=2)
    if port_open(PROM_PORT):
        # a running server keeps its data; a changed configuration is reloaded
        if not conf.exists() or conf.read_text() != text:
            conf.write_text(text)
            request = urllib.request.Request("http://127.0.0.1:%d/-/reload" % PROM_PORT, method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            log("Prometheus configuration reloaded")
        return
    blocks, digest = backfill_blocks()
    data = mdir / "prometheus"
    marker = data / "backfill.sha256"
    if not marker.exists() or marker.read_text().strip() != digest:
        # Another generator's history (or none): start from the current one. What the server
        # scraped live before is test data, not worth keeping.
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        for block in blocks.iterdir():
            if block.is_dir():
                shutil.copytree(block, data / block.name)
        marker.write_text(digest + "\n")
    conf.write_text(text)
    argv = [
        shutil.which("prometheus") or "/usr/bin/prometheus",
        "--config.file=%s" % conf,
        "--storage.tsdb.path=%s" % data,
        "--storage.tsdb.retention.time=400d",
        "--web.listen-address=127.0.0.1:%d" % PROM_PORT,
        "--web.enable-lifecycle",  # POST /-/reload: a test's rule file takes effect
        "--rules.alert.resend-delay=1s",
    ]
    _serve("prometheus", "Prometheus", PROM_PORT, argv)


def _monitored_standin_up():
    if port_open(MONITORED_STANDIN_PORT):
        return
    argv = [PYTHON, str(ROOT / "tests" / "stack" / "standin.py"), "--port", str(MONITORED_STANDIN_PORT)]
    proc, logfile = spawn("standin-monitored", argv)
    wait_port(MONITORED_STANDIN_PORT, "monitored stand-in", proc=proc, logfile=logfile)
    log("monitored stand-in on port %d" % MONITORED_STANDIN_PORT)


def monitoring_facts():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import backfill

    return {
        "prometheus": "http://127.0.0.1:%d" % PROM_PORT,
        "alertmanager": "http://127.0.0.1:%d" % ALERTMANAGER_PORT,
        "pushgateway": "http://127.0.0.1:%d" % PUSHGATEWAY_PORT,
        "standin": "http://127.0.0.1:%d" % MONITORED_STANDIN_PORT,
        "standin_job": "standin",
        "standin_namespace": E2E_NAMESPACE,
        "alert_webhook_port": ALERT_WEBHOOK_PORT,
        "alert_webhook_path": "/alerts",
        "rules_dir": str(_monitoring_dir() / "rules"),
        "backfill": dict(
            backfill.params(), start=backfill.END - backfill.DAYS * 86400, namespace=backfill.NAMESPACE
        ),
    }


def monitoring_up():
    """Start what of the monitoring is not answering (idempotent; a lock keeps two test runs
    from starting it twice): Alertmanager first (an alert fired before Prometheus found its
    Alertmanager waits for the resend delay), Prometheus, the stand-in it scrapes. Adds
    ``monitoring`` to facts.json when the stack's facts exist. Rule files dropped in
    ``rules_dir`` load on ``POST /-/reload``."""
    import fcntl

    mdir = _monitoring_dir()
    rules_dir = mdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    (STATE / "run").mkdir(parents=True, exist_ok=True)
    with open(STATE / "run" / "monitoring.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _alertmanager_up(mdir)
        _pushgateway_up()
        _prometheus_up(mdir, rules_dir)
        _monitored_standin_up()
        facts_path = STATE / "facts.json"
        result = monitoring_facts()
        if facts_path.exists():
            data = json.loads(facts_path.read_text())
            if data.get("monitoring") != result:
                data["monitoring"] = result
                tmp = facts_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=2))
                tmp.replace(facts_path)
    return result


def monitoring_down():
    for name in ("prometheus", "alertmanager", "pushgateway", "standin-monitored"):
        kill_pidfile(name)


MONITORING_PORTS = {
    "prometheus": PROM_PORT,
    "alertmanager": ALERTMANAGER_PORT,
    "pushgateway": PUSHGATEWAY_PORT,
    "stand-in (scraped)": MONITORED_STANDIN_PORT,
}


def up():
    STATE.mkdir(parents=True, exist_ok=True)
    standin_up()
    tokens = {c["name"]: kube_up(c) for c in CLUSTERS}
    kubeconfig = write_kubeconfig(tokens)
    for c in CLUSTERS:
        monitoring_crds_up("http://127.0.0.1:%d" % c["kube_port"], tokens[c["name"]])
    superpass, apppass = pg_up()
    redis_up()
    s3_endpoint = s3_up()
    facts = {
        "kubeconfig": str(kubeconfig),
        "clusters": {
            c["name"]: {
                "context": "demo-%s" % c["name"],
                "api": "http://127.0.0.1:%d" % c["kube_port"],
                "standin": "http://127.0.0.1:%d" % c["standin_port"],
                "primary": c["primary"],
                "state_dir": str(STATE / ("kube-%s" % c["name"])),
            }
            for c in CLUSTERS
        },
        "postgresql": {
            "host": "127.0.0.1",
            "port": PG_PORT,
            "user": DB_USER,
            "dbname": DB_NAME,
            "password_file": str(STATE / "secrets" / "postgres_password"),
            "superuser_password_file": str(STATE / "secrets" / "postgres_superuser_password"),
            "data_dir": str(PG_DIR / "data"),
            "bin_dir": str(PG_BIN),
        },
        "redis": {
            "host": "127.0.0.1",
            "port": REDIS_PORT,
            "password_file": str(STATE / "secrets" / "redis_password"),
            "config": str(STATE / "redis" / "redis.conf"),
        },
        "s3": {
            "endpoint_url": s3_endpoint,
            "region": S3_REGION,
            "bucket": S3_BUCKET,
            "access_key_file": str(STATE / "secrets" / "s3_access_key"),
            "secret_key_file": str(STATE / "secrets" / "s3_secret_key"),
        },
    }
    facts["monitoring"] = monitoring_up()
    (STATE / "facts.json").write_text(json.dumps(facts, indent=2))
    log("facts in %s" % (STATE / "facts.json"))
    return facts


def down(purge=False):
    for c in CLUSTERS:
        kill_pidfile("kube-%s" % c["name"])
    kill_pidfile("standin")
    kill_pidfile("s3")
    monitoring_down()
    pg_down()
    redis_down()
    if purge:
        for path in (STATE, PG_DIR):
            if path.exists():
                shutil.rmtree(path)
    log("stopped%s" % (" and purged" if purge else ""))


def status():
    checks = {"stand-in %d" % c["standin_port"]: c["standin_port"] for c in CLUSTERS}
    checks.update({"kubemu %s" % c["name"]: c["kube_port"] for c in CLUSTERS})
    checks.update({"postgresql": PG_PORT, "redis": REDIS_PORT, "s3 (moto)": S3_PORT})
    checks.update(MONITORING_PORTS)
    ok = True
    for what, port in checks.items():
        state = "up" if port_open(port) else "DOWN"
        ok = ok and state == "up"
        print("%-22s %-6s 127.0.0.1:%d" % (what, state, port))
    return ok


def status_quiet():
    """True when every part of the stack answers."""
    ports = [c["standin_port"] for c in CLUSTERS] + [c["kube_port"] for c in CLUSTERS]
    ports += [PG_PORT, REDIS_PORT, S3_PORT] + list(MONITORING_PORTS.values())
    return all(port_open(p) for p in ports) and (STATE / "facts.json").exists()


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd == "up":
        up()
    elif cmd == "monitoring-up":
        monitoring_up()
    elif cmd == "down":
        down(purge="--purge" in argv)
    elif cmd == "status":
        sys.exit(0 if status() else 1)
    else:
        raise SystemExit("usage: stack.py up|monitoring-up|down [--purge]|status")


def facts():
    path = STATE / "facts.json"
    if not path.exists():
        raise FileNotFoundError("the local stack is not up (no %s): run `make stack-up`" % path)
    return json.loads(path.read_text())


def http_json(url, method="GET", body=None, token=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer %s" % token)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


if __name__ == "__main__":
    main(sys.argv)
