# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The ``prometheus`` option of the report modules that read Prometheus (the argument spec
    is monitoring/module.py PROMETHEUS_OPTIONS): its URL, or its Service through the Kubernetes
    API server's proxy, as multiagent.ops.prometheus_query reaches it."""

    DOCUMENTATION = r"""
options:
  prometheus:
    description:
      - How to reach Prometheus - O(prometheus.url) directly, or with
        O(prometheus.via=service_proxy) its Service through the Kubernetes API server (the
        module's own Kubernetes connection; no port-forward from outside the cluster), as
        M(multiagent.ops.prometheus_query) does.
    type: dict
    default: {}
    suboptions:
      via:
        description: How Prometheus is reached.
        type: str
        choices: [direct, service_proxy]
        default: direct
      url:
        description: Base URL of Prometheus (V(direct)), such as V(http://prometheus.monitoring.svc:9090).
        type: str
      namespace:
        description: Namespace of Prometheus's Service (V(service_proxy)).
        type: str
      service:
        description: Name of Prometheus's Service (V(service_proxy)).
        type: str
      port:
        description: Port (name or number) of the Service (V(service_proxy)).
        type: str
      scheme:
        description: Scheme the API server's proxy uses towards the Service's port.
        type: str
        choices: [http, https]
        default: http
      bearer_token:
        description: Bearer token (V(direct)); never logged.
        type: str
      username:
        description: User for basic authentication (V(direct)).
        type: str
      password:
        description: Password for basic authentication (V(direct)); never logged.
        type: str
      client_cert:
        description: Client certificate (PEM) for mutual TLS (V(direct)).
        type: path
      client_key:
        description: Key of O(prometheus.client_cert).
        type: path
      ca_cert:
        description: CA bundle that signs Prometheus's certificate.
        type: path
      validate_certs:
        description: Verify Prometheus's certificate.
        type: bool
        default: true
      timeout:
        description: Seconds each query may take.
        type: float
        default: 30
"""
