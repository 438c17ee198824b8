# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the PostgreSQL backup and restore modules: their connection options (the
``multiagent.ops.postgresql`` doc fragment), the tools, and the Target they act on."""

from __future__ import annotations

import glob
import os
import re
import shutil

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import module as kube_module
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import objects as wl
from ansible_collections.multiagent.ops.plugins.module_utils.pg import dump as pgbackup

TOOLS = ("pg_dump", "pg_dumpall", "pg_restore", "psql")


def argspec(**options):
    spec = kube_module.argspec(
        mode=dict(type="str", default="direct", choices=["direct", "in_cluster"]),
        login_host=dict(type="str", default="localhost"),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str"),
        login_password=dict(type="str", no_log=True),
        ssl_mode=dict(
            type="str",
            default="prefer",
            choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
        ),
        connect_timeout=dict(type="int", default=10),
        maintenance_db=dict(type="str", default="postgres"),
        bin_dir=dict(type="path"),
        namespace=dict(type="str"),
        pod=dict(type="str"),
        pod_selector=dict(type="str"),
        container=dict(type="str"),
        exec_timeout=dict(type="int", default=600),
        api_timeout=dict(type="float", default=15),
    )
    spec.update(options)
    return spec


def _version_key(path):
    match = re.search(r"/postgresql/(\d+)/bin", path)
    return int(match.group(1)) if match else 0


def find_tools(module):
    """Absolute paths of the PostgreSQL tools and zstd here; fails naming what is missing."""
    tools = {}
    bin_dir = module.params.get("bin_dir")
    candidates = (
        [bin_dir]
        if bin_dir
        else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    )
    for name in TOOLS:
        found = None
        for directory in candidates:
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK):
                found = path
                break
        if found is None and not bin_dir:
            found = shutil.which(name)
        if found is None:
            module.fail_json(
                msg="%s not found%s; install the PostgreSQL client (postgresql-client) or set bin_dir"
                % (name, " in %s" % bin_dir if bin_dir else "")
            )
        tools[name] = found
    tools["zstd"] = find_zstd(module)
    return tools


def find_zstd(module):
    path = shutil.which("zstd") or next(
        (c for c in ("/usr/bin/zstd", "/usr/local/bin/zstd") if os.access(c, os.X_OK)), None
    )
    if not path:
        module.fail_json(msg="zstd not found on PATH of the host running the module; install zstd")
    return path


def conn_params(module):
    p = module.params
    return {
        "host": p["login_host"],
        "port": p["login_port"],
        "user": p["login_user"],
        "password": p["login_password"],
        "sslmode": p["ssl_mode"],
        "connect_timeout": p["connect_timeout"],
        "maintenance_db": p["maintenance_db"],
    }


def _ready(pod):
    conditions = (pod.get("status") or {}).get("conditions") or []
    running = (pod.get("status") or {}).get("phase") == "Running"
    return running and any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def find_pod(module, reader):
    p = module.params
    if not p["namespace"]:
        module.fail_json(msg="mode=in_cluster needs namespace (and pod or pod_selector)")
    if p["pod"]:
        pod = reader.get_optional(
            "/api/v1/namespaces/%s/pods/%s" % (p["namespace"], p["pod"]), "read pod %s" % p["pod"]
        )
        if pod is None:
            module.fail_json(msg="pod %s does not exist in namespace %s" % (p["pod"], p["namespace"]))
        if not _ready(pod):
            module.fail_json(msg="pod %s/%s is not running and ready" % (p["namespace"], p["pod"]))
        return p["pod"]
    if not p["pod_selector"]:
        module.fail_json(msg="mode=in_cluster needs pod or pod_selector")
    pods = reader.list(
        "/api/v1/namespaces/%s/pods" % p["namespace"],
        "list pods %s in namespace %s" % (p["pod_selector"], p["namespace"]),
        label_selector=p["pod_selector"],
    )
    ready = sorted(wl.meta(pod).get("name") for pod in pods if _ready(pod))
    if not ready:
        module.fail_json(
            msg="no running and ready pod matches %s in namespace %s (%d pods match)"
            % (p["pod_selector"], p["namespace"], len(pods))
        )
    return ready[0]


def make_target(module):
    """The Target of the module's options: tools found here (direct) or the pod (in-cluster)."""
    p = module.params
    conn = conn_params(module)
    if p["mode"] == "direct":
        if not p["login_user"]:
            conn["user"] = None
        return pgbackup.Target("direct", conn, find_tools(module))
    module.requires("kubernetes")
    tools = {name: name for name in TOOLS}
    tools["zstd"] = find_zstd(module)
    try:
        reader = kube_module.make_client(module)
        pod = find_pod(module, reader)
    except kube_module.ApiError as exc:
        module.fail_json(msg=str(exc))
    except kube_module.CoreException as exc:
        module.fail_json(msg="Cannot use the Kubernetes configuration: %s" % exc)
    return pgbackup.Target(
        "in-cluster",
        conn,
        tools,
        api_client=reader.api,
        pod=pod,
        namespace=p["namespace"],
        container=p["container"],
        timeout=p["exec_timeout"],
    )
