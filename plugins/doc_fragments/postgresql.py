# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """How the PostgreSQL modules reach the server: directly, or inside the database pod."""

    DOCUMENTATION = r"""
options:
  mode:
    description:
      - "C(direct): the tools run on the host that runs the module and connect to
        O(login_host):O(login_port) (a managed database, a Service reachable from the
        controller, or a port-forward). The password goes to libpq through a pgpass file in a
        private temporary directory, never on a command line."
      - "C(in_cluster): the tools run inside the PostgreSQL pod through the Kubernetes exec API
        and the data streams back (binary-safe, exit status checked), so client and server
        versions always match. The pod's own credentials are used (its environment such as
        C(PGPASSWORD)/C(PGUSER), or local socket trust); with O(login_password) a pgpass
        file is written through stdin into a private temporary file in the pod. The pod is
        found with the Kubernetes options (kubernetes.core's authentication options and
        O(api_timeout)); direct mode does not use them."
    type: str
    default: direct
    choices: [direct, in_cluster]
  login_host:
    description: Host of the server (direct mode).
    type: str
    default: localhost
  login_port:
    description: Port of the server (direct mode).
    type: int
    default: 5432
  login_user:
    description: Role to connect as; in-cluster, omit it to use the pod's C(PGUSER) or default.
    type: str
  login_password:
    description: Password of O(login_user). Never logged or shown.
    type: str
  ssl_mode:
    description: libpq C(sslmode) (direct mode).
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description: Seconds to wait for a connection.
    type: int
    default: 10
  maintenance_db:
    description: Database to connect to for server-wide work (listing databases, globals,
      creating and dropping databases).
    type: str
    default: postgres
  bin_dir:
    description:
      - Directory of pg_dump, pg_dumpall, pg_restore and psql (direct mode). Default the
        newest C(/usr/lib/postgresql/*/bin), then C(PATH). pg_dump must not be older than the server.
      - In-cluster, the tools are looked up on the pod's C(PATH).
    type: path
  namespace:
    description: Namespace of the database pod (in-cluster mode).
    type: str
  pod:
    description: Name of the database pod (in-cluster mode); or use O(pod_selector).
    type: str
  pod_selector:
    description: Label selector choosing the pod (in-cluster mode); the first running and
      ready pod, by name, is used. Select the primary (for example C(role=primary)).
    type: str
  container:
    description: Container of the pod that has the PostgreSQL tools (default its first).
    type: str
  exec_timeout:
    description: Seconds without any output after which an in-cluster stream is given up.
    type: int
    default: 600
"""
