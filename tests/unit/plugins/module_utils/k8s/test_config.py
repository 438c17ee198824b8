"""k8s/config.py: kubernetes.core's authentication options resolved without the library."""

from __future__ import annotations

import base64

import pytest
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_MAP, AUTH_ARG_SPEC

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import config

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: prod
    cluster:
      server: https://prod.example:6443/
      certificate-authority: certs/ca.pem
      tls-server-name: kube.internal
  - name: lab
    cluster:
      server: https://lab.example:6443
      insecure-skip-tls-verify: true
      proxy-url: http://proxy.example:3128
users:
  - name: ops
    user:
      token: t0ken
      client-certificate-data: %(cert)s
      client-key: /keys/ops.key
  - name: basic
    user:
      username: alice
      password: s3cret
  - name: cloud
    user:
      exec:
        command: aws
contexts:
  - name: prod
    context: {cluster: prod, user: ops}
  - name: lab
    context: {cluster: lab, user: basic}
  - name: eks
    context: {cluster: prod, user: cloud}
""" % {"cert": base64.b64encode(b"CERT PEM").decode()}


def files(tree):
    def read(path):
        return tree[path]

    def exists(path):
        return path in tree

    return read, exists


def resolve(auth, environ=None, tree=None):
    read, exists = files(tree or {"/home/ops/.kube/config": KUBECONFIG.encode()})
    return config.resolve(auth, environ or {}, read, exists)


def test_the_option_names_are_kubernetes_cores():
    assert config.AUTH_ARG_MAP == AUTH_ARG_MAP
    assert set(config.IMPERSONATION) | set(AUTH_ARG_MAP.values()) == set(AUTH_ARG_SPEC)


def test_parameters_win_over_the_environment_and_the_environment_fills_the_rest():
    auth = config.auth_options(
        {"host": "https://a:6443", "api_key": None, "validate_certs": None, "impersonate_groups": None},
        {
            "K8S_AUTH_HOST": "https://ignored",
            "K8S_AUTH_API_KEY": "from-env",
            "K8S_AUTH_VERIFY_SSL": "no",
            "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "ops/1",
            "K8S_AUTH_IMPERSONATE_GROUPS": "a,,b",
        },
    )
    assert auth == {
        "host": "https://a:6443",
        "api_key": "from-env",
        "verify_ssl": False,
        "proxy_headers": {"user_agent": "ops/1"},
        "impersonate_groups": ["a", "b"],
    }


def test_the_current_context_of_the_default_kubeconfig(monkeypatch):
    monkeypatch.setenv("HOME", "/home/ops")
    conn = resolve({})
    assert conn.host == "https://prod.example:6443"
    assert conn.headers == {"Authorization": "Bearer t0ken"}
    assert conn.ca_file == "/home/ops/.kube/certs/ca.pem"  # relative to the kubeconfig
    assert conn.tls_server_name == "kube.internal"
    assert (conn.cert_data, conn.key_file) == (b"CERT PEM", "/keys/ops.key")
    assert conn.verify is True and conn.proxy is None


def test_a_named_context_with_basic_auth_an_insecure_cluster_and_a_proxy():
    conn = resolve({"kubeconfig": "/home/ops/.kube/config", "context": "lab"})
    assert conn.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert conn.verify is False and conn.proxy == "http://proxy.example:3128"


def test_options_override_what_the_kubeconfig_says():
    conn = resolve(
        {
            "kubeconfig": "/home/ops/.kube/config",
            "host": "https://other:6443/",
            "api_key": "override",
            "ssl_ca_cert": "/etc/ca.pem",
            "verify_ssl": False,
            "impersonate_user": "bob",
            "impersonate_groups": ["dev", "ops"],
            "proxy_headers": {"proxy_basic_auth": "u:p"},
        }
    )
    assert conn.host == "https://other:6443"
    assert conn.headers == {"Authorization": "Bearer override", "Impersonate-User": "bob"}
    assert conn.groups == ["dev", "ops"]
    assert (conn.ca_file, conn.ca_data, conn.verify) == ("/etc/ca.pem", None, False)
    assert conn.proxy_headers == {"proxy-authorization": "Basic " + base64.b64encode(b"u:p").decode()}


def test_a_host_with_a_token_needs_no_kubeconfig():
    conn = resolve({"host": "https://h:6443", "api_key": "k"}, tree={})
    assert conn.host == "https://h:6443" and conn.headers == {"Authorization": "Bearer k"}


def test_a_dict_kubeconfig_and_kubeconfig_files_merged_from_the_environment():
    data = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "http://k:8080"}}],
        "users": [{"name": "u", "user": {"tokenFile": "/run/token"}}],
    }
    assert (
        resolve({"kubeconfig": data}, tree={"/run/token": b"abc\n"}).headers["Authorization"] == "Bearer abc"
    )
    first = b"current-context: lab\nclusters: []\ncontexts: []\nusers: []\n"
    conn = resolve(
        {},
        {"KUBECONFIG": "/missing:/a/config:/home/ops/.kube/config"},
        {"/a/config": first, "/home/ops/.kube/config": KUBECONFIG.encode()},
    )
    assert conn.host == "https://lab.example:6443"  # the first file's current-context, the second's objects


def test_in_cluster_when_there_is_a_service_account_and_no_kubeconfig_option():
    sa = config.SERVICE_ACCOUNT
    tree = {sa + "/token": b"sa-token\n", sa + "/ca.crt": b"CA"}
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    conn = resolve({}, env, tree)
    assert conn.host == "https://[fd00::1]:443"
    assert conn.headers == {"Authorization": "Bearer sa-token"} and conn.ca_file == sa + "/ca.crt"


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"kubeconfig": "/nowhere"}, "no kubeconfig was found at /nowhere"),
        (
            {"kubeconfig": "/home/ops/.kube/config", "context": "qa"},
            "the kubeconfig has no context named 'qa'",
        ),
        ({"kubeconfig": {"contexts": []}}, "names no current-context"),
    ],
)
def test_configurations_that_cannot_be_used_say_why(auth, message):
    with pytest.raises(config.ConfigError, match=message):
        resolve(auth)


@pytest.mark.parametrize(
    "auth",
    [
        {"kubeconfig": "/home/ops/.kube/config", "context": "eks"},
        {"host": "https://h", "api_key": "k", "persist_config": True},
    ],
)
def test_exec_plugins_auth_providers_and_persist_config_are_left_to_the_library(auth):
    with pytest.raises(config.NeedsLibrary):
        resolve(auth)


@pytest.mark.parametrize(
    ("no_proxy", "bypass"),
    [
        (None, False),
        ("example.org,.prod.example", True),
        ("*", True),
        ("prod", False),
        ("prod.example", True),
    ],
)
def test_no_proxy_names_hosts_and_domains(no_proxy, bypass):
    conn = config.Connection("https://api.prod.example:6443")
    conn.no_proxy = no_proxy
    assert conn.bypasses_proxy() is bypass
