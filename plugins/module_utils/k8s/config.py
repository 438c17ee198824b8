# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the Kubernetes API is and how to authenticate to it, from kubernetes.core's
authentication options: the same options, environment variables, precedence, kubeconfig
and in-cluster rules as kubernetes.core's ``get_api_client``, without the ``kubernetes``
library (importing it costs about half a second in every module call).

:func:`auth_options` gathers the options (a module's parameters, else ``K8S_AUTH_*``);
:func:`resolve` turns them into a :class:`Connection`: the server, the headers, the TLS and
proxy settings. What this file does not implement raises :class:`NeedsLibrary`, and the
caller uses kubernetes.core's client instead: kubeconfig users that authenticate with an
``exec`` plugin or an ``auth-provider`` (their tokens are fetched and refreshed by the
library), and ``persist_config``. Pure but for reading files through ``read`` (kubeconfig
files, token files, the service account's token).
"""

from __future__ import annotations

import base64
import os

# kubernetes.core's AUTH_ARG_MAP (its args_common.py): the client's name -> the module option.
AUTH_ARG_MAP = {
    "kubeconfig": "kubeconfig",
    "context": "context",
    "host": "host",
    "api_key": "api_key",
    "username": "username",
    "password": "password",
    "verify_ssl": "validate_certs",
    "ssl_ca_cert": "ca_cert",
    "cert_file": "client_cert",
    "key_file": "client_key",
    "proxy": "proxy",
    "no_proxy": "no_proxy",
    "proxy_headers": "proxy_headers",
    "persist_config": "persist_config",
}
BOOL_OPTIONS = frozenset(("validate_certs", "persist_config"))
PROXY_HEADER_OPTIONS = {"proxy_basic_auth": "str", "basic_auth": "str", "user_agent": "str"}
IMPERSONATION = {"impersonate_user": "Impersonate-User", "impersonate_groups": "Impersonate-Group"}

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_KUBECONFIG = "~/.kube/config"


class ConfigError(Exception):
    """The configuration cannot be used (no kubeconfig, an unknown context, no server)."""


class NeedsLibrary(Exception):
    """The configuration needs the ``kubernetes`` library (the message says which part)."""


class Connection:
    """The server and how to talk to it. ``headers``: authentication and impersonation
    (``Impersonate-Group`` is in ``groups``, one header per group); TLS: ``verify``, the CA
    (``ca_file`` or PEM ``ca_data``), the client certificate and key (files or PEM data),
    ``tls_server_name``; ``proxy``, ``no_proxy``, ``proxy_headers``."""

    def __init__(self, host=None):
        self.host = host
        self.headers = {}
        self.groups = []
        self.verify = True
        self.ca_file = None
        self.ca_data = None
        self.cert_file = None
        self.key_file = None
        self.cert_data = None
        self.key_data = None
        self.tls_server_name = None
        self.proxy = None
        self.no_proxy = None
        self.proxy_headers = {}

    def bypasses_proxy(self):
        """True when ``no_proxy`` names the server's host (a suffix, or ``*``)."""
        if not self.no_proxy:
            return False
        hostname = _hostname(self.host)
        for entry in self.no_proxy.split(","):
            entry = entry.strip().lstrip(".")
            if entry == "*" or (entry and (hostname == entry or hostname.endswith("." + entry))):
                return True
        return False


def _hostname(url):
    rest = (url or "").split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def _env_bool(value):
    return value.lower() not in ("0", "false", "no")


def auth_options(params, environ):
    """kubernetes.core's options by the client's names: a parameter that is set, else its
    ``K8S_AUTH_<OPTION>`` (or ``K8S_AUTH_<CLIENT NAME>``) variable; ``proxy_headers`` from
    ``K8S_AUTH_PROXY_HEADERS_<KEY>``; the impersonation options under their own names."""
    auth = {}
    for true_name, arg_name in AUTH_ARG_MAP.items():
        if params.get(arg_name) is not None:
            auth[true_name] = params[arg_name]
        elif arg_name == "proxy_headers":
            headers = {}
            for key in PROXY_HEADER_OPTIONS:
                value = environ.get("K8S_AUTH_PROXY_HEADERS_%s" % key.upper())
                if value is not None:
                    headers[key] = value
            if headers:
                auth[true_name] = headers
        else:
            value = environ.get("K8S_AUTH_%s" % arg_name.upper()) or environ.get(
                "K8S_AUTH_%s" % true_name.upper()
            )
            if value is not None:
                auth[true_name] = _env_bool(value) if arg_name in BOOL_OPTIONS else value
    for name in IMPERSONATION:
        value = params.get(name)
        if value is None:
            value = environ.get("K8S_AUTH_%s" % name.upper())
            if value is not None and name == "impersonate_groups":
                value = [group for group in value.split(",") if group]
        if value:
            auth[name] = value
    return auth


def resolve(auth, environ, read, exists=os.path.exists):
    """The Connection for ``auth`` (from :func:`auth_options`), by kubernetes.core's rules:

    - a host with a token, with a user and password or with a client certificate and key is
      enough: nothing is loaded;
    - else a ``kubeconfig`` or ``context`` option loads that kubeconfig (its context);
    - else the in-cluster service account when there is one, else the default kubeconfig
      (``KUBECONFIG``, else ``~/.kube/config``);

    then every option that is set overrides what was loaded. ``read(path)`` returns a file's
    bytes. Raises ConfigError or NeedsLibrary."""
    if auth.get("persist_config"):
        raise NeedsLibrary("persist_config writes refreshed tokens back to the kubeconfig")
    if auth.get("host"):
        auth = dict(auth, host=auth["host"].rstrip("/"))

    def given(*names):
        return all(auth.get(name) for name in names)

    if (
        given("username", "password", "host")
        or given("api_key", "host")
        or given("cert_file", "key_file", "host")
    ):
        conn = Connection()
    elif given("kubeconfig") or given("context"):
        conn = from_kubeconfig(auth.get("kubeconfig"), auth.get("context"), environ, read, exists)
    else:
        conn = in_cluster(environ, read, exists)
        if conn is None:
            conn = from_kubeconfig(None, auth.get("context"), environ, read, exists)
    _override(conn, auth)
    if not conn.host:
        raise ConfigError("no Kubernetes API server is configured (host, kubeconfig or in-cluster)")
    return conn


def _override(conn, auth):
    if auth.get("host"):
        conn.host = auth["host"]
    if auth.get("api_key"):
        conn.headers["Authorization"] = "Bearer %s" % auth["api_key"]
    elif auth.get("username") and auth.get("password") and "Authorization" not in conn.headers:
        conn.headers["Authorization"] = _basic(auth["username"], auth["password"])
    if auth.get("verify_ssl") is not None:
        conn.verify = bool(auth["verify_ssl"])
    if auth.get("ssl_ca_cert"):
        conn.ca_file, conn.ca_data = auth["ssl_ca_cert"], None
    if auth.get("cert_file"):
        conn.cert_file, conn.cert_data = auth["cert_file"], None
    if auth.get("key_file"):
        conn.key_file, conn.key_data = auth["key_file"], None
    for name in ("proxy", "no_proxy"):
        if auth.get(name):
            setattr(conn, name, auth[name])
    if auth.get("proxy_headers"):
        conn.proxy_headers = proxy_headers(auth["proxy_headers"])
    if auth.get("impersonate_user"):
        conn.headers["Impersonate-User"] = auth["impersonate_user"]
    groups = auth.get("impersonate_groups")
    if groups:
        conn.groups = [groups] if isinstance(groups, str) else list(groups)


def _basic(user, password):
    return "Basic %s" % base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def proxy_headers(options):
    """urllib3's ``make_headers`` for the proxy options that are set."""
    headers = {}
    if options.get("proxy_basic_auth"):
        headers["proxy-authorization"] = (
            "Basic %s" % base64.b64encode(options["proxy_basic_auth"].encode()).decode()
        )
    if options.get("basic_auth"):
        headers["authorization"] = "Basic %s" % base64.b64encode(options["basic_auth"].encode()).decode()
    if options.get("user_agent"):
        headers["user-agent"] = options["user_agent"]
    return headers


def in_cluster(environ, read, exists):
    """The pod's service account (host from ``KUBERNETES_SERVICE_HOST``/``_PORT``), or None
    when this is not a pod with one."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token_file = SERVICE_ACCOUNT + "/token"
    ca_file = SERVICE_ACCOUNT + "/ca.crt"
    if not (host and port and exists(token_file) and exists(ca_file)):
        return None
    token = read(token_file).decode().strip()
    if not token:
        return None
    conn = Connection("https://%s:%s" % ("[%s]" % host if ":" in host else host, port))
    conn.headers["Authorization"] = "Bearer %s" % token
    conn.ca_file = ca_file
    return conn


def load_kubeconfig(kubeconfig, environ, read, exists):
    """``(config dict, base directory)``: a dict as given; else the files of a path (or of
    ``KUBECONFIG``, else ``~/.kube/config``), ``:``-separated, merged as the client merges
    them (the first file to name a cluster, user or context wins; the first
    ``current-context``). Raises ConfigError when no file has a configuration."""
    if isinstance(kubeconfig, dict):
        return kubeconfig, os.getcwd()
    import yaml  # PyYAML: a declared requirement, loaded only when a kubeconfig file is read

    spec = kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    merged, base = None, None
    for path in [p for p in spec.split(os.pathsep) if p]:
        path = os.path.expanduser(path)
        if not exists(path):
            continue
        try:
            data = yaml.safe_load(read(path)) or {}
        except yaml.YAMLError as exc:
            raise ConfigError("the kubeconfig %s is not YAML: %s" % (path, exc)) from None
        if not isinstance(data, dict):
            raise ConfigError("the kubeconfig %s is not a mapping" % path)
        if merged is None:
            merged, base = dict(data), os.path.dirname(os.path.abspath(path))
            for key in ("clusters", "users", "contexts"):
                merged[key] = list(data.get(key) or [])
            continue
        if not merged.get("current-context") and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        for key in ("clusters", "users", "contexts"):
            names = {item.get("name") for item in merged[key]}
            merged[key].extend(item for item in data.get(key) or [] if item.get("name") not in names)
    if merged is None:
        raise ConfigError("no kubeconfig was found at %s" % spec)
    return merged, base


def _named(config, key, name, what):
    for item in config.get(key) or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item.get(what.rstrip("s")) or {}
    raise ConfigError("the kubeconfig has no %s named %r" % (what.rstrip("s"), name))


def from_kubeconfig(kubeconfig, context, environ, read, exists):
    """The Connection of ``context`` (else the current context) of a kubeconfig."""
    config, base = load_kubeconfig(kubeconfig, environ, read, exists)
    name = context or config.get("current-context")
    if not name:
        raise ConfigError("the kubeconfig names no current-context and no context was given")
    ctx = _named(config, "contexts", name, "contexts")
    cluster = _named(config, "clusters", ctx.get("cluster"), "clusters") if ctx.get("cluster") else {}
    user = _named(config, "users", ctx.get("user"), "users") if ctx.get("user") else {}
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported):
            raise NeedsLibrary(
                "the kubeconfig user %r authenticates with %s" % (ctx.get("user"), unsupported)
            )
    if not cluster.get("server"):
        raise ConfigError("the kubeconfig's cluster %r has no server" % ctx.get("cluster"))

    def path(value):
        return value if os.path.isabs(value) else os.path.join(base, value)

    conn = Connection(str(cluster["server"]).rstrip("/"))
    if cluster.get("insecure-skip-tls-verify"):
        conn.verify = False
    if cluster.get("certificate-authority-data"):
        conn.ca_data = _b64(cluster["certificate-authority-data"], "certificate-authority-data").decode()
    elif cluster.get("certificate-authority"):
        conn.ca_file = path(cluster["certificate-authority"])
    conn.tls_server_name = cluster.get("tls-server-name")
    conn.proxy = cluster.get("proxy-url")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = read(path(user["tokenFile"])).decode().strip()
    if token:
        conn.headers["Authorization"] = "Bearer %s" % token
    elif user.get("username") and user.get("password"):
        conn.headers["Authorization"] = _basic(user["username"], user["password"])
    if user.get("client-certificate-data"):
        conn.cert_data = _b64(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        conn.cert_file = path(user["client-certificate"])
    if user.get("client-key-data"):
        conn.key_data = _b64(user["client-key-data"], "client-key-data")
    elif user.get("client-key"):
        conn.key_file = path(user["client-key"])
    return conn


def _b64(value, what):
    try:
        return base64.standard_b64decode(value)
    except (ValueError, TypeError):
        raise ConfigError("the kubeconfig's %s is not base64" % what) from None
