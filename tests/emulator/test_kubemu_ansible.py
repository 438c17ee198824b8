"""kubernetes.core, run by ansible-playbook over real HTTP, works against kubemu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from kubemu_testlib import Api, wait_for

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- name: Drive kubemu with kubernetes.core
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: "{{ kubeconfig }}"
  vars:
    ns: ansible-e2e
    web:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: ansible-e2e, labels: {app: web}}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web, tier: api}}
          spec:
            containers:
              - name: app
                image: ghcr.io/example/web:1.0
                ports: [{containerPort: 8000}]
  tasks:
    - name: Create the namespace
      kubernetes.core.k8s:
        definition: {apiVersion: v1, kind: Namespace, metadata: {name: "{{ ns }}"}}
        wait: true
        wait_sleep: 1
      register: namespace

    - name: Create the deployment and wait for it
      kubernetes.core.k8s: {definition: "{{ web }}", wait: true, wait_timeout: 30, wait_sleep: 1}
      register: created

    - name: Apply the same deployment again
      kubernetes.core.k8s: {definition: "{{ web }}", wait: true, wait_timeout: 30, wait_sleep: 1}
      register: reapplied

    - name: Client-side apply a change
      kubernetes.core.k8s:
        definition: "{{ web | combine({'metadata': {'annotations': {'owner': 'ops'}}}, recursive=true) }}"
        apply: true
      register: applied

    - name: Client-side apply it again
      kubernetes.core.k8s:
        definition: "{{ web | combine({'metadata': {'annotations': {'owner': 'ops'}}}, recursive=true) }}"
        apply: true
      register: applied_again

    - name: Server-side apply
      kubernetes.core.k8s:
        definition:
          {apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: "{{ ns }}"}, data: {a: "1"}}
        apply: true
        server_side_apply: {field_manager: ansible}
      register: ssa

    - name: List the pods by label
      kubernetes.core.k8s_info:
        {kind: Pod, namespace: "{{ ns }}", label_selectors: ["app=web", "tier in (api)"]}
      register: pods

    - name: Scale up and wait
      kubernetes.core.k8s_scale:
        kind: Deployment
        name: web
        namespace: "{{ ns }}"
        replicas: 4
        wait: true
        wait_timeout: 30
        wait_sleep: 1
      register: scaled

    - name: Make the pod log something (kubemu's control API)
      ansible.builtin.uri:
        url: "{{ kubemu_url }}/_kubemu/logs"
        method: POST
        headers: {Authorization: "Bearer {{ kubemu_token }}"}
        body_format: json
        body: {namespace: "{{ ns }}", pod: "{{ pods.resources[0].metadata.name }}", lines: [started, ready]}

    - name: Read a pod's log
      kubernetes.core.k8s_log: {namespace: "{{ ns }}", name: "{{ pods.resources[0].metadata.name }}"}
      register: log

    - name: Delete the deployment and wait
      kubernetes.core.k8s:
        state: absent
        kind: Deployment
        name: web
        namespace: "{{ ns }}"
        wait: true
        wait_timeout: 30
        wait_sleep: 1
      register: deleted
"""


def test_kubernetes_core_modules(api: Api, emulator, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kubemu", "cluster": {"server": emulator.url}}],
                "users": [{"name": "runner", "user": {"token": emulator.token}}],
                "contexts": [{"name": "kubemu", "context": {"cluster": "kubemu", "user": "runner"}}],
                "current-context": "kubemu",
            }
        )
    )
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    # The json callback prints every task's result, so the playbook needs no task to save them.
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
    )
    bindir = Path(sys.executable).parent
    proc = subprocess.run(
        [
            str(bindir / "ansible-playbook"),
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            json.dumps(
                {
                    "kubeconfig": str(kubeconfig),
                    "kubemu_url": emulator.url,
                    "kubemu_token": emulator.token,
                    "ansible_python_interpreter": sys.executable,
                }
            ),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    by_name = {task["task"]["name"]: task["hosts"]["localhost"] for task in tasks}
    r = {
        key: by_name[name]
        for key, name in {
            "namespace": "Create the namespace",
            "created": "Create the deployment and wait for it",
            "reapplied": "Apply the same deployment again",
            "applied": "Client-side apply a change",
            "applied_again": "Client-side apply it again",
            "ssa": "Server-side apply",
            "pods": "List the pods by label",
            "scaled": "Scale up and wait",
            "log": "Read a pod's log",
            "deleted": "Delete the deployment and wait",
        }.items()
    }
    assert r["namespace"]["changed"] is True
    assert r["created"]["changed"] is True
    status = r["created"]["result"]["status"]
    assert status["availableReplicas"] == 2 and status["readyReplicas"] == 2
    assert r["reapplied"]["changed"] is False
    assert r["applied"]["changed"] is True
    assert r["applied"]["result"]["metadata"]["annotations"]["owner"] == "ops"
    assert r["applied_again"]["changed"] is False
    assert r["ssa"]["changed"] is True and r["ssa"]["result"]["data"] == {"a": "1"}
    assert len(r["pods"]["resources"]) == 2
    assert {p["status"]["phase"] for p in r["pods"]["resources"]} == {"Running"}
    assert r["scaled"]["changed"] is True
    assert r["scaled"]["result"]["status"]["readyReplicas"] == 4
    assert r["log"]["log"] == "started\nready\n"
    assert r["deleted"]["changed"] is True
    status, _ = api.get("/apis/apps/v1/namespaces/ansible-e2e/deployments/web")
    assert status == 404
    wait_for(lambda: not api.ok("GET", "/api/v1/namespaces/ansible-e2e/pods")["items"])
