"""Integration tests: pytest drives ansible-playbook against the local stack.

By default the Kubernetes side is the emulator of the local stack (`make stack-up`). With
MAOPS_TEST_KUBECONFIG (and optionally MAOPS_TEST_CONTEXT) set, the same tests run against
that cluster instead, and tests marked ``emulator_only`` are deselected. PostgreSQL,
Redis and the HTTP stand-in are always the local, real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "stack"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack as local_stack  # noqa: E402
from faults import EmulatorFaults, RealClusterFaults  # noqa: E402

REAL_KUBECONFIG = os.environ.get("MAOPS_TEST_KUBECONFIG")
REAL_CONTEXT = os.environ.get("MAOPS_TEST_CONTEXT")
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
INVENTORY = str(ROOT / "inventories" / "demo")

# A small platform for most tests: two Deployments and a StatefulSet, as the inventory
# would describe them. The full MPLP platform is used where the size matters.
SMALL_PLATFORM = [
    {
        "name": "core",
        "workload": "mplp-core",
        "image": "mplp/core",
        "replicas": 2,
        "service": {"name": "mplp-core", "port": 8080},
        "health_paths": ["/api/v1/core/health"],
    },
    {
        "name": "plan",
        "workload": "mplp-plan",
        "image": "mplp/plan",
        "replicas": 2,
        "service": {"name": "mplp-plan", "port": 8080},
        "health_paths": ["/api/v1/plan/health"],
    },
    {
        "name": "postgresql",
        "role": "database",
        "kind": "StatefulSet",
        "workload": "mplp-postgresql",
        "image": "postgres:15",
        "replicas": 1,
        "service": {"name": "mplp-postgresql", "port": 5432},
    },
]


# On a real cluster the workloads' images must exist: MAOPS_TEST_IMAGE (an image that
# serves HTTP and has a shell, e.g. an agnhost or busybox-httpd build) replaces them all.
if os.environ.get("MAOPS_TEST_IMAGE"):
    for _comp in SMALL_PLATFORM:
        _comp["image"] = os.environ["MAOPS_TEST_IMAGE"]


def pytest_collection_modifyitems(config, items):
    if not REAL_KUBECONFIG:
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("emulator_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def stack_facts():
    """The local stack's connection facts; starts the stack when it is not up."""
    if not local_stack.status_quiet():
        local_stack.up()
    return local_stack.facts()


class PlaybookRun:
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    def results(self, task_name, host):
        """The result of task ``task_name`` on ``host`` (the last one, for included tasks)."""
        found = None
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                name = task["task"]["name"]
                # Tasks of roles are named "<role> : <task>".
                if (name == task_name or name.endswith(" : " + task_name)) and host in task["hosts"]:
                    found = task["hosts"][host]
        if found is None:
            raise AssertionError(
                "no result of task %r on %s in:\n%s" % (task_name, host, self.stdout[-3000:])
            )
        return found

    def report(self, host):
        return self.results(
            "Look at the platform (workloads, pods, events, endpoints, database, cache)", host
        )["report"]

    def failure_messages(self):
        msgs = []
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task["hosts"].items():
                    if res.get("failed"):
                        msgs.append("%s: %s" % (host, res.get("msg")))
        return msgs


@pytest.fixture(scope="session")
def ansible(stack_facts, tmp_path_factory):
    """Run a playbook with the demo inventory; returns a PlaybookRun (json callback)."""
    base_env = dict(os.environ)
    base_env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    varsdir = tmp_path_factory.mktemp("extravars")

    def run(playbook, limit=None, extra_vars=None, args=(), env=None, json_output=True, inventory=INVENTORY):
        cmd = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(ROOT / playbook)]
        if limit:
            cmd += ["-l", limit]
        merged = dict(cluster_overrides())
        merged.update(extra_vars or {})
        if merged:
            path = varsdir / ("%s.json" % uuid.uuid4().hex)
            path.write_text(json.dumps(merged))
            cmd += ["-e", "@%s" % path]
        cmd += list(args)
        run_env = dict(base_env, **(env or {}))
        if not json_output:
            run_env.pop("ANSIBLE_STDOUT_CALLBACK")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=600, check=False)
        data = None
        if json_output:
            start = proc.stdout.find("{")
            if start >= 0:
                try:
                    data = json.loads(proc.stdout[start:])
                except json.JSONDecodeError:
                    data = None
        return PlaybookRun(proc, data)

    return run


def cluster_overrides():
    """Point the inventory's clusters at a real cluster when one is configured."""
    if not REAL_KUBECONFIG:
        return {}
    overrides = {"k8s_kubeconfig": REAL_KUBECONFIG}
    if REAL_CONTEXT:
        overrides["k8s_context"] = REAL_CONTEXT
    return overrides


def pg_admin(stack_facts):
    """A connection (autocommit) to the stack's PostgreSQL as its superuser, for the tests'
    own setup: roles and databases the runbooks then use."""
    import psycopg

    facts = stack_facts["postgresql"]
    return psycopg.connect(
        host=facts["host"],
        port=facts["port"],
        user="postgres",
        password=Path(facts["superuser_password_file"]).read_text().strip(),
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture(scope="session")
def kube(stack_facts):
    """A kubernetes client per demo cluster (or the real cluster for every name)."""
    from kubernetes import config

    clients = {}
    for name, cluster in stack_facts["clusters"].items():
        kubeconfig = REAL_KUBECONFIG or stack_facts["kubeconfig"]
        context = REAL_CONTEXT if REAL_KUBECONFIG else cluster["context"]
        clients[name] = config.new_client_from_config(config_file=kubeconfig, context=context)
    return clients


@pytest.fixture(scope="session")
def fault_backend(stack_facts, kube):
    """The session's one fault injector (tests get it through ``faults``)."""
    backend = RealClusterFaults(stack_facts, kube) if REAL_KUBECONFIG else EmulatorFaults(stack_facts, kube)
    yield backend
    backend.reset_all()


@pytest.fixture
def faults(fault_backend):
    """Fault injection for one test: whatever the test broke (the stand-in's answers, Redis,
    deny rules, an API outage, broken images) is undone when it ends, whichever platform it
    used, so the next test (or the next test on a shared platform) finds the stack whole."""
    yield fault_backend
    fault_backend.reset_all()


DEMO_NAMESPACE = "mplp-production"


@pytest.fixture(scope="session")
def demo_namespace(kube):
    """The demo inventory's platform namespace on the primary cluster, created when missing
    (runbooks that only need it for their Lease lock, on a fresh stack)."""
    from kubernetes import client

    try:
        client.CoreV1Api(kube["us-east-1"]).create_namespace({"metadata": {"name": DEMO_NAMESPACE}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    return DEMO_NAMESPACE


def load_platform(ansible, namespace, components, limit="us-east-1"):
    run = ansible(
        "tests/stack/load_demo.yml",
        limit=limit,
        extra_vars={"platform_namespace": namespace, "platform_components": components},
    )
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return namespace


def create_namespace(kube, prefix, cluster="us-east-1"):
    """A new, empty namespace (for Leases: no platform to load); returns its name."""
    from kubernetes import client

    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    client.CoreV1Api(kube[cluster]).create_namespace({"metadata": {"name": name}})
    return name


def delete_namespace(kube, namespace, cluster="us-east-1"):
    from kubernetes import client

    try:
        client.CoreV1Api(kube[cluster]).delete_namespace(namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def small_platform(ansible, kube, faults):
    """A fresh namespace with the small platform on us-east-1, for a test that changes it
    (pods it breaks, workloads it scales, rolls, quiesces or restores); deleted afterwards."""
    namespace = "it-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, SMALL_PLATFORM)
    yield {"namespace": namespace, "components": SMALL_PLATFORM}
    faults.reset_all()  # before the namespace goes: an API outage or a deny rule would stop that
    delete_namespace(kube, namespace)


@pytest.fixture(scope="module")
def module_platform(ansible, kube):
    """The small platform of one test file, loaded when its first test asks for it and
    deleted after its last (tests take it through ``shared_platform``)."""
    namespace = "it-shared-%s" % uuid.uuid4().hex[:8]
    load_platform(ansible, namespace, SMALL_PLATFORM)
    yield {"namespace": namespace, "components": SMALL_PLATFORM}
    delete_namespace(kube, namespace)


@pytest.fixture
def shared_platform(module_platform, kube, faults):
    """The small platform, shared by the tests of a file that only read it: health checks
    with a fault in the stand-in or Redis, a deny rule, a wrong password, an unreachable
    API, bad input that is refused. What a test broke in the stack is undone when it ends
    (``faults``); what it changed in the platform fails it here: such a test takes
    ``small_platform`` instead."""
    namespace = module_platform["namespace"]
    before = platform_state(kube, namespace)
    yield module_platform
    faults.reset_all()
    after = platform_state(kube, namespace)
    assert after == before, "the test changed the shared platform in %s (give it small_platform): %s" % (
        namespace,
        {
            key: (before.get(key), after.get(key))
            for key in set(before) | set(after)
            if before.get(key) != after.get(key)
        },
    )


# Annotations that tell nothing the generation does not: the controller's revision, kubectl's copy.
UNCHANGING = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")


def platform_state(kube, namespace, cluster="us-east-1"):
    """What a test that only reads a platform leaves alone: the workloads' specs (their
    generation), records and labels, the Services' routing, the pods and their faults,
    the CronJobs' suspension, the ConfigMaps and the Leases held."""
    from kubernetes import client

    api = kube[cluster]
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    state = {}
    for kind, items in (
        ("Deployment", apps.list_namespaced_deployment(namespace).items),
        ("StatefulSet", apps.list_namespaced_stateful_set(namespace).items),
    ):
        for obj in items:
            meta = obj.metadata
            annotations = {k: v for k, v in (meta.annotations or {}).items() if k not in UNCHANGING}
            state["%s/%s" % (kind, meta.name)] = (meta.generation, meta.labels, annotations)
    for svc in core.list_namespaced_service(namespace).items:
        ports = sorted((p.name or "", p.port, str(p.target_port)) for p in svc.spec.ports or [])
        state["Service/%s" % svc.metadata.name] = (svc.spec.selector, ports, svc.metadata.annotations)
    for pod in core.list_namespaced_pod(namespace).items:
        state["Pod/%s" % pod.metadata.name] = pod.metadata.annotations
    for job in client.BatchV1Api(api).list_namespaced_cron_job(namespace).items:
        state["CronJob/%s" % job.metadata.name] = job.spec.suspend
    for cm in core.list_namespaced_config_map(namespace).items:
        state["ConfigMap/%s" % cm.metadata.name] = cm.data
    for lease in client.CoordinationV1Api(api).list_namespaced_lease(namespace).items:
        if lease.spec.holder_identity:  # a Lease taken and given back holds nothing
            state["Lease/%s" % lease.metadata.name] = lease.spec.holder_identity
    return state


def platform_vars(platform, **more):
    extra = {"platform_namespace": platform["namespace"], "platform_components": platform["components"]}
    extra.update(more)
    return extra


def write_kubeconfig(path, server, token):
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def processes():
    """pid -> (ppid, name, cmdline) of every live process on this machine (zombies left out),
    read from /proc: the tests that interrupt a module look for its tools with it."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % entry).read_text()
            cmdline = Path("/proc/%s/cmdline" % entry).read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        if rest[0] in "ZX":
            continue
        table[int(entry)] = (int(rest[1]), stat[stat.find("(") + 1 : stat.rfind(")")], cmdline)
    return table


def module_running(name):
    """Whether an Ansible module process of this name runs on this machine now (the tests
    that time a fault into the middle of a module's work wait for it). A module run from a
    file has AnsiballZ_<name> on its command line; a pipelined one (ansible.cfg) reads itself
    from stdin, but unpacks its payload into a temporary ansible_<fqcn>_payload_* directory
    for as long as it runs."""
    if list(Path(tempfile.gettempdir()).glob("ansible_*%s_payload_*" % name)):
        return True
    return any("AnsiballZ_%s" % name in cmdline for _ppid, _name, cmdline in processes().values())


BACKUP_METRIC = "multiagent_ops_backup_last_success_timestamp_seconds"


def pushed_backup_times(gateway, platform):
    """``[(backup kind, time)]`` that backups of ``platform`` pushed to the Pushgateway, each
    checked to carry the job the BackupTooOld alert reads."""
    with urllib.request.urlopen(gateway + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = []
    for line in text.splitlines():
        if line.startswith(BACKUP_METRIC + "{") and 'platform="%s"' % platform in line:
            assert 'job="multiagent_ops_backup"' in line, line
            found.append((line.split('backup="', 1)[1].split('"', 1)[0], float(line.rsplit(" ", 1)[1])))
    return found


def forget_pushed_backup(gateway, platform, kind):
    """Delete the group a backup pushed (the Pushgateway keeps it otherwise)."""
    url = "%s/metrics/job/multiagent_ops_backup/platform/%s/backup/%s" % (gateway, platform, kind)
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()
