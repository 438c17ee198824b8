# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """TLS to a Redis server, shared by the Redis backup and restore modules."""

    DOCUMENTATION = r"""
options:
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  tls_ca_cert:
    description: CA certificates to verify the server's certificate with (PEM); default the system's.
    type: path
  tls_client_cert:
    description: Client certificate (PEM) for servers that require one.
    type: path
  tls_client_key:
    description: Key of O(tls_client_cert) (PEM), when not in the same file.
    type: path
  validate_certs:
    description: Verify the server's TLS certificate and host name.
    type: bool
    default: true
"""
