# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """How a module that queries Prometheus reaches it: its URL, or its Service through the
    Kubernetes API server's proxy (the argument spec: monitoring/module.py CONNECTION_OPTIONS).
    prometheus_query and capacity_report take these as top-level options; the report modules
    that take them as one dict use the fragment multiagent.ops.prometheus."""

    DOCUMENTATION = r"""
options:
  via:
    description: How Prometheus is reached.
    type: str
    choices: [direct, service_proxy]
    default: direct
  url:
    description:
      - Prometheus's base URL, with its path prefix if it has one
        (C(https://prometheus.example.com/prometheus)). Required with O(via=direct).
    type: str
  namespace:
    description: Namespace of Prometheus's Service. Required with O(via=service_proxy).
    type: str
  service:
    description: Name of Prometheus's Service. Required with O(via=service_proxy).
    type: str
  port:
    description:
      - Port of the Service, by number or name (C(9090), C(http-web)); the Service's only
        port when unset. Used with O(via=service_proxy).
    type: str
  scheme:
    description: Scheme the API server's proxy uses towards the Service's port.
    type: str
    choices: [http, https]
    default: http
  prometheus_auth:
    description:
      - Authentication to Prometheus with O(via=direct). Named apart from the Kubernetes
        options (O(username), O(client_cert)...), which are the API server's.
    type: dict
    suboptions:
      bearer_token:
        description: "A bearer token, sent as C(Authorization: Bearer <token>)."
        type: str
      username:
        description: User name for basic authentication.
        type: str
      password:
        description: Password for basic authentication.
        type: str
      client_cert:
        description: Client certificate (PEM file) for mutual TLS; with O(prometheus_auth.client_key).
        type: path
      client_key:
        description: Private key (PEM file) of O(prometheus_auth.client_cert).
        type: path
      ca_cert:
        description: CA bundle (PEM file) that signed Prometheus's certificate.
        type: path
      validate_certs:
        description: Whether Prometheus's TLS certificate is verified.
        type: bool
        default: true
  timeout:
    description:
      - Seconds each query may take, also sent to Prometheus as its evaluation timeout.
      - With O(via=service_proxy) it never goes past O(api_timeout).
    type: float
    default: 30
  concurrency:
    description: How many queries are in flight at once (and connections kept open).
    type: int
    default: 10
"""
